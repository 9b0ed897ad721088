//! [`WaitList`]: the one queue of parked tasks that every wait is built on —
//! joins, each side of a socket, the server's accept loop, and every
//! coordination primitive (queues, locks, events, pools).
//!
//! Whoever cannot go on puts itself on a wait-list and parks. Whoever makes
//! progress possible later *grants* the first waiter something — an item, a
//! permit, the lock, or just `()` — and wakes it. The grant is stored in the
//! waiter's entry, so it belongs to that waiter even before it runs: a task
//! that asks in between cannot barge in, and waiters are served in arrival
//! order. A waiter woken without a grant (a deadline, an interrupt that
//! cannot be raised yet) keeps its place.
//!
//! A waiter can also leave without being served: its wait ends (a deadline)
//! or it is killed or timed out while parked. It then removes its entry, and
//! if a grant reached it first (woken, but interrupted before it ran) it
//! hands the grant to its primitive's *orphan* handler, which passes it to
//! the next waiter or puts it back. So nothing granted is lost or handed out
//! twice.
//!
//! This module owns the list and the parking; it knows nothing of what is
//! granted, nor of time: a timed wait arms its own timer (see `arm` in
//! [`Waiter::park_with`]). It runs no user code while it borrows its state.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;

use super::{Cancelled, WaitOn, Waker, current_waker, park, park_cancellable, with_hub};

/// A FIFO of parked tasks, each waiting to be granted a `G`.
pub(crate) struct WaitList<G> {
    inner: RefCell<Inner<G>>,
}

struct Inner<G> {
    /// Sorted by ticket (arrival order). The first `granted` entries hold a
    /// grant their waiter has not collected yet; the rest are still waiting.
    entries: Entries<G>,
    granted: usize,
    next_ticket: u64,
}

struct Entry<G> {
    ticket: u64,
    waker: Waker,
    grant: Option<G>,
}

impl<G> Inner<G> {
    fn index(&self, ticket: u64) -> Option<usize> {
        self.entries.index(ticket)
    }
}

/// The entries of a wait-list: the first one inline, so that the usual list
/// of one waiter (a join, a socket's reader) needs no allocation; the rest
/// in a deque, boxed and made on first use (a wait-list is in every task
/// header and socket side, and most never hold two waiters).
struct Entries<G> {
    first: Option<Entry<G>>,
    // Boxed on purpose: one pointer instead of a deque's four words.
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<Entry<G>>>>,
}

