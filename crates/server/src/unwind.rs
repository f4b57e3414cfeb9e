//! Catching a panic in a handler's future, so one broken handler costs one connection a
//! 1011 close and a log line, not a silently dropped socket.
//!
//! [`CatchUnwind`] polls the wrapped future inside `std::panic::catch_unwind`. It is not a
//! general-purpose utility: only handler hooks run inside it (the extra handshake in
//! `accept`, the transfer phase in `handler`).

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that resolves to `Err(panic payload)` if the inner future panics. It takes
/// an `Unpin` future (a boxed hook, or one pinned in place), so it adds no allocation.
pub(crate) struct CatchUnwind<F>(F);

impl<F: Future + Unpin> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        CatchUnwind(future)
    }
}

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The future is dropped right after a panic and never polled again, so no broken
        // invariant inside it can be observed: asserting unwind safety is sound here.
        let inner = Pin::new(&mut self.0);
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The message of a panic payload, for the log.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
