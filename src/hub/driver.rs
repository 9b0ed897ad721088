//! [`Driver`]: the one interface through which what can wake a parked task,
//! other than another task, reaches the hub.
//!
//! The hub knows what to do when nothing is runnable (wait in its poller),
//! but not what a timer means or which descriptors exist. The layers above
//! plug in a driver each: the timer queue (`crate::time`) and the reactor
//! (`crate::reactor`). A driver is made on first use by
//! [`Hub::driver`](super::Hub::driver) and lives as long as the hub.
//!
//! The hub calls drivers only between greenlets (on its own loop, in the root
//! context), never while a greenlet runs, and holds no borrow of its own
//! state while it does: a driver may wake, interrupt or start tasks.

#![forbid(unsafe_code)]

use std::any::Any;
use std::time::Instant;

use super::Hub;

/// A source of wake-ups for a hub's parked tasks.
pub(crate) trait Driver: Any {
    /// Wakes every task whose wait is over at `now` (expired timers).
    fn fire(&self, _hub: &Hub, _now: Instant) {}

    /// The earliest instant at which [`Driver::fire`] will have work, if
    /// any: the hub's poller sleeps no longer than that.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }

    /// Whether it has descriptors registered with the hub's poller, so
    /// that a poll may bring it events.
    fn wants_poll(&self) -> bool {
        false
    }

    /// The events of one poll, but for the hub's own waker. Each driver
    /// takes those for the tokens it registered (only the reactor does).
    fn on_events(&self, _hub: &Hub, _events: &mio::Events) {}

    /// Whether it may still wake a parked task. With nothing runnable and no
    /// driver that may, the root context's wait is a deadlock.
    fn can_wake(&self) -> bool;

    /// Drops what it holds as its hub ends (at thread exit, after every
    /// greenlet that could be ended was).
    fn shut_down(&self) {}
}