impl<G> Entries<G> {
    const fn new() -> Entries<G> {
        Entries {
            first: None,
            rest: None,
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.as_ref().map_or(0, |rest| rest.len())
    }

    fn push_back(&mut self, entry: Entry<G>) {
        if self.first.is_none() {
            debug_assert!(self.rest.as_ref().is_none_or(|rest| rest.is_empty()));
            self.first = Some(entry);
        } else {
            self.rest.get_or_insert_default().push_back(entry);
        }
    }

    fn get_mut(&mut self, index: usize) -> Option<&mut Entry<G>> {
        match index {
            0 => self.first.as_mut(),
            _ => self.rest.as_mut()?.get_mut(index - 1),
        }
    }

    fn remove(&mut self, index: usize) -> Option<Entry<G>> {
        match index {
            0 => {
                let first = self.first.take();
                self.first = self.rest.as_mut().and_then(|rest| rest.pop_front());
                first
            }
            _ => self.rest.as_mut()?.remove(index - 1),
        }
    }

    /// Where the entry with `ticket` is.
    fn index(&self, ticket: u64) -> Option<usize> {
        match &self.first {
            Some(first) if first.ticket == ticket => Some(0),
            Some(_) => self
                .rest
                .as_ref()?
                .binary_search_by_key(&ticket, |entry| entry.ticket)
                .ok()
                .map(|index| index + 1),
            None => None,
        }
    }
}

impl<G> Default for WaitList<G> {
    fn default() -> Self {
        WaitList::new()
    }
}

impl<G> WaitList<G> {
    pub(crate) const fn new() -> WaitList<G> {
        WaitList {
            inner: RefCell::new(Inner {
                entries: Entries::new(),
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
    /// [`Waiter::park_with`]; until then the caller may still act (for
    /// example offer something in exchange) knowing it is counted as a waiter.
    ///
    /// `orphan` receives a grant that reaches the waiter but that it will not
    /// collect (it leaves by deadline or interrupt first).
    pub(crate) fn enqueue<F: FnOnce(G)>(&self, orphan: F) -> Waiter<'_, G, F> {
        let waker = current_waker();
        let mut inner = self.inner.borrow_mut();
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        inner.entries.push_back(Entry {
            ticket,
            waker,
            grant: None,
        });
        Waiter {
            list: self,
            ticket,
            waker: Some(waker),
            orphan: Some(orphan),
        }
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

    /// Grants every waiter a value made by `make`, in arrival order.
    pub(crate) fn grant_all(&self, mut make: impl FnMut() -> G) {
        while self.has_waiters() {
            let _ = self.grant(make());
        }
    }

    /// Takes the grant of the entry with `ticket` (and the entry with it), if
    /// it has one.
    fn take_grant(&self, ticket: u64) -> Option<G> {
        let mut inner = self.inner.borrow_mut();
        let inner = &mut *inner;
        // The usual case, the first waiter, without moving its entry out.
        if let Some(first) = &mut inner.entries.first
            && first.ticket == ticket
        {
            let grant = first.grant.take()?;
            inner.entries.first = match &mut inner.entries.rest {
                Some(rest) => rest.pop_front(),
                None => None,
            };
            inner.granted -= 1;
            return Some(grant);
        }
        let index = inner.index(ticket)?;
        inner.entries.get_mut(index)?.grant.as_ref()?;
        let entry = inner.entries.remove(index)?;
        inner.granted -= 1;
        entry.grant
    }

    /// Gives the entry with `ticket` the current task's waker for its next park.
    fn rearm(&self, ticket: u64) -> Waker {
        let waker = current_waker();
        let mut inner = self.inner.borrow_mut();
        if let Some(entry) = inner.index(ticket).and_then(|i| inner.entries.get_mut(i)) {
            entry.waker = waker;
        }
        waker
    }

    /// Removes the entry with `ticket`, returning its grant if it had one.
    fn leave(&self, ticket: u64) -> Option<G> {
        let mut inner = self.inner.borrow_mut();
        let index = inner.index(ticket)?;
        let entry = inner.entries.remove(index)?;
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
    /// The waker its entry holds, while still good for the next park.
    waker: Option<Waker>,
    orphan: Option<F>,
}

impl<G, F: FnOnce(G)> Waiter<'_, G, F> {
    /// Parks until granted (`Some`), or until `over()` says that the wait is
    /// over (`None`). Before each park `arm` gets the waker for it and
    /// returns what to hold while parked (a timer that fires the waker at a
    /// deadline, or a copy of the waker handed to another thread); `over()`
    /// is asked after arming, so a condition that came true before the
    /// waker was handed out is not slept through. A kill or a `with_timeout`
    /// unwinds out of it. `what` names the wait in the deadlock message.
    #[inline(always)] // its frame stays open across the switch
    pub(crate) fn park_with<T>(
        self,
        what: WaitOn,
        arm: impl FnMut(Waker) -> T,
        over: impl FnMut() -> bool,
    ) -> Option<G> {
        let parked = self.park_loop(what, arm, over, |what| {
            park(what);
            Ok(())
        });
        parked.unwrap_or_else(|Cancelled| unreachable!("`park` unwinds instead"))
    }

    /// [`Waiter::park_with`] for code called from foreign frames, which must
    /// not unwind: a kill or `with_timeout` cancels the wait instead
    /// (`Err`), as [`park_cancellable`] does.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    #[inline(always)] // its frame stays open across the switch
    pub(crate) fn park_with_cancel<T>(
        self,
        what: WaitOn,
        arm: impl FnMut(Waker) -> T,
        over: impl FnMut() -> bool,
    ) -> Result<Option<G>, Cancelled> {
        self.park_loop(what, arm, over, park_cancellable)
    }

    #[inline(always)]
    fn park_loop<T>(
        mut self,
        what: WaitOn,
        mut arm: impl FnMut(Waker) -> T,
        mut over: impl FnMut() -> bool,
        mut park: impl FnMut(WaitOn) -> Result<(), Cancelled>,
    ) -> Result<Option<G>, Cancelled> {
        // The waker stored at `enqueue` is still good unless the task was
        // woken since (then its park generation moved on).
        let mut waker = match self.waker.take() {
            Some(waker) if waker == current_waker() => waker,
            _ => self.list.rearm(self.ticket),
        };
        loop {
            let _armed = arm(waker);
            if over() {
                return Ok(None); // dropping `self` leaves the list
            }
            park(what)?;
            if let Some(grant) = self.list.take_grant(self.ticket) {
                self.orphan = None;
                return Ok(Some(grant));
            }
            if over() {
                return Ok(None); // dropping `self` leaves the list
            }
            waker = self.list.rearm(self.ticket);
        }
    }
}

impl<G, F: FnOnce(G)> Drop for Waiter<'_, G, F> {
    fn drop(&mut self) {
        if self.orphan.is_none() {
            return; // collected its grant, and its entry with it
        }
        let grant = self.list.leave(self.ticket);
        if let (Some(grant), Some(orphan)) = (grant, self.orphan.take()) {
            orphan(grant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_goes_to_the_longest_waiter_and_one_without_waiters_comes_back() {
        let list: WaitList<u32> = WaitList::new();
        assert_eq!(list.grant(1), Err(1));
        let first = list.enqueue(drop);
        let second = list.enqueue(drop);
        assert_eq!(list.waiting(), 2);
        list.grant(7).unwrap();
        assert_eq!(list.waiting(), 1);
        assert_eq!(list.take_grant(second.ticket), None);
        assert_eq!(list.take_grant(first.ticket), Some(7));
        drop(first);
        drop(second);
        assert_eq!(list.waiting(), 0);
    }

    #[test]
    fn grants_keep_arrival_order_after_waiters_leave_from_the_front_and_the_middle() {
        let list: WaitList<u32> = WaitList::new();
        let waiters: Vec<_> = (0..5).map(|_| list.enqueue(drop)).collect();
        let tickets: Vec<u64> = waiters.iter().map(|w| w.ticket).collect();
        let mut waiters: Vec<_> = waiters.into_iter().map(Some).collect();
        drop(waiters[0].take()); // the front leaves
        drop(waiters[2].take()); // and one from the middle
        assert_eq!(list.waiting(), 3);
        for grant in [10, 11, 12] {
            list.grant(grant).unwrap();
        }
        assert_eq!(list.grant(13), Err(13));
        let got: Vec<_> = [1, 3, 4]
            .into_iter()
            .map(|i| list.take_grant(tickets[i]))
            .collect();
        assert_eq!(got, [Some(10), Some(11), Some(12)]);
    }

    #[test]
    fn a_waiter_that_leaves_with_a_grant_hands_it_to_its_orphan_handler() {
        let list: WaitList<u32> = WaitList::new();
        let handed = std::cell::Cell::new(None);
        let waiter = list.enqueue(|grant| handed.set(Some(grant)));
        list.grant(3).unwrap();
        drop(waiter);
        assert_eq!(handed.get(), Some(3));
        assert_eq!(list.waiting(), 0);
    }
}
