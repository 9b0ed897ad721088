//! Time: [`sleep`], [`yield_now`], [`with_timeout`], and the hub's timer
//! driver ([`timers::Timers`]) they park on.
//!
//! This layer sits on the hub and the greenlets; it gives timers their
//! meanings (wake a task, interrupt it for `with_timeout`). The hub only
//! learns from its driver when to stop waiting in its poller.
//!
//! Layer: time and IO. Owns the timers and their meanings; uses the hub and the greenlets.

#![forbid(unsafe_code)]

mod join;
mod timeout;
pub(crate) mod timers;

pub use timeout::{Elapsed, with_timeout};

use std::time::{Duration, Instant};

use crate::hub::{WaitOn, Waker, current_waker, park};
use timers::TimerAction;

/// Parks the current greenlet for at least `duration`; other greenlets run meanwhile.
///
/// In the root context it runs the hub for that long. `sleep(Duration::ZERO)`
/// is [`yield_now`]. A kill or an expiring [`with_timeout`](crate::with_timeout)
/// unwinds out of it. The hub's clock has millisecond resolution when it has to
/// wait in the poller, so a sleep may last up to a millisecond longer.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// greenlet::sleep(Duration::from_millis(10));
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
pub fn sleep(duration: Duration) {
    if duration.is_zero() {
        return yield_now();
    }
    let now = Instant::now();
    let Some(deadline) = now.checked_add(duration) else {
        // Too long to represent: only an interrupt ends it.
        loop {
            park(WaitOn::Sleep);
        }
    };
    // A wake-up before the deadline (an interrupt that cannot be raised
    // while this greenlet unwinds) is not the end of the sleep. A timer
    // that fired is: the hub fires a timer once its deadline has passed,
    // so only a wake-up that finds it still armed reads the clock.
    let mut now = Some(now);
    loop {
        let timer = CancelTimer(Some(timers::add(
            deadline,
            now.take(),
            TimerAction::Wake(current_waker()),
        )));
        park(WaitOn::Sleep);
        if !timer.cancel() || Instant::now() >= deadline {
            break;
        }
    }
}

/// The deadline `timeout` from now; `None` if it is too far to represent
/// (which waits for ever).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Cancels a timer when dropped, however the wait it bounds ends (a no-op
/// if it has fired). `None` only once [`CancelTimer::cancel`] has taken it.
pub(crate) struct CancelTimer(Option<timers::Armed>);

impl CancelTimer {
    /// A timer that fires `waker` at `deadline`: the deadline of a timed wait.
    pub(crate) fn wake_at(deadline: Instant, waker: Waker) -> CancelTimer {
        CancelTimer(Some(timers::add(deadline, None, TimerAction::Wake(waker))))
    }

    /// Cancels the timer now; returns whether it was still armed (`false`
    /// once it has fired).
    fn cancel(mut self) -> bool {
        self.0.take().is_some_and(|timer| timer.cancel())
    }
}

impl Drop for CancelTimer {
    fn drop(&mut self) {
        if let Some(timer) = self.0.take() {
            timer.cancel();
        }
    }
}

/// Lets every other runnable greenlet run once, then continues.
///
/// Greenlets switch only when they block; a greenlet that computes for a long
/// time should call this now and then so that others (and timers) get a turn.
/// In the root context it runs each runnable greenlet once.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let gs: Vec<_> = ["a", "b"]
///     .into_iter()
///     .map(|name| {
///         let log = log.clone();
///         greenlet::spawn(move || {
///             for i in 0..2 {
///                 log.borrow_mut().push(format!("{name}{i}"));
///                 greenlet::yield_now();
///             }
///         })
///     })
///     .collect();
/// greenlet::joinall(gs);
/// assert_eq!(*log.borrow(), ["a0", "b0", "a1", "b1"]);
/// ```
#[inline]
pub fn yield_now() {
    crate::hub::yield_now();
}
