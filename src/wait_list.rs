//! [`WaitList`]: the queue of parked tasks that every coordination primitive
//! (queues, locks, events, pools) is built on.
//!
//! A primitive that cannot serve a caller at once puts it on a wait-list and
//! parks it. Whoever makes progress possible later *grants* the first waiter
//! something — an item, a permit, the lock — and wakes it. The grant is stored
//! in the waiter's entry, so it belongs to that waiter even before it runs: a
//! greenlet that asks in between cannot barge in, and waiters are served in
//! arrival order.
//!
//! A waiter can also leave without being served: its deadline passes, or it
//! is killed or timed out while parked. It then removes its entry, and if a
//! grant reached it first (woken, but interrupted before it ran) it hands the
//! grant to its primitive's *orphan* handler, which passes it to the next
//! waiter or puts it back. So nothing granted is lost or handed out twice.
//!
//! This module owns the list and the parking; it knows nothing of what is
//! granted. It must not run user code while it borrows its own state.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::hub::{WaitOn, Waker, current_waker, park, with_hub};
use crate::time::CancelTimer;
pub(crate) use crate::time::deadline_after;

/// A FIFO of parked tasks, each waiting to be granted a `G`.
pub(crate) struct WaitList<G> {
    inner: RefCell<Inner<G>>,
}

struct Inner<G> {
    /// Sorted by ticket (arrival order). The first `granted` entries hold a
    /// grant their waiter has not collected yet; the rest are still waiting.
    entries: VecDeque<Entry<G>>,
    granted: usize,
    next_ticket: u64,
}

struct Entry<G> {
    ticket: u64,
    waker: Waker,
    grant: Option<G>,
}

impl<G> WaitList<G> {
    pub(crate) fn new() -> WaitList<G> {
        WaitList {
            inner: RefCell::new(Inner {
                entries: VecDeque::new(),
                granted: 0,
                next_ticket: 0,
            }),
        }
    }

    /// Tasks still waiting (not counting those granted and about to run).
    pub(crate) fn waiting(&self) -> usize {
        let inner = self.inner.borrow();
        inner.entries.len() - inner.granted
    }

    pub(crate) fn has_waiters(&self) -> bool {
        self.waiting() > 0
    }

    /// Puts the current task at the back of the list. It parks with
    /// [`Waiter::park`]; until then the caller may still act (for example
    /// offer something in exchange) knowing it is counted as a waiter.
    ///
    /// `orphan` receives a grant that reaches the waiter but that it will not
    /// collect (it leaves by timeout or interrupt first).
    pub(crate) fn enqueue<F: FnOnce(G)>(&self, orphan: F) -> Waiter<'_, G, F> {
        let ticket = self.push(current_waker());
        Waiter {
            list: self,
            ticket,
            orphan: Some(orphan),
        }
    }

    fn push(&self, waker: Waker) -> u64 {
        let mut inner = self.inner.borrow_mut();
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        inner.entries.push_back(Entry {
            ticket,
            waker,
            grant: None,
        });
        ticket
    }

    /// Hands `grant` to the longest waiter and wakes it; gives it back if
    /// nobody waits.
    pub(crate) fn grant(&self, grant: G) -> Result<(), G> {
        let mut inner = self.inner.borrow_mut();
        let next = inner.granted;
        let Some(entry) = inner.entries.get_mut(next) else {
            return Err(grant);
        };
        entry.grant = Some(grant);
        // Waking only queues the task; it runs no user code, so the borrow may stay.
        with_hub(|hub| hub.wake(&entry.waker));
        inner.granted += 1;
        Ok(())
    }

    /// Grants every waiter a value made by `make`.
    pub(crate) fn grant_all(&self, mut make: impl FnMut() -> G) {
        while self.has_waiters() {
            let _ = self.grant(make());
        }
    }

    /// Removes the entry with `ticket`, returning its grant if it had one.
    fn leave(&self, ticket: u64) -> Option<G> {
        let mut inner = self.inner.borrow_mut();
        let entry = match inner.entries.front() {
            Some(front) if front.ticket == ticket => inner.entries.pop_front(),
            _ => {
                let index = inner
                    .entries
                    .binary_search_by_key(&ticket, |entry| entry.ticket)
                    .ok()?;
                inner.entries.remove(index)
            }
        }?;
        if entry.grant.is_some() {
            inner.granted -= 1;
        }
        entry.grant
    }
}

impl<G> fmt::Debug for WaitList<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList")
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The current task's place on a [`WaitList`]. Dropping it (however the
/// wait ends) takes the entry off the list and passes an uncollected grant
/// to the orphan handler.
pub(crate) struct Waiter<'a, G, F: FnOnce(G)> {
    list: &'a WaitList<G>,
    ticket: u64,
    orphan: Option<F>,
}

impl<G, F: FnOnce(G)> Waiter<'_, G, F> {
    /// Parks until granted (`Some`) or until `deadline` passes (`None`). A
    /// kill or a `with_timeout` unwinds out of it. `what` names the wait in
    /// the deadlock message (`"Queue::get"`).
    #[inline(always)] // its frame stays open across the switch
    pub(crate) fn park(mut self, what: &'static str, deadline: Option<Instant>) -> Option<G> {
        loop {
            let _timer = deadline.map(|deadline| CancelTimer::wake_at(deadline, current_waker()));
            park(WaitOn::Named(what));
            if let Some(grant) = self.list.leave(self.ticket) {
                self.orphan = None;
                return Some(grant);
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                self.orphan = None; // left the list above, with nothing
                return None;
            }
            // Woken with neither (the hub gives no such wake-ups today):
            // take the place back and wait on.
            self.ticket = self.list.push(current_waker());
        }
    }
}

impl<G, F: FnOnce(G)> Drop for Waiter<'_, G, F> {
    fn drop(&mut self) {
        let Some(orphan) = self.orphan.take() else {
            return;
        };
        if let Some(grant) = self.list.leave(self.ticket) {
            orphan(grant);
        }
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
