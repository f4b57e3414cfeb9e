//! wshd's log (tracing events of every wshd crate) into Python `logging`, for wshd running
//! inside a Python program: a record of target `wshd_server::accept` goes to the Python
//! logger `wshd.server.accept`, so the host's logging configuration (WPT's, or the one
//! `standalone._main` sets up from `--log-level`) decides where it goes.
//!
//! Levels: ERROR 40, WARN 30, INFO 20, DEBUG 10, TRACE 9 (pywebsocket's FINE). The most
//! verbose level forwarded is set from Python ([`set_log_level`], called by
//! `WebSocketServer` with the `wshd` logger's effective level), so a debug event costs an
//! atomic load, not the GIL, unless Python asked for debug records. It is not the reverse
//! bridge (`crate::logging`, for the embedded interpreter), and configures no output.

use std::fmt::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// The lowest Python level forwarded (WARNING until Python says otherwise).
static PYTHON_LEVEL: AtomicI32 = AtomicI32::new(30);

/// Forwards records at or above the Python level `level` (numeric, as `logging.INFO`)
/// to Python `logging`; installs the forwarding on first use. If another tracing
/// subscriber was installed first in this process, that one keeps the records.
#[pyfunction]
pub fn set_log_level(level: i32) {
    PYTHON_LEVEL.store(level, Ordering::Relaxed);
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(PythonLogging);
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            eprintln!("wshd: a tracing subscriber was already installed; wshd's log stays with it");
        }
    });
}

fn python_level(level: &Level) -> i32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 9,
    }
}

/// `wshd_server::accept` -> `wshd.server.accept`; other targets keep their path with dots.
fn logger_name(target: &str) -> String {
    let dotted = target.replace("::", ".");
    match dotted.strip_prefix("wshd_") {
        Some(rest) => format!("wshd.{rest}"),
        None => dotted,
    }
}

struct PythonLogging;

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn register_callsite(
        &self,
        _metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // The level can change at run time, so every callsite asks `enabled`.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= PYTHON_LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let level = python_level(event.metadata().level());
        let name = logger_name(event.metadata().target());
        // Not while the interpreter is finalizing or gone (a connection thread logging at
        // exit): the record is dropped then.
        Python::try_attach(|py| {
            let logged = py
                .import("logging")
                .and_then(|logging| logging.call_method1("getLogger", (name,)))
                .and_then(|logger| logger.call_method1("log", (level, "%s", text.0)));
            if let Err(e) = logged {
                e.print(py);
            }
        });
    }
}

/// The event's message, then its other fields as ` key=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_become_dotted_logger_names_under_wshd() {
        assert_eq!(logger_name("wshd_server::accept"), "wshd.server.accept");
        assert_eq!(logger_name("wshd_python::loader"), "wshd.python.loader");
        assert_eq!(logger_name("wshd::monitor"), "wshd.monitor");
        assert_eq!(logger_name("rustls::server"), "rustls.server");
    }

    #[test]
    fn levels_map_to_python_numbers() {
        assert_eq!(python_level(&Level::ERROR), 40);
        assert_eq!(python_level(&Level::TRACE), 9);
    }
}
