//! Cooperative time: [`sleep`] and [`yield_now`].
//!
//! The timers themselves live in the hub (`timers::TimerQueue`); this module
//! only parks the caller on one.

#![forbid(unsafe_code)]

pub(crate) mod timers;

use std::time::{Duration, Instant};

use crate::hub::{TimerAction, WaitOn, Waker, current_waker, park, try_with_hub, with_hub};

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
    let deadline = Instant::now().checked_add(duration);
    let Some(deadline) = deadline else {
        // Too long to represent: only an interrupt ends it.
        loop {
            park(WaitOn::Sleep);
        }
    };
    // A wake-up before the deadline (an interrupt that cannot be raised
    // while this greenlet unwinds) is not the end of the sleep.
    loop {
        let _cancel = CancelTimer::wake_at(deadline, current_waker());
        park(WaitOn::Sleep);
        if Instant::now() >= deadline {
            break;
        }
    }
}

/// Cancels a timer when dropped, however the wait it bounds ends (a no-op
/// if it has fired).
pub(crate) struct CancelTimer(pub(crate) timers::TimerKey);

impl CancelTimer {
    /// A timer that fires `waker` at `deadline`: the deadline of a timed wait.
    pub(crate) fn wake_at(deadline: Instant, waker: Waker) -> CancelTimer {
        with_hub(|hub| CancelTimer(hub.add_timer(deadline, TimerAction::Wake(waker))))
    }
}

impl Drop for CancelTimer {
    fn drop(&mut self) {
        // No hub any more (thread exit): no timer to cancel, and none to make.
        let _ = try_with_hub(|hub| hub.cancel_timer(self.0));
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
