//! nginx and Apache started for a test or a benchmark from a configuration generated
//! here, on a free loopback port, as an unprivileged run would start them (no system
//! service): in front of a running wshd as a reverse proxy, or hosting wshd's Python
//! package through mod_python. The configurations are the ones docs/deployment.md
//! shows, with the paths and timeouts a run needs. Not a deployment tool: nothing here
//! installs the servers (conformance/proxies/run.sh does) or tunes them for production.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::files::TempTree;
use crate::process::wait_for;

/// Debian's Apache modules.
const MODULES: &str = "/usr/lib/apache2/modules";

/// What runs, and what it serves.
#[derive(Debug, Clone, Copy)]
pub enum Layout<'a> {
    /// nginx proxying to the wshd at this address.
    Nginx(SocketAddr),
    /// Apache's `mod_proxy_wstunnel` proxying to the wshd at this address.
    ApacheWstunnel(SocketAddr),
    /// Apache's `mod_proxy_http` with `upgrade=websocket` proxying to this address.
    ApacheHttpUpgrade(SocketAddr),
    /// wshd inside Apache through mod_python, configured as pywebsocket was.
    InApache {
        /// The handler root (`mod_pywebsocket.handler_root`).
        handlers: &'a Path,
        /// A directory holding wshd's Python package (`PythonPath`).
        python_path: &'a Path,
    },
}

impl Layout<'_> {
    /// The server's program, for messages.
    fn program(&self) -> &'static str {
        match self {
            Layout::Nginx(_) => "nginx",
            _ => "apache2",
        }
    }
}

/// Apache's multi-processing module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mpm {
    /// Threads in several processes, a listener thread per process (Debian's default).
    #[default]
    Event,
    /// Threads in several processes, without the listener thread.
    Worker,
    /// One process per connection, no threads.
    Prefork,
}

/// How to start a [`Layout`].
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// A PEM certificate chain and its key, to serve wss (TLS ends at nginx or Apache).
    pub tls: Option<(&'a str, &'a str)>,
    /// The proxies' timeout for a connection that carries nothing (nginx's
    /// `proxy_read_timeout`, Apache's `Timeout`, `ProxyTimeout` and `timeout=`); `None`
    /// keeps each server's default (60 s).
    pub idle: Option<Duration>,
    /// Apache's MPM (nginx has none).
    pub mpm: Mpm,
    /// Where the configuration, certificate and logs go, and stay; `None` for a scratch
    /// directory removed when the server stops.
    pub dir: Option<PathBuf>,
    /// Lines appended to Apache's configuration (nginx ignores them).
    pub apache_directives: Vec<String>,
}

/// The directory a [`Front`] keeps its files in.
#[derive(Debug)]
enum Dir {
    Scratch(TempTree),
    Kept(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Dir::Scratch(tree) => tree.path(),
            Dir::Kept(path) => path,
        }
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        let path = self.path().join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// A running nginx or Apache, stopped when dropped.
#[derive(Debug)]
pub struct Front {
    child: Child,
    addr: SocketAddr,
    dir: Dir,
}

impl Front {
    /// Writes the configuration of `layout`, starts the server and waits until it
    /// listens. Panics, with the server's error log, if it exits or does not listen
    /// within [`crate::process::PATIENCE`].
    pub fn start(layout: Layout<'_>, options: &Options<'_>) -> Front {
        let dir = match &options.dir {
            Some(path) => {
                std::fs::create_dir_all(path)
                    .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
                Dir::Kept(std::fs::canonicalize(path).expect("the directory exists"))
            }
            None => Dir::Scratch(TempTree::empty(layout.program())),
        };
        if let Some((cert, key)) = options.tls {
            dir.write("cert.pem", cert);
            dir.write("key.pem", key);
        }
        let port = free_port();
        let mut command = match layout {
            Layout::Nginx(upstream) => {
                dir.write("nginx.conf", nginx_conf(dir.path(), port, upstream, options));
                let d = dir.path().display().to_string();
                let mut c = Command::new("nginx");
                c.args(["-p", &d, "-c", &format!("{d}/nginx.conf")]);
                c
            }
            _ => {
                dir.write("httpd.conf", apache_conf(dir.path(), port, layout, options));
                let mut c = Command::new("apache2");
                c.arg("-f").arg(dir.path().join("httpd.conf")).arg("-DFOREGROUND");
                // mod_python's interpreter finds its standard library from the first
                // `python3` on PATH: a caller's virtualenv or pyenv build there would
                // take the place of the Python it was built for, without mod_python.
                c.env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
                    .env_remove("PYTHONHOME")
                    .env_remove("PYTHONPATH");
                // prefork's parent stops its children with a SIGTERM to its whole
                // process group, which would take the caller with it. The other MPMs
                // stay in the caller's group, so that a signal to it reaches Apache.
                if options.mpm == Mpm::Prefork {
                    use std::os::unix::process::CommandExt;
                    c.process_group(0);
                }
                c
            }
        };
        let mut child = command.stdin(Stdio::null()).spawn().unwrap_or_else(|e| {
            panic!(
                "{} does not start ({e}); conformance/proxies/run.sh installs it",
                layout.program()
            )
        });
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // Listening, or exited (a configuration it refused): whichever comes first.
        let up = wait_for(|| match child.try_wait() {
            Ok(Some(status)) => Some(Err(status)),
            _ => TcpStream::connect(addr).ok().map(Ok),
        });
        let front = Front { child, addr, dir };
        assert!(
            matches!(up, Some(Ok(_))),
            "{} is not listening on {addr} ({up:?}); its error log:\n{}",
            layout.program(),
            front.error_log()
        );
        front
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Waits until the server exits by itself.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("waiting for the server")
    }
}

impl Drop for Front {
    /// SIGTERM first: both servers then stop their worker processes (a SIGKILL to the
    /// parent would leave them running).
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-s", "TERM", &pid]).status();
        if wait_for(|| self.child.try_wait().ok().flatten()).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nothing listens on right now (neither server can be told to pick one).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn nginx_conf(dir: &Path, port: u16, upstream: SocketAddr, options: &Options<'_>) -> String {
    let d = dir.display();
    let ssl = if options.tls.is_some() {
        format!(" ssl;\n    ssl_certificate {d}/cert.pem;\n    ssl_certificate_key {d}/key.pem")
    } else {
        String::new()
    };
    let timeouts = options.idle.map_or(String::new(), |idle| {
        let s = idle.as_secs().max(1);
        format!("      proxy_read_timeout {s}s;\n      proxy_send_timeout {s}s;\n")
    });
    // As root, nginx would switch its worker to `nobody`, which cannot read the
    // directory's files; an unprivileged run keeps its own user either way.
    let user = if running_as_root() { "user root;\n" } else { "" };
    format!(
        "{user}daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
         server {{\n    listen 127.0.0.1:{port}{ssl};\n    location / {{\n\
         proxy_pass http://{upstream};\n      proxy_http_version 1.1;\n\
         proxy_set_header Upgrade $http_upgrade;\n\
         proxy_set_header Connection $connection_upgrade;\n\
         proxy_set_header Host $host;\n\
         proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         {timeouts}      proxy_buffering off;\n    }}\n  }}\n}}\n"
    )
}

