//! The timer queue and the hub's timer driver: deadlines ordered by time,
//! then by insertion, each with what to do when it passes.
//!
//! [`TimerQueue`] owns nothing but the ordering, behind one small interface
//! (`insert`, `cancel`, `next_deadline`, `pop_expired`) so that a timer wheel
//! can replace it. [`Timers`] is the hub's [`Driver`] built on it: it knows
//! what a timer means (wake a task, or interrupt one for `with_timeout`).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::hub::{Driver, Hub, Interrupt, TaskRef, WAKE_BATCH, Waker, with_hub};

/// Identifies one inserted timer; unique for the life of the queue, so a stale
/// key never cancels someone else's timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: usize,
    seq: u64,
}

/// Deadlines in a sorted run and a four-ary min-heap, with each timer's
/// action in a slab.
///
/// - `insert` appends to the run when the deadline is not before the run's
///   last one (a sleep or timeout of the same length each time: the common
///   case), `O(1)`; otherwise it pushes onto the heap, `O(log n)`.
/// - `pop_expired` takes the earlier of the run's first entry (`O(1)`) and
///   the heap's (`O(log n)`).
/// - `cancel` frees the slab slot at once (`O(1)`) and leaves the heap entry
///   behind as a tombstone, skipped when it comes to the top; tombstones are
///   swept out when they outnumber the live timers. A cancel after the timer
///   fired finds its slot gone or reused (another `seq`), also `O(1)`.
///
/// Ties go by insertion order: entries compare by `(deadline, seq)`.
/// A timer costs a 24-byte heap entry and a slab slot holding its action.
///
/// # Invariant
/// Every live timer (a slab slot) has exactly one entry, in the run or the
/// heap, with its `slot` and `seq`; `tombstones` counts the entries of both
/// that have no live timer. The run is sorted by `(deadline, seq)`.
pub(crate) struct TimerQueue<A> {
    run: VecDeque<HeapEntry>,
    heap: Vec<HeapEntry>,
    slots: Slab<Slot<A>>,
    tombstones: usize,
    /// The instant deadlines are counted from: the queue's creation. An
    /// earlier deadline counts as `base` (it has passed: it fires at the next
    /// check, in insertion order); one more than 584 years after it waits for
    /// ever.
    base: Instant,
    next_seq: u64,
}

/// A heap entry: the deadline in nanoseconds after the queue's base (8 bytes
/// where an `Instant` takes 16: a parked greenlet's timer repeats them).
#[derive(Debug, Clone, Copy)]
struct HeapEntry {
    deadline: u64,
    seq: u64,
    slot: usize,
}

impl HeapEntry {
    fn before(&self, other: &HeapEntry) -> bool {
        (self.deadline, self.seq) < (other.deadline, other.seq)
    }
}

struct Slot<A> {
    action: A,
    seq: u64,
}

const ARITY: usize = 4;

