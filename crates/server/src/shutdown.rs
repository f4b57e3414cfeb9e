//! Graceful shutdown: a [`Shutdown`] handle that servers and their open WebSockets share.
//!
//! [`Shutdown::trigger`] makes every [`crate::Server`] using the handle stop accepting and
//! every WebSocket they opened start the closing handshake with 1001 (going away) the next
//! time it waits for input or sends; an idle connection is woken for it. The servers then
//! wait, up to [`crate::Config::shutdown_timeout`], for those connections to end.
//!
//! Cost per open connection: a 16-byte [`Registration`] inside the `WebSocket` and one
//! waker slot in a sharded table, written only when the connection goes to sleep with a
//! different waker than last time (a mutex shard lock, uncontended in practice). It is not
//! a signal handler: the binary maps SIGTERM/SIGINT to [`Shutdown::trigger`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use tokio::sync::Notify;

/// Shards of the waker table: connections spread over them round-robin, so wakers of
/// connections on different threads rarely share a lock.
const SHARDS: usize = 32;

/// A cloneable handle that shuts down every server it was given to (see
/// [`crate::Server::with_shutdown`]) and every WebSocket those servers opened.
#[derive(Clone)]
pub struct Shutdown {
    signal: Arc<Signal>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .field("active_connections", &self.active_connections())
            .finish()
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

struct Signal {
    triggered: AtomicBool,
    /// Open server-side WebSockets (from the 101 until the connection ends).
    active: AtomicUsize,
    /// WebSockets that have ended since the handle was made.
    ended: AtomicU64,
    next_shard: AtomicUsize,
    shards: [Mutex<Slots>; SHARDS],
    /// Notified on trigger and when the last connection ends after it.
    changed: Notify,
}

/// One shard of the waker table: a slot per registered connection, reused when freed.
#[derive(Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    free: Vec<u32>,
}

impl Shutdown {
    /// A handle that has not been triggered.
    pub fn new() -> Shutdown {
        Shutdown {
            signal: Arc::new(Signal {
                triggered: AtomicBool::new(false),
                active: AtomicUsize::new(0),
                ended: AtomicU64::new(0),
                next_shard: AtomicUsize::new(0),
                shards: std::array::from_fn(|_| Mutex::new(Slots::default())),
                changed: Notify::new(),
            }),
        }
    }

    /// Starts the shutdown: servers stop accepting, open WebSockets close with 1001.
    /// Calling it again does nothing.
    pub fn trigger(&self) {
        let s = &*self.signal;
        if s.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        for shard in &s.shards {
            let slots = shard.lock().unwrap_or_else(|e| e.into_inner());
            for waker in slots.wakers.iter().flatten() {
                waker.wake_by_ref();
            }
        }
        s.changed.notify_waiters();
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.signal.triggered.load(Ordering::SeqCst)
    }

    /// Open WebSockets of the servers using this handle (handshakes in progress are not
    /// counted).
    pub fn active_connections(&self) -> usize {
        self.signal.active.load(Ordering::SeqCst)
    }

    /// WebSockets of the servers using this handle that have ended so far (a count that
    /// only grows): what [`crate::memory::release_after_connections_end`] watches.
    pub fn ended_connections(&self) -> u64 {
        self.signal.ended.load(Ordering::Relaxed)
    }

    /// Completes once the shutdown has been triggered.
    pub async fn triggered(&self) {
        self.wait_for(|s| s.triggered.load(Ordering::SeqCst)).await;
    }

    /// Completes once the shutdown has been triggered and no WebSocket is open any more.
    pub async fn drained(&self) {
        self.wait_for(|s| {
            s.triggered.load(Ordering::SeqCst) && s.active.load(Ordering::SeqCst) == 0
        })
        .await;
    }

