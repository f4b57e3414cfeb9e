//! `wshd-deploy`: starts nginx or Apache from a generated configuration for a script
//! that measures or tests wshd behind them (Autobahn, the benchmarks), and prints
//! `listening on ADDR` as wshd does. Not a deployment tool: see docs/deployment.md.
//!
//! ```text
//! wshd-deploy nginx|apache-wstunnel|apache-http --dir DIR [--idle SECS] [--mpm M] -- WSHD...
//! wshd-deploy in-apache --dir DIR --handlers DIR --python-path DIR [--idle SECS] [--mpm M]
//! ```
//!
//! A proxy layout first runs the wshd command after `--` (it must print `listening on
//! ADDR`) and puts the proxy in front of it; `in-apache` runs no wshd process. It runs
//! until wshd or Apache exits, or until its process group is sent SIGTERM (nginx and
//! Apache then stop their workers). The configuration and logs stay in `--dir`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use wshd_testkit::deploy::{Front, Layout, Mpm, Options};
use wshd_testkit::process::ServerProcess;

const USAGE: &str = "usage: wshd-deploy nginx|apache-wstunnel|apache-http --dir DIR \
[--idle SECS] [--mpm event|worker] -- WSHD COMMAND...\n       wshd-deploy in-apache --dir DIR \
--handlers DIR --python-path DIR [--idle SECS] [--mpm event|worker]";

#[derive(Default)]
struct Args {
    layout: String,
    dir: Option<PathBuf>,
    idle: Option<Duration>,
    mpm: Mpm,
    handlers: Option<PathBuf>,
    python_path: Option<PathBuf>,
    wshd: Vec<String>,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args { layout: argv.next().ok_or("no layout given")?, ..Args::default() };
    while let Some(flag) = argv.next() {
        if flag == "--" {
            args.wshd = argv.by_ref().collect();
            break;
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--dir" => args.dir = Some(value.into()),
            "--handlers" => args.handlers = Some(value.into()),
            "--python-path" => args.python_path = Some(value.into()),
            "--idle" => {
                let secs = value.parse().map_err(|_| format!("--idle {value}: not seconds"))?;
                args.idle = Some(Duration::from_secs(secs));
            }
            "--mpm" => {
                args.mpm = match value.as_str() {
                    "event" => Mpm::Event,
                    "worker" => Mpm::Worker,
                    _ => return Err(format!("--mpm {value}: event or worker")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.dir.is_none() {
        return Err("--dir is required: the configuration and logs stay there".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("wshd-deploy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let options =
        Options { idle: args.idle, mpm: args.mpm, dir: args.dir.clone(), ..Options::default() };
    if args.layout == "in-apache" {
        let (Some(handlers), Some(python_path)) = (&args.handlers, &args.python_path) else {
            eprintln!("wshd-deploy: in-apache needs --handlers and --python-path\n{USAGE}");
            return ExitCode::from(2);
        };
        let mut apache = Front::start(Layout::InApache { handlers, python_path }, &options);
        announce(&apache);
        let status = apache.wait();
        eprintln!("wshd-deploy: Apache exited ({status}); its error log:\n{}", apache.error_log());
        return ExitCode::FAILURE;
    }
    let Some((program, rest)) = args.wshd.split_first() else {
        eprintln!("wshd-deploy: {} needs the wshd command after --\n{USAGE}", args.layout);
        return ExitCode::from(2);
    };
    let mut wshd = ServerProcess::spawn(Command::new(program).args(rest));
    let layout = match args.layout.as_str() {
        "nginx" => Layout::Nginx(wshd.addr),
        "apache-wstunnel" => Layout::ApacheWstunnel(wshd.addr),
        "apache-http" => Layout::ApacheHttpUpgrade(wshd.addr),
        other => {
            eprintln!("wshd-deploy: unknown layout {other}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let front = Front::start(layout, &options);
    announce(&front);
    let status = wshd.child.wait().expect("waiting for wshd");
    eprintln!("wshd-deploy: wshd exited ({status})");
    drop(front);
    ExitCode::FAILURE
}

/// The line scripts wait for, as wshd prints it.
fn announce(front: &Front) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", front.addr());
    let _ = out.flush();
}
