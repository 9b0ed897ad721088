//! The hub's timer queue: deadlines ordered by time, then by insertion.
//!
//! It owns nothing but the ordering. Firing a timer (waking a greenlet,
//! interrupting it, starting it) is the hub's job; this type only hands back
//! the actions whose deadline has passed. It sits behind one small interface
//! (`insert`, `cancel`, `next_deadline`, `pop_expired`) so that a timer wheel
//! can replace it without touching the hub.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::Instant;

/// Identifies one inserted timer; unique for the life of the queue, so a stale
/// key never cancels someone else's timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    deadline: Instant,
    seq: u64,
}

/// A B-tree keyed by `(deadline, sequence)`: insert and cancel cost
/// `O(log n)` without scanning, and the first key is the poll timeout.
pub(crate) struct TimerQueue<A> {
    timers: BTreeMap<TimerKey, A>,
    next_seq: u64,
}

impl<A> TimerQueue<A> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            timers: BTreeMap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn insert(&mut self, deadline: Instant, action: A) -> TimerKey {
        let key = TimerKey {
            deadline,
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
        self.timers.first_key_value().map(|(key, _)| key.deadline)
    }

    /// Removes and returns the earliest timer whose deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<A> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