    async fn wait_for(&self, done: impl Fn(&Signal) -> bool) {
        loop {
            let notified = self.signal.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.signal) {
                return;
            }
            notified.await;
        }
    }

    /// Counts a newly opened connection and gives it a waker slot.
    pub(crate) fn register(&self) -> Registration {
        let s = &*self.signal;
        s.active.fetch_add(1, Ordering::SeqCst);
        let shard = s.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let mut slots = s.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        let index = match slots.free.pop() {
            Some(i) => i,
            None => {
                slots.wakers.push(None);
                u32::try_from(slots.wakers.len() - 1).unwrap_or(u32::MAX)
            }
        };
        Registration { signal: self.signal.clone(), slot: index * SHARDS as u32 + shard as u32 }
    }
}

/// One open connection's membership in a [`Shutdown`]: counted while it lives, woken on
/// trigger. Dropping it uncounts the connection.
pub(crate) struct Registration {
    signal: Arc<Signal>,
    /// `index * SHARDS + shard`.
    slot: u32,
}

impl Registration {
    /// Whether the shutdown was triggered (one atomic load).
    pub(crate) fn is_triggered(&self) -> bool {
        self.signal.triggered.load(Ordering::SeqCst)
    }

    /// Arranges for `waker` to be woken on trigger; returns whether it was triggered
    /// already (then nothing is stored).
    pub(crate) fn register_waker(&self, waker: &Waker) -> bool {
        if self.is_triggered() {
            return true;
        }
        let (shard, index) = self.shard_and_index();
        let mut slots = self.signal.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.wakers.get_mut(index) {
            match slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
        drop(slots);
        // `trigger` sets the flag before it takes the shard locks: either it saw our waker
        // or we see its flag.
        self.is_triggered()
    }

    /// A handle to the shutdown this connection belongs to.
    pub(crate) fn handle(&self) -> Shutdown {
        Shutdown { signal: self.signal.clone() }
    }

    fn shard_and_index(&self) -> (usize, usize) {
        let slot = self.slot as usize;
        (slot % SHARDS, slot / SHARDS)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let (shard, index) = self.shard_and_index();
        let mut slots = self.signal.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.wakers.get_mut(index) {
            *slot = None;
            slots.free.push(index as u32);
        }
        drop(slots);
        self.signal.ended.fetch_add(1, Ordering::Relaxed);
        let before = self.signal.active.fetch_sub(1, Ordering::SeqCst);
        if before == 1 && self.signal.triggered.load(Ordering::SeqCst) {
            self.signal.changed.notify_waiters();
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("slot", &self.slot).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_connections_and_reuses_slots() {
        let s = Shutdown::new();
        let a = s.register();
        let b = s.register();
        assert_eq!(s.active_connections(), 2);
        let a_slot = a.slot;
        drop(a);
        assert_eq!(s.active_connections(), 1);
        assert_eq!(s.ended_connections(), 1);
        // 31 more registrations come round to a's shard again and reuse its slot.
        let more: Vec<_> = (0..SHARDS).map(|_| s.register()).collect();
        assert!(more.iter().any(|r| r.slot == a_slot));
        drop((b, more));
        assert_eq!(s.active_connections(), 0);
        assert_eq!(s.ended_connections(), 2 + SHARDS as u64);
    }

    #[tokio::test]
    async fn trigger_wakes_registered_wakers_and_drained_waits_for_the_last() {
        let s = Shutdown::new();
        let reg = s.register();
        let woken = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let waker = Waker::from(Arc::new(Flag(woken.clone())));
        assert!(!reg.register_waker(&waker));
        let drained = tokio::spawn({
            let s = s.clone();
            async move { s.drained().await }
        });
        s.trigger();
        assert!(woken.load(Ordering::SeqCst));
        assert!(reg.register_waker(&waker));
        tokio::task::yield_now().await;
        assert!(!drained.is_finished());
        drop(reg);
        tokio::time::timeout(std::time::Duration::from_secs(10), drained)
            .await
            .expect("drained completes once the last connection is gone")
            .unwrap();
    }
}
