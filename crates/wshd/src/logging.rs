//! wshd's log: pywebsocket-style one-line records, to stderr or a size-rotated file.
//!
//! A record reads `[2026-11-24 07:12:07,123] [INFO] wshd_server::accept: message key=value`
//! (pywebsocket's `[%(asctime)s] [%(levelname)s] %(name)s: %(message)s`, with the time in
//! UTC). Records from Python `logging` (see `wshd_python::logging`) show their logger
//! name and level name. `--log-level` sets the level (`fine` is below `debug`: tracing's
//! TRACE); `--deflate-log-level` sets it for compression targets. `--log-file` writes to a
//! file rotated like Python's `RotatingFileHandler`: before a record would take the file
//! to `--log-max` bytes or more, FILE.N is dropped, FILE.i becomes FILE.i+1 and FILE
//! becomes FILE.1 (`--log-count` backups; either option 0 turns rotation off).
//!
//! This module only sets up output; it does not decide what is logged.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::args::Args;

/// Tracing targets whose level is `--deflate-log-level` rather than `--log-level`.
const DEFLATE_TARGETS: &[&str] = &["wshd_proto::deflate"];

/// The tracing level name for a pywebsocket level name.
fn tracing_level(name: &str) -> &'static str {
    match name {
        "fine" => "trace",
        "debug" => "debug",
        "info" => "info",
        "error" | "critical" => "error",
        _ => "warn",
    }
}

/// Python's numeric level for a pywebsocket level name.
pub fn python_level(name: &str) -> i32 {
    match name {
        "fine" => wshd_python::logging::FINE,
        "debug" => 10,
        "info" => 20,
        "error" => 40,
        "critical" => 50,
        _ => 30,
    }
}

/// The filter directives for `args`: the level, deflate targets, and everything from
/// Python (filtered on the Python side already).
pub fn filter_directives(args: &Args) -> String {
    let mut directives = tracing_level(&args.log_level).to_owned();
    for target in DEFLATE_TARGETS {
        let _ = write!(directives, ",{target}={}", tracing_level(&args.deflate_log_level));
    }
    let _ = write!(directives, ",{}=trace", wshd_python::logging::TARGET);
    directives
}

/// Installs the global subscriber; the log file (if any) is opened relative to the
/// current directory, i.e. after the change to the document root.
pub fn init(args: &Args) -> io::Result<()> {
    wshd_python::logging::set_levels(
        python_level(&args.log_level),
        python_level(&args.deflate_log_level),
    );
    let filter = tracing_subscriber::EnvFilter::new(filter_directives(args));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).event_format(PyStyle);
    match &args.log_file {
        Some(path) => {
            let file = RotatingFile::open(path, args.log_max, args.log_count)?;
            builder.with_writer(Mutex::new(file)).init();
        }
        None => builder.with_writer(io::stderr).init(),
    }
    Ok(())
}

/// The pywebsocket-like record format.
struct PyStyle;

impl<S, N> FormatEvent<S, N> for PyStyle
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = fields.levelname.as_deref().unwrap_or(match *meta.level() {
            Level::TRACE => "FINE",
            Level::DEBUG => "DEBUG",
            Level::INFO => "INFO",
            Level::WARN => "WARNING",
            Level::ERROR => "ERROR",
        });
        let name = fields.logger.as_deref().unwrap_or(meta.target());
        write!(writer, "[{}] [{level}] {name}: {}", timestamp(SystemTime::now()), fields.message)?;
        writer.write_str(&fields.rest)?;
        writer.write_char('\n')
    }
}

/// An event's fields: the message, Python's logger and level names, and the rest as
/// ` key=value`.
#[derive(Default)]
struct Fields {
    message: String,
    logger: Option<String>,
    levelname: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "logger" => self.logger = Some(value.to_owned()),
            "levelname" => self.levelname = Some(value.to_owned()),
            "message" => self.message.push_str(value),
            name => {
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS,mmm` in UTC, Python's `asctime` layout.
fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        since.subsec_millis()
    )
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A log file rotated by size, as Python's `RotatingFileHandler(path, 'a', max, count)`.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    backups: u32,
}

impl RotatingFile {
    /// Opens (appending to) `path`.
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let file = Self::append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile { path: path.to_owned(), file, size, max_bytes, backups })
    }

    fn append(path: &Path) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot open the log file {}: {e}", path.display()))
        })
    }

    fn backup(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.backups).rev() {
            let from = self.backup(n);
            if from.exists() {
                std::fs::rename(&from, self.backup(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.backup(1))?;
        self.file = Self::append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    /// Writes a whole record (the formatter hands over one record per call).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let rotating = self.max_bytes > 0 && self.backups > 0;
        if rotating && self.size > 0 && self.size + buf.len() as u64 >= self.max_bytes {
            if let Err(e) = self.rotate() {
                // Keep logging to the current file rather than losing records.
                eprintln!("wshd: rotating the log file {} failed: {e}", self.path.display());
            }
        }
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_in_python_layout() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_327_045);
        assert_eq!(timestamp(t), "2026-11-18 11:12:07,045");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00,000");
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn rotates_like_rotating_file_handler() {
        let dir = std::env::temp_dir().join(format!("wshd-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut f = RotatingFile::open(&path, 25, 2).unwrap();
        for i in 0..8 {
            f.write_all(format!("record {i}\n").as_bytes()).unwrap(); // 9 bytes each
        }
        // Two records per file (a third would reach 27 >= 25): log, log.1, log.2 only.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "record 6\nrecord 7\n");
        assert_eq!(std::fs::read_to_string(dir.join("log.1")).unwrap(), "record 4\nrecord 5\n");
        assert_eq!(std::fs::read_to_string(dir.join("log.2")).unwrap(), "record 2\nrecord 3\n");
        assert!(!dir.join("log.3").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
