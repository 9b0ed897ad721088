//! The timer queue and the hub's timer driver: deadlines ordered by time,
//! then by insertion, each with what to do when it passes.
//!
//! [`TimerQueue`] owns nothing but the ordering, behind one small interface
//! (`insert`, `cancel`, `next_deadline`, `pop_expired`) so that a timer wheel
//! can replace it. [`Timers`] is the hub's [`Driver`] built on it: it knows
//! what a timer means (wake a task, or interrupt one for `with_timeout`).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::hub::{Driver, Hub, Interrupt, TaskRef, Waker, try_with_hub, with_hub};

/// Identifies one inserted timer; unique for the life of the queue, so a stale
/// key never cancels someone else's timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    /// The deadline, in nanoseconds after the queue's `base`: 8 bytes where
    /// an `Instant` takes 16, which a parked greenlet's timer entry repeats.
    deadline: u64,
    seq: u64,
}

/// A B-tree keyed by `(deadline, sequence)`: insert and cancel cost
/// `O(log n)` without scanning, and the first key is the poll timeout.
pub(crate) struct TimerQueue<A> {
    timers: BTreeMap<TimerKey, A>,
    /// The instant deadlines are counted from: the queue's creation. An
    /// earlier deadline counts as `base` (it has passed: it fires at the next
    /// check, in insertion order); one more than 584 years after it waits for
    /// ever.
    base: Instant,
    next_seq: u64,
}

impl<A> TimerQueue<A> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            timers: BTreeMap::new(),
            base: Instant::now(),
            next_seq: 0,
        }
    }

    /// `at` in nanoseconds after `base`.
    fn nanos(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.base).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    fn instant(&self, nanos: u64) -> Instant {
        self.base + Duration::from_nanos(nanos)
    }

    pub(crate) fn insert(&mut self, deadline: Instant, action: A) -> TimerKey {
        let key = TimerKey {
            deadline: self.nanos(deadline),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.timers.insert(key, action);
        key
    }

    /// Removes the timer if it has not fired yet and returns its action.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<A> {
        self.timers.remove(&key)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let (key, _) = self.timers.first_key_value()?;
        Some(self.instant(key.deadline))
    }

    /// Removes and returns the earliest timer whose deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<A> {
        let now = self.nanos(now);
        let entry = self.timers.first_entry()?;
        if entry.key().deadline <= now {
            Some(entry.remove())
        } else {
            None
        }
    }

    /// Removes every timer, handing the actions back (used when the hub shuts down).
    pub(crate) fn drain(&mut self) -> Vec<A> {
        std::mem::take(&mut self.timers).into_values().collect()
    }
}

/// What to do when a timer fires.
pub(crate) enum TimerAction {
    /// Wake a parked task (a sleep, or the deadline of a timed wait).
    Wake(Waker),
    /// Unwind a task out of whatever it is blocked in (`with_timeout`).
    Interrupt(TaskRef, Interrupt),
}

/// A hub's timers: its [`Driver`] for everything that waits for a time.
pub(crate) struct Timers {
    queue: RefCell<TimerQueue<TimerAction>>,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            queue: RefCell::new(TimerQueue::new()),
        }
    }
}

impl Timers {
    /// This thread's timers (made with its hub).
    fn of(hub: &Hub) -> Rc<Timers> {
        hub.driver::<Timers>()
    }

    fn with_queue<R>(&self, f: impl FnOnce(&mut TimerQueue<TimerAction>) -> R) -> R {
        f(&mut self.queue.borrow_mut())
    }
}

impl Driver for Timers {
    fn fire(&self, hub: &Hub, now: Instant) {
        loop {
            // Taken out of the queue before it runs: waking or interrupting
            // runs no user code, but dropping the action outside the borrow
            // keeps it that way.
            let action = self.with_queue(|queue| queue.pop_expired(now));
            match action {
                None => break,
                Some(TimerAction::Wake(waker)) => hub.wake(&waker),
                Some(TimerAction::Interrupt(task, interrupt)) => hub.interrupt(&task, interrupt),
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.with_queue(|queue| queue.next_deadline())
    }

    fn can_wake(&self) -> bool {
        !self.with_queue(|queue| queue.is_empty())
    }

    fn shut_down(&self) {
        let actions = self.with_queue(TimerQueue::drain);
        drop(actions);
    }
}

/// Arms a timer on this thread's hub. Not inlined: its callers park right
/// after, and what is inlined into a parking frame is saved with a
/// shared-stack greenlet while it is switched out.
#[inline(never)]
pub(crate) fn add(deadline: Instant, action: TimerAction) -> TimerKey {
    with_hub(|hub| {
        hub.deadline_armed();
        Timers::of(hub).with_queue(|queue| queue.insert(deadline, action))
    })
}

/// Cancels a timer that has not fired, dropping its action outside the
/// borrow; nothing to do once the thread's hub is gone. Not inlined (see
/// [`add`]).
#[inline(never)]
pub(crate) fn cancel(key: TimerKey) {
    let action = try_with_hub(|hub| Timers::of(hub).with_queue(|queue| queue.cancel(key)));
    drop(action);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_timers_come_out_in_deadline_then_insertion_order() {
        let mut q = TimerQueue::new();
        let t0 = Instant::now();
        q.insert(t0 + Duration::from_millis(2), "c");
        q.insert(t0 + Duration::from_millis(1), "a");
        q.insert(t0 + Duration::from_millis(1), "b");
        q.insert(t0 + Duration::from_millis(9), "late");
        let now = t0 + Duration::from_millis(5);
        let fired: Vec<_> = std::iter::from_fn(|| q.pop_expired(now)).collect();
        assert_eq!(fired, ["a", "b", "c"]);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(9)));
    }

    #[test]
    fn cancel_removes_only_its_own_timer() {
        let mut q = TimerQueue::new();
        let t0 = Instant::now();
        let a = q.insert(t0, 1);
        let b = q.insert(t0, 2);
        assert_eq!(q.cancel(a), Some(1));
        assert_eq!(q.cancel(a), None);
        assert_eq!(q.len(), 1);
        assert_eq!(q.cancel(b), Some(2));
        assert!(q.is_empty());
    }

    #[test]
    fn deadlines_before_the_queue_fire_and_beyond_584_years_wait() {
        let past = Instant::now();
        let mut q = TimerQueue::new();
        let year = Duration::from_secs(365 * 24 * 3600);
        if let Some(far) = q.base.checked_add(1000 * year) {
            q.insert(far, "far");
        }
        q.insert(past, "past");
        let now = Instant::now();
        assert_eq!(q.pop_expired(now), Some("past"));
        assert_eq!(q.pop_expired(now + 100 * year), None);
        if let Some(next) = q.next_deadline() {
            assert!(next > now + 500 * year);
        }
    }
}