fn apache_conf(dir: &Path, port: u16, layout: Layout<'_>, options: &Options<'_>) -> String {
    let d = dir.display();
    let m = MODULES;
    let mpm = match options.mpm {
        Mpm::Event => "event",
        Mpm::Worker => "worker",
        Mpm::Prefork => "prefork",
    };
    let mut conf = format!(
        "ServerName localhost\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\n\
         ErrorLog {d}/error.log\nLogLevel warn\nDefaultRuntimeDir {d}\n\
         LoadModule mpm_{mpm}_module {m}/mod_mpm_{mpm}.so\n\
         LoadModule authz_core_module {m}/mod_authz_core.so\n"
    );
    if let Some(idle) = options.idle {
        conf.push_str(&format!("Timeout {}\n", idle.as_secs().max(1)));
    }
    if running_as_root() {
        conf.push_str("User www-data\nGroup www-data\n");
    }
    if options.tls.is_some() {
        conf.push_str(&format!(
            "LoadModule ssl_module {m}/mod_ssl.so\nSSLEngine on\n\
             SSLCertificateFile {d}/cert.pem\nSSLCertificateKeyFile {d}/key.pem\n"
        ));
    }
    // The tunnel's idle timeout, for the two proxy layouts.
    let timeout = options.idle.map_or(String::new(), |idle| {
        let s = idle.as_secs().max(1);
        format!("ProxyTimeout {s}\n")
    });
    let param =
        options.idle.map_or(String::new(), |idle| format!(" timeout={}", idle.as_secs().max(1)));
    let proxy_modules = format!(
        "LoadModule proxy_module {m}/mod_proxy.so\n\
         LoadModule proxy_http_module {m}/mod_proxy_http.so\n{timeout}"
    );
    match layout {
        Layout::ApacheWstunnel(upstream) => conf.push_str(&format!(
            "{proxy_modules}LoadModule proxy_wstunnel_module {m}/mod_proxy_wstunnel.so\n\
             ProxyWebsocketFallbackToProxyHttp Off\nProxyPass / ws://{upstream}/{param}\n"
        )),
        Layout::ApacheHttpUpgrade(upstream) => conf.push_str(&format!(
            "{proxy_modules}ProxyPass / http://{upstream}/ upgrade=websocket{param}\n"
        )),
        Layout::InApache { handlers, python_path } => {
            let (h, p) = (handlers.display(), python_path.display());
            conf.push_str(&format!(
                "LoadModule python_module {m}/mod_python.so\n\
                 PythonPath \"sys.path+['{p}']\"\nPythonInterpreter main_interpreter\n\
                 PythonOption mod_pywebsocket.handler_root {h}\n\
                 PythonOption mod_pywebsocket.handler_scan {h}\n\
                 PythonOption mod_pywebsocket.allow_handlers_outside_root_dir On\n\
                 PythonHeaderParserHandler mod_pywebsocket.headerparserhandler\n"
            ));
        }
        Layout::Nginx(_) => unreachable!("nginx has a configuration of its own"),
    }
    for line in &options.apache_directives {
        conf.push_str(line);
        conf.push('\n');
    }
    conf
}
