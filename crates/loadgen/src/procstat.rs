//! Readings from /proc: a process's RSS and CPU time, kernel slab, our fd limit, CLK_TCK.
//!
//! Linux only, plain file parsing, no libc. It does not sample over time or compute
//! rates; callers take two readings and subtract.

use std::fs;
use std::io;

/// Memory of one process, from `/proc/PID/status`, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: resident set size.
    pub rss: u64,
    /// `RssAnon`: the anonymous part of it (heap, stacks), which is what connections grow.
    pub rss_anon: u64,
    /// `VmHWM`: the peak RSS over the process's life so far.
    pub peak_rss: u64,
}

/// Reads `VmRSS`, `RssAnon` and `VmHWM` of `pid` (`"self"` for this process).
pub fn memory(pid: &str) -> io::Result<Memory> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(Memory {
        rss: kib_field(&text, "VmRSS:").ok_or_else(|| missing("VmRSS", pid))?,
        rss_anon: kib_field(&text, "RssAnon:").ok_or_else(|| missing("RssAnon", pid))?,
        peak_rss: kib_field(&text, "VmHWM:").ok_or_else(|| missing("VmHWM", pid))?,
    })
}

/// Kernel slab memory (`Slab:` of `/proc/meminfo`), in bytes. Machine-wide: on loopback
/// it counts both ends of every connection.
pub fn slab() -> io::Result<u64> {
    let text = fs::read_to_string("/proc/meminfo")?;
    kib_field(&text, "Slab:").ok_or_else(|| missing("Slab", "meminfo"))
}

/// CPU time of `pid` (all its threads), user plus system, in clock ticks
/// (`utime + stime`, fields 14 and 15 of `/proc/PID/stat`).
pub fn cpu_ticks(pid: &str) -> io::Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'; the
    // fields after the last ')' start with field 3 (state).
    let rest = text.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| missing("stat", pid))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| missing(&format!("stat field {n}"), pid))
    };
    Ok(field(14)? + field(15)?)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), read from the `AT_CLKTCK` entry of
/// `/proc/self/auxv` so that no libc call (and no `unsafe`) is needed. Falls back to 100,
/// the value on every mainstream Linux architecture, if auxv cannot be read.
pub fn clock_ticks_per_sec() -> u64 {
    const AT_CLKTCK: usize = 17;
    const WORD: usize = size_of::<usize>();
    let Ok(auxv) = fs::read("/proc/self/auxv") else { return 100 };
    // Pairs of native-endian machine words, (type, value), ending with type 0.
    let word = |b: &[u8]| usize::from_ne_bytes(b.try_into().expect("one machine word"));
    for pair in auxv.chunks_exact(2 * WORD) {
        match (word(&pair[..WORD]), word(&pair[WORD..])) {
            (0, _) => break,
            (AT_CLKTCK, value) if value > 0 => return value as u64,
            _ => {}
        }
    }
    100
}

/// This process's soft limit on open files (`Max open files` of `/proc/self/limits`);
/// `None` when unlimited or unreadable.
pub fn open_files_limit() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// The value of a `Name:   123 kB` line, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

fn missing(what: &str, pid: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("no {what} in /proc/{pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let m = memory("self").unwrap();
        assert!(m.rss > 0 && m.rss_anon <= m.rss);
        assert!(slab().unwrap() > 0);
        cpu_ticks("self").unwrap();
        assert!(clock_ticks_per_sec() > 0);
    }

    #[test]
    fn parses_kib_lines() {
        let text = "Name:\tx\nVmRSS:\t    1234 kB\nRssAnon:\t  10 kB\n";
        assert_eq!(kib_field(text, "VmRSS:"), Some(1234 * 1024));
        assert_eq!(kib_field(text, "RssAnon:"), Some(10 * 1024));
        assert_eq!(kib_field(text, "Slab:"), None);
    }
}
