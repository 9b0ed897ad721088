//! Timed waits on the hub's [`WaitList`] for the coordination primitives
//! (queues, locks, events, pools), and the `*_timeout` method family.
//!
//! The wait-list itself (`crate::hub::WaitList`) knows nothing of time; this
//! module adds a deadline to a wait by arming a timer for each park.
//!
//! Layer: coordination. Owns nothing but the timed form of a wait; uses the hub and time.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

pub(crate) use crate::hub::WaitList;
use crate::hub::{WaitOn, Waiter};
use crate::time::CancelTimer;
pub(crate) use crate::time::deadline_after;

impl<G, F: FnOnce(G)> Waiter<'_, G, F> {
    /// Parks until granted (`Some`) or until `deadline` passes (`None`). A
    /// kill or a `with_timeout` unwinds out of it. `what` names the wait in
    /// the deadlock message (`"Queue::get"`).
    #[inline(always)] // its frame stays open across the switch
    pub(crate) fn park(self, what: &'static str, deadline: Option<Instant>) -> Option<G> {
        self.park_with(
            WaitOn::Named(what),
            |waker| deadline.map(|deadline| CancelTimer::wake_at(deadline, waker)),
            || deadline.is_some_and(|deadline| Instant::now() >= deadline),
        )
    }
}

impl WaitList<()> {
    /// Parks until woken (`true`) or until `deadline` passes (`false`): for
    /// waits whose wake-up carries nothing to pass on if it comes too late.
    pub(crate) fn wait(&self, what: &'static str, deadline: Option<Instant>) -> bool {
        self.enqueue(drop).park(what, deadline).is_some()
    }
}

/// The `*_timeout` method family: what `try_now` gives at once, or else —
/// unless `timeout` is zero, which never parks — what `wait` gives by the
/// deadline.
pub(crate) fn try_or_wait<G>(
    timeout: Duration,
    try_now: impl FnOnce() -> Option<G>,
    wait: impl FnOnce(Option<Instant>) -> Option<G>,
) -> Option<G> {
    match try_now() {
        Some(granted) => Some(granted),
        None if timeout.is_zero() => None,
        None => wait(deadline_after(timeout)),
    }
}
