//! Readings from /proc: a process's RSS and CPU time, the members of a session, kernel
//! slab, our fd limit, CLK_TCK.
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
    Ok(stat_field(pid, 14)? + stat_field(pid, 15)?)
}

/// The pids of every process in the session `leader` leads (field 6 of
/// `/proc/PID/stat`), the leader first; an error if the leader is gone.
pub fn session_members(leader: u32) -> io::Result<Vec<String>> {
    let own = leader.to_string();
    stat_field(&own, 6)?;
    let mut members = vec![own.clone()];
    for entry in fs::read_dir("/proc")? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name == own || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A process that exited since the listing is not a member.
        if stat_field(&name, 6).is_ok_and(|sid| sid == u64::from(leader)) {
            members.push(name);
        }
    }
    Ok(members)
}

/// Field `n` (numbered as in proc(5), `n` ≥ 3) of `/proc/PID/stat`.
fn stat_field(pid: &str, n: usize) -> io::Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'; the
    // fields after the last ')' start with field 3 (state).
    let rest = text.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| missing("stat", pid))?;
    rest.split_whitespace()
        .nth(n - 3)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| missing(&format!("stat field {n}"), pid))
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
    fn lists_a_sessions_members() {
        // A shell in a session of its own, with a child: both are members.
        let mut leader = std::process::Command::new("setsid")
            .args(["sh", "-c", "sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(leader.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let child = line.trim().to_owned();
        let members = session_members(leader.id()).unwrap();
        let _ = std::process::Command::new("kill").arg(&child).status();
        let _ = leader.wait();
        assert_eq!(members[0], leader.id().to_string());
        assert!(members.contains(&child), "{child} not in {members:?}");
        assert!(!members.contains(&std::process::id().to_string()), "{members:?}");
        assert!(session_members(leader.id()).is_err(), "the leader is gone");
    }

    #[test]
    fn parses_kib_lines() {
        let text = "Name:\tx\nVmRSS:\t    1234 kB\nRssAnon:\t  10 kB\n";
        assert_eq!(kib_field(text, "VmRSS:"), Some(1234 * 1024));
        assert_eq!(kib_field(text, "RssAnon:"), Some(10 * 1024));
        assert_eq!(kib_field(text, "Slab:"), None);
    }
}
