//! [`HostedServer`] (`wshd._native.Server`): one `WebSocketServer` of the installed
//! `pywebsocket3.standalone`, as Python sees it: built with its handler tree loaded and
//! its sockets listening (as pywebsocket's constructor does), then `serve_forever`,
//! `shutdown` and `close`, with socketserver's meaning.
//!
//! It owns a tokio runtime of its own. `serve_forever` runs the servers on it with the GIL
//! released, waking every `poll_interval` to run Python's signal handlers, so Ctrl-C
//! reaches a harness whose main thread serves. It parses no options: the Python side
//! passes checked values.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use wshd_server::tls::{ClientAuth, TlsConfig, read_certificates};
use wshd_server::{Config, HttpConfig, Server, Shutdown, memory};

use crate::{HandlerTree, LoadOptions};

/// Where a hosted server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Bound, not serving yet.
    Bound,
    Serving,
    /// `serve_forever` returned, or the server was closed before it ran.
    Done,
}

/// A wshd server inside a Python program; see the module documentation.
#[pyclass(module = "wshd._native", name = "Server")]
pub struct HostedServer {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    servers: Mutex<Option<Vec<Server>>>,
    /// Per listening socket: its file descriptor and bound address.
    listening: Vec<(i32, SocketAddr)>,
    shutdown: Shutdown,
    phase: Arc<(Mutex<Phase>, Condvar)>,
}