impl<A> TimerQueue<A> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            run: VecDeque::new(),
            heap: Vec::new(),
            slots: Slab::new(),
            tombstones: 0,
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
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = self.slots.insert(Slot { action, seq });
        let entry = HeapEntry {
            deadline: self.nanos(deadline),
            seq,
            slot,
        };
        match self.run.back() {
            Some(last) if entry.deadline < last.deadline => {
                self.heap.push(entry);
                self.sift_up(self.heap.len() - 1);
            }
            _ => self.run.push_back(entry), // `seq` is the largest yet
        }
        TimerKey { slot, seq }
    }

    /// Removes the timer if it has not fired yet and returns its action.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<A> {
        match self.slots.get(key.slot) {
            Some(slot) if slot.seq == key.seq => {}
            _ => return None, // fired or cancelled: its slot is gone or reused
        }
        let slot = self.slots.remove(key.slot);
        self.tombstones += 1;
        if self.tombstones > self.slots.len() && self.tombstones > 64 {
            self.sweep();
        }
        Some(slot.action)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        let (first, _) = self.first()?;
        Some(self.instant(first.deadline))
    }

    /// Removes and returns the earliest timer whose deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<A> {
        let (first, in_run) = self.first()?;
        if first.deadline > self.nanos(now) {
            return None;
        }
        if in_run {
            self.run.pop_front();
        } else {
            self.remove_first();
        }
        Some(self.slots.remove(first.slot).action)
    }

    /// Removes every timer, handing the actions back (used when the hub shuts down).
    pub(crate) fn drain(&mut self) -> Vec<A> {
        self.run = VecDeque::new();
        self.heap = Vec::new();
        self.tombstones = 0;
        std::mem::take(&mut self.slots)
            .into_iter()
            .map(|(_, slot)| slot.action)
            .collect()
    }

    /// Whether `entry` is a live timer's (not a tombstone).
    fn is_live(&self, entry: &HeapEntry) -> bool {
        self.slots
            .get(entry.slot)
            .is_some_and(|slot| slot.seq == entry.seq)
    }

    /// The earliest live timer's entry, and whether it is the run's (else
    /// the heap's); tombstones before it are dropped.
    fn first(&mut self) -> Option<(HeapEntry, bool)> {
        while self.tombstones > 0 {
            if let Some(first) = self.run.front()
                && !self.is_live(first)
            {
                self.run.pop_front();
            } else if let Some(first) = self.heap.first()
                && !self.is_live(first)
            {
                self.remove_first();
            } else {
                break;
            }
            self.tombstones -= 1;
        }
        match (self.run.front(), self.heap.first()) {
            (Some(run), Some(heap)) if heap.before(run) => Some((*heap, false)),
            (Some(run), _) => Some((*run, true)),
            (None, heap) => heap.map(|heap| (*heap, false)),
        }
    }

    /// Keeps only the live entries of the run and the heap (rebuilt): `O(n)`,
    /// once tombstones are more than half of them, so `O(1)` a cancel over
    /// time.
    fn sweep(&mut self) {
        let mut run = std::mem::take(&mut self.run);
        run.retain(|entry| self.is_live(entry));
        self.run = run;
        let mut heap = std::mem::take(&mut self.heap);
        heap.retain(|entry| self.is_live(entry));
        self.heap = heap;
        self.tombstones = 0;
        for at in (0..self.heap.len().div_ceil(ARITY)).rev() {
            self.sift_down(at);
        }
    }

    fn remove_first(&mut self) {
        let last = self.heap.pop().expect("remove_first of a non-empty heap");
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0);
        }
    }

    fn sift_up(&mut self, mut at: usize) {
        let entry = self.heap[at];
        while at > 0 {
            let parent = (at - 1) / ARITY;
            if !entry.before(&self.heap[parent]) {
                break;
            }
            self.heap[at] = self.heap[parent];
            at = parent;
        }
        self.heap[at] = entry;
    }

    fn sift_down(&mut self, mut at: usize) {
        let entry = self.heap[at];
        let len = self.heap.len();
        loop {
            let first_child = at * ARITY + 1;
            if first_child >= len {
                break;
            }
            let children = first_child..len.min(first_child + ARITY);
            let mut least = first_child;
            for child in children.skip(1) {
                if self.heap[child].before(&self.heap[least]) {
                    least = child;
                }
            }
            if !self.heap[least].before(&entry) {
                break;
            }
            self.heap[at] = self.heap[least];
            at = least;
        }
        self.heap[at] = entry;
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
            // Taken out of the queue before they run, a batch at a time (so
            // that the hub can read the woken tasks ahead, see
            // `Hub::prepare_wakes`): waking or interrupting runs no user
            // code, but dropping the actions outside the borrow keeps it that
            // way.
            let mut due: [Option<TimerAction>; WAKE_BATCH] = Default::default();
            let taken = self.with_queue(|queue| {
                due.iter_mut()
                    .map_while(|slot| queue.pop_expired(now).map(|action| *slot = Some(action)))
                    .count()
            });
            if taken > 1 {
                hub.prepare_wakes(due.iter().filter_map(|action| match action {
                    Some(TimerAction::Wake(waker)) => Some(waker),
                    _ => None,
                }));
            }
            for action in due.into_iter().flatten() {
                match action {
                    TimerAction::Wake(waker) => hub.wake(&waker),
                    TimerAction::Interrupt(task, interrupt) => hub.interrupt(&task, interrupt),
                }
            }
            if taken < WAKE_BATCH {
                break;
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

/// An armed timer: its key, and the queue it is in, so that cancelling it
/// reaches that queue with no lookup, and never another hub's (a thread may
/// get a second hub while it exits).
pub(crate) struct Armed {
    key: TimerKey,
    timers: Rc<Timers>,
}

impl Armed {
    /// Cancels the timer if it has not fired, dropping its action outside
    /// the borrow. Returns whether it was still armed (`false`: it fired, or
    /// was cancelled, or its hub has shut down). Not inlined (see [`add`]).
    #[inline(never)]
    pub(crate) fn cancel(&self) -> bool {
        let action = self.timers.with_queue(|queue| queue.cancel(self.key));
        action.is_some()
    }
}

/// Arms a timer on this thread's hub. `now` is the time if the caller has
/// just read it (to compute the deadline), which spares the hub reading it
/// again. Not inlined: its callers park right after, and what is inlined
/// into a parking frame is saved with a shared-stack greenlet while it is
/// switched out.
#[inline(never)]
pub(crate) fn add(deadline: Instant, now: Option<Instant>, action: TimerAction) -> Armed {
    with_hub(|hub| {
        hub.deadline_armed(now);
        let timers = Timers::of(hub);
        let key = timers.with_queue(|queue| queue.insert(deadline, action));
        Armed { key, timers }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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

    /// Random inserts (deadlines in and out of order, many equal), cancels
    /// (live, fired and repeated) and pops, against a sorted model.
    #[test]
    fn random_operations_match_a_sorted_model() {
        let mut q = TimerQueue::new();
        let base = q.base;
        let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
        let mut keys: Vec<(TimerKey, (u64, u64))> = Vec::new();
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut now = 0u64;
        for value in 0..20_000u32 {
            match next() % 8 {
                0..=3 => {
                    let deadline = now + next() % 64;
                    let key = q.insert(base + Duration::from_nanos(deadline), value);
                    model.insert((deadline, key.seq), value);
                    keys.push((key, (deadline, key.seq)));
                }
                4 | 5 if !keys.is_empty() => {
                    let (key, model_key) = keys[(next() % keys.len() as u64) as usize];
                    assert_eq!(q.cancel(key), model.remove(&model_key));
                }
                _ => {
                    now += next() % 16;
                    let at = base + Duration::from_nanos(now);
                    loop {
                        let expected = match model.first_key_value() {
                            Some((&(deadline, seq), _)) if deadline <= now => {
                                model.remove(&(deadline, seq))
                            }
                            _ => None,
                        };
                        assert_eq!(q.pop_expired(at), expected);
                        if expected.is_none() {
                            break;
                        }
                    }
                }
            }
            assert_eq!(q.len(), model.len());
            let expected = model.keys().next().map(|&(deadline, _)| deadline);
            assert_eq!(
                q.next_deadline(),
                expected.map(|deadline| base + Duration::from_nanos(deadline))
            );
        }
        let mut rest = q.drain();
        rest.sort();
        let mut expected: Vec<u32> = model.into_values().collect();
        expected.sort();
        assert_eq!(rest, expected);
    }

    #[test]
    fn cancelling_most_timers_sweeps_their_tombstones_and_keeps_the_order() {
        let mut q = TimerQueue::new();
        let t0 = q.base;
        // Deadlines out of order: 0, 7, 14, ... modulo 1000.
        let keys: Vec<_> = (0..1000u64)
            .map(|i| {
                let at = (i * 7) % 1000;
                (at, q.insert(t0 + Duration::from_nanos(at), at))
            })
            .collect();
        for (at, key) in &keys {
            if at % 10 != 0 {
                assert_eq!(q.cancel(*key), Some(*at));
            }
        }
        assert_eq!(q.len(), 100);
        assert!(q.run.len() + q.heap.len() < 1000, "tombstones were swept");
        let all = t0 + Duration::from_secs(1);
        let fired: Vec<u64> = std::iter::from_fn(|| q.pop_expired(all)).collect();
        let expected: Vec<u64> = (0..100).map(|i| i * 10).collect();
        assert_eq!(fired, expected);
        assert!(q.is_empty() && q.run.is_empty() && q.heap.is_empty());
    }
}
