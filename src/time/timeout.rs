//! [`with_timeout`] and [`Elapsed`]: gevent's `Timeout` as a scope.
//!
//! A timeout is a timer that, when it fires, interrupts the task that set it:
//! the blocking call it is parked in unwinds up to the `with_timeout` that
//! owns the timer, which returns `Err(Elapsed)`. Each scope has its own id, so
//! nested timeouts fire only for themselves.

#![forbid(unsafe_code)]

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};

use super::timers::{self, Armed, TimerAction};
use crate::hub::{Interrupt, Interrupted, TaskRef, TimeoutScope, with_hub};

/// The error of a [`with_timeout`] whose time ran out.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let err = greenlet::with_timeout(Duration::from_millis(1), || {
///     greenlet::sleep(Duration::from_secs(10))
/// })
/// .unwrap_err();
/// assert_eq!(err.to_string(), "timed out");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}

/// Runs `f`, but if it is still blocked when `timeout` has passed, unwinds it
/// from the blocking call and returns `Err(Elapsed)`.
///
/// Destructors on the way out run as for a panic, so guards release and
/// sockets close. `f` is interrupted only where it blocks (sleep, join, IO,
/// queues, locks, `yield_now`): a computation that never switches runs to its
/// end. Works in the root context and in greenlets; nested timeouts each
/// fire only for themselves.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let slow = greenlet::with_timeout(Duration::from_millis(10), || {
///     greenlet::sleep(Duration::from_secs(10));
///     "finished"
/// });
/// assert!(slow.is_err());
///
/// let fast = greenlet::with_timeout(Duration::from_secs(10), || "finished");
/// assert_eq!(fast, Ok("finished"));
/// ```
pub fn with_timeout<T>(timeout: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let Some(deadline) = Instant::now().checked_add(timeout) else {
        return Ok(f()); // a timeout that never comes
    };
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let task = with_hub(|hub| hub.current_task());
    let scope = task
        .header()
        .interruption
        .timeout_scope(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let timer = timers::add(
        deadline,
        None,
        TimerAction::Interrupt(task.clone(), Interrupt::Timeout(scope)),
    );
    let scope = TimeoutGuard { scope, task, timer };
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    scope.end();
    // A foreign call (a hooked libc function) cannot unwind: the timeout
    // cancelled it instead, and the scope has elapsed all the same, however
    // the closure ended (returning, or panicking on the `ECANCELED` it got).
    let header = scope.task.header();
    if header.interruption.take_cancelled_timeout(scope.scope.id) {
        return Err(Elapsed(()));
    }
    match outcome {
        Ok(value) => Ok(value),
        Err(payload) => match payload.downcast_ref::<Interrupted>() {
            Some(Interrupted(Interrupt::Timeout(fired))) if fired.id == scope.scope.id => {
                if fired.inside_unwind.is_none() {
                    // The unwind ends here (one raised inside another
                    // unwind's destructor leaves that one going).
                    header.interruption.end_unwind();
                }
                Err(Elapsed(()))
            }
            _ => panic::resume_unwind(payload),
        },
    }
}

/// One `with_timeout`: its scope, the task it guards and its timer.
struct TimeoutGuard {
    scope: TimeoutScope,
    task: TaskRef,
    timer: Armed,
}

impl TimeoutGuard {
    /// Cancels the timer, and forgets a timeout that fired while the task was
    /// runnable but that it never reached a switch point to raise.
    fn end(&self) {
        self.timer.cancel();
        self.task
            .header()
            .interruption
            .forget_timeout(self.scope.id);
    }
}