/// TLS settings as the Python side passes them (`client_auth`: "off", "optional" or
/// "required").
fn tls_config(
    certificate: Option<PathBuf>,
    private_key: Option<PathBuf>,
    client_auth: &str,
    client_ca: Option<PathBuf>,
) -> PyResult<Option<TlsConfig>> {
    let (certificate, private_key) = match (certificate, private_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => {
            return Err(PyValueError::new_err(
                "TLS needs both a certificate and a private key (PEM files)",
            ));
        }
    };
    let cas = |ca: Option<PathBuf>| -> PyResult<_> {
        let ca = ca.ok_or_else(|| {
            PyValueError::new_err(
                "TLS client authentication needs the PEM bundle of the CAs (tls_client_ca)",
            )
        })?;
        read_certificates(&ca).map_err(|e| PyValueError::new_err(format!("tls_client_ca {e}")))
    };
    let client_auth = match client_auth {
        "off" => ClientAuth::Off,
        "optional" => ClientAuth::Optional(cas(client_ca)?),
        "required" => ClientAuth::Required(cas(client_ca)?),
        other => {
            return Err(PyValueError::new_err(format!(
                "client_auth is {other:?}; expected 'off', 'optional' or 'required'"
            )));
        }
    };
    TlsConfig::from_pem_files(&certificate, &private_key, client_auth)
        .map(Some)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Refuses a number of seconds outside 0 (or, without `zero_ok`, just above 0) to 86400.
fn seconds(name: &str, value: f64, zero_ok: bool) -> PyResult<()> {
    let low_ok = if zero_ok { value >= 0.0 } else { value > 0.0 };
    if low_ok && value <= 86_400.0 {
        return Ok(());
    }
    let low = if zero_ok { "0" } else { "more than 0" };
    Err(PyValueError::new_err(format!("{name} is {value}; expected {low} to 86400 seconds")))
}

#[pymethods]
impl HostedServer {
    /// Loads the handler tree and binds `addresses` (`(ip, port)` pairs; a port of 0 on the
    /// first picks a free one that the others share). Relative paths are relative to the
    /// current directory.
    #[new]
    #[pyo3(signature = (
        addresses, handler_root, *, scan_dir=None, allow_handlers_outside_root=false,
        handler_encoding=None, map_file=None, document_root=None, cgi_paths=Vec::new(),
        basic_auth=None, certificate=None, private_key=None, client_auth="off",
        client_ca=None, validation_host=None, validation_port=None, backlog=128,
        reuse_port=false, shutdown_timeout=5.0, unsupported_frame_close_code=1002,
        strict_extra_headers=false, threads=None, ping_interval=None, ping_timeout=20.0,
        trusted_proxies=Vec::new(), allow_hybi00=false, send_timeout=30.0, idle_timeout=None,
        memory_trim_interval=10.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        addresses: Vec<(String, u16)>,
        handler_root: PathBuf,
        scan_dir: Option<PathBuf>,
        allow_handlers_outside_root: bool,
        handler_encoding: Option<String>,
        map_file: Option<PathBuf>,
        document_root: Option<PathBuf>,
        cgi_paths: Vec<String>,
        basic_auth: Option<String>,
        certificate: Option<PathBuf>,
        private_key: Option<PathBuf>,
        client_auth: &str,
        client_ca: Option<PathBuf>,
        validation_host: Option<String>,
        validation_port: Option<u16>,
        backlog: u32,
        reuse_port: bool,
        shutdown_timeout: f64,
        unsupported_frame_close_code: u16,
        strict_extra_headers: bool,
        threads: Option<usize>,
        ping_interval: Option<f64>,
        ping_timeout: f64,
        trusted_proxies: Vec<String>,
        allow_hybi00: bool,
        send_timeout: f64,
        idle_timeout: Option<f64>,
        memory_trim_interval: f64,
    ) -> PyResult<Self> {
        let addrs = addresses
            .iter()
            .map(|(ip, port)| {
                let ip = ip.split('%').next().unwrap_or(ip);
                ip.parse().map(|ip| SocketAddr::new(ip, *port)).map_err(|_| {
                    PyValueError::new_err(format!("{ip:?} is not an IP address to listen on"))
                })
            })
            .collect::<PyResult<Vec<SocketAddr>>>()?;
        seconds("shutdown_timeout", shutdown_timeout, true)?;
        if let Some(interval) = ping_interval {
            seconds("ping_interval", interval, false)?;
        }
        seconds("ping_timeout", ping_timeout, false)?;
        seconds("send_timeout", send_timeout, true)?;
        if let Some(idle) = idle_timeout {
            seconds("idle_timeout", idle, false)?;
        }
        seconds("memory_trim_interval", memory_trim_interval, true)?;
        let trusted_proxies = trusted_proxies
            .iter()
            .map(|p| p.parse::<wshd_server::TrustedProxy>().map_err(PyValueError::new_err))
            .collect::<PyResult<Vec<_>>>()?;
        if !matches!(unsupported_frame_close_code, 1002 | 1003) {
            return Err(PyValueError::new_err("unsupported_frame_close_code must be 1002 or 1003"));
        }
        let tls = tls_config(certificate, private_key, client_auth, client_ca)?;
        let options = LoadOptions {
            root: handler_root,
            scan_dir,
            allow_handlers_outside_root,
            encoding: handler_encoding,
            map_file,
        };
        let (tree, _warnings) =
            HandlerTree::load(&options).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let config = Config {
            validation_host,
            validation_port,
            unsupported_frame_close_code,
            tls,
            http: HttpConfig {
                document_root,
                cgi_paths: cgi_paths.into_iter().filter(|p| !p.is_empty()).collect(),
                basic_auth,
                ..HttpConfig::default()
            },
            backlog,
            reuse_port,
            shutdown_timeout: Duration::from_secs_f64(shutdown_timeout),
            ping_interval: ping_interval.map(Duration::from_secs_f64),
            ping_timeout: Duration::from_secs_f64(ping_timeout),
            send_timeout: Some(send_timeout).filter(|s| *s > 0.0).map(Duration::from_secs_f64),
            idle_timeout: idle_timeout.map(Duration::from_secs_f64),
            trusted_proxies,
            allow_hybi00,
            ..Config::default()
        };
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.enable_all().thread_name("wshd");
        if let Some(threads) = threads {
            builder.worker_threads(threads.max(1));
        }
        let runtime = builder.build()?;
        let router = tree.router(strict_extra_headers);
        let servers = py.detach(|| runtime.block_on(Server::bind_all(&addrs, router, config)));
        let servers = servers.map_err(|e| PyOSError::new_err(e.to_string()))?;
        let shutdown = servers[0].shutdown_handle();
        if memory_trim_interval > 0.0 {
            let every = Duration::from_secs_f64(memory_trim_interval);
            runtime.spawn(memory::release_after_connections_end(shutdown.clone(), every));
        }
        let listening = servers
            .iter()
            .map(|s| Ok((s.as_fd().as_raw_fd(), s.local_addr()?)))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(HostedServer {
            shutdown,
            runtime: Mutex::new(Some(runtime)),
            servers: Mutex::new(Some(servers)),
            listening,
            phase: Arc::new((Mutex::new(Phase::Bound), Condvar::new())),
        })
    }

    /// `(fd, (ip, port))` of each listening socket; the fds stay wshd's (duplicate them).
    fn listening(&self) -> Vec<(i32, (String, u16))> {
        self.listening
            .iter()
            .map(|(fd, addr)| (*fd, (addr.ip().to_string(), addr.port())))
            .collect()
    }

    /// The number of WebSocket connections open now.
    fn active_connections(&self) -> usize {
        self.shutdown.active_connections()
    }

    /// Serves until [`shutdown`](Self::shutdown), or until a Python signal handler raises
    /// (Ctrl-C's `KeyboardInterrupt`), which shuts the server down and is then raised
    /// here. Signal handlers run every `poll_interval` seconds. Callable once.
    #[pyo3(signature = (poll_interval=0.5))]
    fn serve_forever(&self, py: Python<'_>, poll_interval: f64) -> PyResult<()> {
        let servers = self.servers.lock().expect("not poisoned").take().ok_or_else(|| {
            PyRuntimeError::new_err("this server already served, or was closed; make a new one")
        })?;
        let poll = Duration::from_secs_f64(poll_interval.clamp(0.01, 3600.0));
        self.set_phase(Phase::Serving);
        let handle = self.runtime_handle()?;
        let shutdown = self.shutdown.clone();
        let result = py.detach(move || {
            handle.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                for server in servers {
                    tasks.spawn(server.run());
                }
                let mut raised = None;
                let mut ticker = tokio::time::interval(poll);
                loop {
                    tokio::select! {
                        ended = tasks.join_next() => match ended {
                            None => break,
                            Some(Ok(Ok(()))) => {}
                            Some(Ok(Err(e))) => tracing::error!("a listener failed: {e}"),
                            Some(Err(e)) => tracing::error!("a listener's task failed: {e}"),
                        },
                        _ = ticker.tick(), if raised.is_none() => {
                            if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
                                shutdown.trigger();
                                raised = Some(e);
                            }
                        }
                    }
                }
                raised.map_or(Ok(()), Err)
            })
        });
        self.set_phase(Phase::Done);
        result
    }

    /// Stops a `serve_forever` running on another thread and waits until it has returned:
    /// listeners closed, open WebSockets sent 1001 and given the shutdown timeout to
    /// close. Returns at once if the server is not serving.
    fn shutdown(&self, py: Python<'_>) {
        self.shutdown.trigger();
        let phase = self.phase.clone();
        py.detach(move || {
            let (lock, serving_ended) = &*phase;
            let mut current = lock.lock().expect("not poisoned");
            while *current == Phase::Serving {
                current = serving_ended.wait(current).expect("not poisoned");
            }
        });
    }

    /// Closes the listening sockets if the server never served, and stops what is left of
    /// its connections (threads of handlers still running are not waited for).
    fn close(&self, py: Python<'_>) {
        let servers = self.servers.lock().expect("not poisoned").take();
        if *self.phase.0.lock().expect("not poisoned") == Phase::Serving {
            // Closing under a running serve_forever: stop it first.
            self.shutdown(py);
        }
        drop(servers);
        self.set_phase(Phase::Done);
        if let Some(runtime) = self.runtime.lock().expect("not poisoned").take() {
            py.detach(|| runtime.shutdown_background());
        }
    }
}

impl HostedServer {
    fn set_phase(&self, phase: Phase) {
        let (lock, changed) = &*self.phase;
        *lock.lock().expect("not poisoned") = phase;
        changed.notify_all();
    }

    fn runtime_handle(&self) -> PyResult<tokio::runtime::Handle> {
        self.runtime
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| PyRuntimeError::new_err("this server was closed"))
    }
}

impl Drop for HostedServer {
    fn drop(&mut self) {
        if let Ok(mut runtime) = self.runtime.lock()
            && let Some(runtime) = runtime.take()
        {
            // Not waiting: a worker may be waiting for the GIL this thread holds.
            runtime.shutdown_background();
        }
    }
}
