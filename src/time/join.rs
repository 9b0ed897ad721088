//! [`Greenlet::wait_timeout`]: joining with a deadline. It lives with the
//! timers it needs; the greenlet layer below has no timers.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use super::{CancelTimer, deadline_after};
use crate::greenlet::Greenlet;

impl<T> Greenlet<T> {
    /// Blocks until the greenlet finishes or `timeout` passes; true if it finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenlet::spawn(|| greenlet::sleep(Duration::from_millis(50)));
    /// assert!(!g.wait_timeout(Duration::from_millis(5)));
    /// assert!(g.wait_timeout(Duration::from_secs(5)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        if self.is_finished() || timeout.is_zero() {
            return self.is_finished();
        }
        let deadline = deadline_after(timeout);
        self.park_as_joiner(
            |waker| deadline.map(|deadline| CancelTimer::wake_at(deadline, waker)),
            || deadline.is_some_and(|deadline| Instant::now() >= deadline),
        );
        self.is_finished()
    }
}
