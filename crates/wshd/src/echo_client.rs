//! `wshd client`: pywebsocket's `echo_client.py` on wshd's own client. It sends each
//! message, prints `Send: X` and `Recv: X`, then runs the closing handshake (`Send close`,
//! `Recv ack`; after a last `Goodbye` the server closes: `Recv close`, `Send ack`). The
//! exit status is 0 when every message was answered and the closing handshake was clean,
//! 1 otherwise, with the reason on stderr. It is a client for trying a server, not a test
//! suite: it does not compare what comes back with what it sent.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use wshd_server::client::{ClientConfig, ClientTls, connect};
use wshd_server::rustls::pki_types::CertificateDer;
use wshd_server::rustls::pki_types::pem::PemObject;
use wshd_server::{CloseCode, CloseFrame, Message, WebSocket};

/// The message after which the example echo handler closes the connection itself.
const GOODBYE: &str = "Goodbye";

/// `wshd client`'s options: `echo_client.py`'s, and what people need today.
#[derive(Parser, Debug)]
#[command(
    name = "wshd client",
    about = "Send messages to a WebSocket server and print what comes back (pywebsocket's echo_client.py)."
)]
struct ClientArgs {
    /// Server host.
    #[arg(
        short = 's',
        long = "server-host",
        visible_alias = "server_host",
        default_value = "localhost"
    )]
    server_host: String,
    /// Server port (default 80, or 443 with --tls).
    #[arg(short = 'p', long = "server-port", visible_alias = "server_port")]
    server_port: Option<u16>,
    /// The Origin header.
    #[arg(short = 'o', long)]
    origin: Option<String>,
    /// Resource path.
    #[arg(short = 'r', long, default_value = "/echo")]
    resource: String,
    /// Comma-separated messages to send. A last "Goodbye" asks the example echo handler
    /// to close the connection itself.
    #[arg(short = 'm', long, default_value = "Hello,日本")]
    message: String,
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Also print the subprotocol and extensions agreed, and the server's close code and
    /// reason.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Use TLS (wss://); the server's certificate must chain to --ca-file.
    #[arg(short = 't', long)]
    tls: bool,
    /// The CA certificates (PEM) that the server's certificate must chain to (with --tls).
    #[arg(long = "ca-file", visible_alias = "ca_file")]
    ca_file: Option<PathBuf>,
    /// Seconds allowed for connecting and the handshake, for each answer, and for the
    /// closing handshake.
    #[arg(
        short = 'k',
        long = "socket-timeout",
        visible_alias = "socket_timeout",
        default_value_t = 10.0
    )]
    socket_timeout: f64,
    /// Offer permessage-deflate.
    #[arg(long = "use-permessage-deflate", visible_alias = "use_permessage_deflate")]
    use_permessage_deflate: bool,
    /// hybi13 (RFC 6455) or hybi00 (hixie-76, for legacy servers).
    #[arg(long = "protocol-version", visible_alias = "protocol_version", default_value = "hybi13",
          value_parser = ["hybi13", "hybi00"])]
    protocol_version: String,
    /// Comma-separated subprotocols to offer (HyBi 00 sends the first only).
    #[arg(long)]
    protocols: Option<String>,
    /// Send the messages as binary messages (RFC 6455 only).
    #[arg(long)]
    binary: bool,
    /// The close code to send (1000, or 3000 to 4999).
    #[arg(long = "close-code", visible_alias = "close_code", default_value_t = 1000)]
    close_code: u16,
    /// The close reason to send.
    #[arg(long = "close-reason", visible_alias = "close_reason", default_value = "")]
    close_reason: String,
}

/// Runs `wshd client ARGS...` (`argv[0]` is `client`); returns the exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    let args = ClientArgs::try_parse_from(argv).unwrap_or_else(|e| e.exit());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(why: &str) -> std::process::ExitCode {
    eprintln!("wshd client: {why}");
    std::process::ExitCode::FAILURE
}

async fn run(args: &ClientArgs) -> Result<(), String> {
    let hybi00 = args.protocol_version == "hybi00";
    if hybi00 && (args.binary || args.use_permessage_deflate) {
        return Err("HyBi 00 has no binary messages and no extensions".into());
    }
    if !(1000..5000).contains(&args.close_code) || (1004..=1006).contains(&args.close_code) {
        return Err(format!("--close-code {} cannot be sent", args.close_code));
    }
    let timeout = Duration::try_from_secs_f64(args.socket_timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or("--socket-timeout must be a positive number of seconds")?;
    let tls = match (args.tls, &args.ca_file) {
        (false, None) => None,
        (false, Some(_)) => return Err("--ca-file is for --tls".into()),
        (true, None) => return Err("--tls needs --ca-file: the CAs to trust (PEM)".into()),
        (true, Some(path)) => Some(client_tls(path)?),
    };
    let port = args.server_port.unwrap_or(if args.tls { 443 } else { 80 });
    let host = format!("{}:{port}", args.server_host);
    let addr = tokio::net::lookup_host(&host)
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let config = ClientConfig {
        protocols: args
            .protocols
            .as_deref()
            .map(|p| p.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default(),
        extensions: args.use_permessage_deflate.then(|| "permessage-deflate".into()),
        origin: args.origin.clone(),
        handshake_timeout: timeout,
        close_timeout: timeout,
        tls,
        hybi00,
        ..ClientConfig::default()
    };
    let (mut ws, accepted) =
        connect(addr, Some(&host), &args.resource, &config).await.map_err(|e| {
            format!(
                "cannot open ws{}://{host}{}: {e}",
                if args.tls { "s" } else { "" },
                args.resource
            )
        })?;
    if args.verbose {
        println!("Protocol: {}", accepted.protocol.as_deref().unwrap_or("(none)"));
        println!("Extensions: {}", ws.extensions().unwrap_or("(none)"));
    }
    let messages: Vec<&str> = args.message.split(',').collect();
    for message in &messages {
        let sent = if args.binary {
            ws.send_binary(message.as_bytes()).await
        } else {
            ws.send_text(message).await
        };
        sent.map_err(|e| format!("cannot send {message:?}: {e}"))?;
        say(args, &format!("Send: {message}"));
        match tokio::time::timeout(timeout, ws.recv()).await {
            Ok(Ok(Some(Message::Text(text)))) => say(args, &format!("Recv: {text}")),
            Ok(Ok(Some(Message::Binary(bytes)))) => {
                say(args, &format!("Recv: {}", String::from_utf8_lossy(&bytes)));
            }
            Ok(Ok(None)) => {
                return Err(format!("the server closed instead of answering: {}", closed(&ws)));
            }
            Ok(Err(e)) => return Err(format!("no answer: {e}")),
            Err(_) => return Err(format!("no answer within {timeout:?}")),
        }
    }
    close(args, &mut ws, messages.last() == Some(&GOODBYE), timeout).await
}

/// The closing handshake: ours, or the server's after a last `Goodbye`.
async fn close(
    args: &ClientArgs,
    ws: &mut WebSocket,
    goodbye: bool,
    timeout: Duration,
) -> Result<(), String> {
    if goodbye {
        match tokio::time::timeout(timeout, ws.recv()).await {
            Ok(Ok(None)) => {
                say(args, "Recv close");
                say(args, "Send ack");
                if args.verbose {
                    println!("Close: {}", closed(ws));
                }
                return Ok(());
            }
            Ok(Ok(Some(_))) => {}
            Ok(Err(e)) => return Err(format!("waiting for the server's close: {e}")),
            Err(_) => return Err(format!("the server did not close within {timeout:?}")),
        }
    }
    say(args, "Send close");
    let frame = CloseFrame::new(CloseCode(args.close_code), &args.close_reason);
    ws.close(Some(frame)).await.map_err(|e| format!("closing handshake: {e}"))?;
    say(args, "Recv ack");
    if args.verbose {
        println!("Close: {}", closed(ws));
    }
    Ok(())
}

/// The server's close code and reason, as the client saw them.
fn closed(ws: &WebSocket) -> String {
    match ws.peer_close() {
        Some(frame) => format!("{} {}", frame.code.0, frame.reason).trim_end().to_owned(),
        None => "no code".into(),
    }
}

fn say(args: &ClientArgs, line: &str) {
    if !args.quiet {
        println!("{line}");
    }
}

fn client_tls(path: &PathBuf) -> Result<ClientTls, String> {
    let roots = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read CA certificates from {}: {e}", path.display()))?;
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    ClientTls::new(&roots, None).map_err(|e| format!("{}: {e}", path.display()))
}
