//! The reactor: file descriptors registered with the hub's `mio::Poll`, and
//! greenlets parked until one of them is ready.
//!
//! Every registered descriptor has an [`IoState`] in the [`Reactor`]'s
//! table, at the index that is its poll token. The reactor is the hub's
//! [`Driver`] for IO: the hub polls, and hands it the events. It has a read side and a write side, each
//! with a readiness bit and its own waiters, so one greenlet can read a socket
//! while another writes it.
//!
//! mio is edge-triggered: readiness is reported once per change, not while it
//! lasts. So an operation is always tried first ([`IoSource::io`]); only when
//! it says `WouldBlock` is the side marked not ready and the greenlet parked
//! until the next event for that side. The hub polls only while every greenlet
//! is switched out, so no event can slip in between the failed attempt and the
//! park. A wake-up without readiness (an event for a token whose descriptor
//! was closed and whose slot was reused, or an interrupt) just means another
//! attempt: it is never an error.
//!
//! Dropping an [`IoSource`] deregisters the descriptor before it is closed
//! (a `dup`ed descriptor would otherwise keep the registration alive).
//!
//! This module must not run user code while it borrows a waiter list.
//!
//! Layer: time and IO. Owns the registrations and the socket sides' waiters; uses the hub and time.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;

use slab::Slab;

use crate::hub::{
    Cancelled, Driver, Hub, WaitList, WaitOn, current_waker, park_cancellable, try_with_hub,
    with_hub,
};
use crate::time::CancelTimer;
use crate::time::deadline_after;

const READABLE: u8 = 0b0001;
const WRITABLE: u8 = 0b0010;
/// The peer closed its end (or the socket failed): reads end at once from
/// now on, so this is never cleared. It matters when the closing arrives in
/// the same event as the last data: a read that drains the data must not
/// mark the socket not ready, since no further edge will come.
const READ_CLOSED: u8 = 0b0100;
const WRITE_CLOSED: u8 = 0b1000;

/// Which side of a descriptor an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }

    /// The bits that make this direction worth an attempt.
    fn ready_bits(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED,
            Direction::Write => WRITABLE | WRITE_CLOSED,
        }
    }
}

/// The greenlets parked on one side of a descriptor, first come first
/// served; readiness wakes them all, in arrival order.
type Waiters = WaitList<()>;

/// What the hub knows about one registered descriptor, plus the per-handle
/// settings that decide how long an operation on it may wait.
pub(crate) struct IoState {
    ready: Cell<u8>,
    readers: Waiters,
    writers: Waiters,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    nonblocking: Cell<bool>,
}

impl IoState {
    fn new() -> IoState {
        IoState {
            // Unknown counts as ready: the first attempt finds out.
            ready: Cell::new(READABLE | WRITABLE),
            readers: Waiters::default(),
            writers: Waiters::default(),
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            nonblocking: Cell::new(false),
        }
    }

    fn side(&self, direction: Direction) -> &Waiters {
        match direction {
            Direction::Read => &self.readers,
            Direction::Write => &self.writers,
        }
    }

    /// Whether an attempt in `direction` is worth making (unknown counts as
    /// ready; an attempt that says `WouldBlock` clears it).
    #[inline]
    pub(crate) fn is_ready(&self, direction: Direction) -> bool {
        self.ready.get() & direction.ready_bits() != 0
    }

    /// Clears readiness and closure: for when an attempt said `WouldBlock`.
    #[inline]
    fn clear_all(&self, direction: Direction) {
        self.ready.set(self.ready.get() & !direction.ready_bits());
    }

    /// For a caller that learnt otherwise (a `poll` found `direction` not
    /// ready): the next wait parks until the next event.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    pub(crate) fn mark_not_ready(&self, direction: Direction) {
        self.clear_all(direction);
    }

    #[inline]
    fn clear(&self, direction: Direction) {
        self.ready.set(self.ready.get() & !direction.bit());
    }

    pub(crate) fn has_waiters(&self) -> bool {
        self.readers.has_waiters() || self.writers.has_waiters()
    }

    /// Records what a poll event reports and wakes the waiters it concerns.
    fn on_event(&self, event: &mio::event::Event) {
        let mut ready = 0;
        if event.is_readable() {
            ready |= READABLE;
        }
        if event.is_read_closed() || event.is_error() {
            ready |= READ_CLOSED;
        }
        if event.is_writable() {
            ready |= WRITABLE;
        }
        if event.is_write_closed() || event.is_error() {
            ready |= WRITE_CLOSED;
        }
        self.ready.set(self.ready.get() | ready);
        if ready & Direction::Read.ready_bits() != 0 {
            self.readers.grant_all(|| ());
        }
        if ready & Direction::Write.ready_bits() != 0 {
            self.writers.grant_all(|| ());
        }
    }

    /// The descriptor is going away (closed, or its number reused): both
    /// sides count as ready from now on, so every waiter wakes and makes
    /// its attempt, which finds out.
    fn go_away(&self) {
        self.ready
            .set(self.ready.get() | READ_CLOSED | WRITE_CLOSED);
        self.readers.grant_all(|| ());
        self.writers.grant_all(|| ());
    }

    /// Wakes every waiter on `direction` without any readiness: they try
    /// again (used to make an accept loop notice that its server stopped).
    pub(crate) fn wake(&self, direction: Direction) {
        self.side(direction).grant_all(|| ());
    }

    /// Parks until `direction` may be ready; false if `deadline` passed first.
    #[inline(always)] // its frame stays open across the switch
    fn wait(&self, direction: Direction, deadline: Option<Instant>, what: &'static str) -> bool {
        let waiter = self.side(direction).enqueue(drop);
        waiter.park_with(
            WaitOn::Named(what),
            |waker| deadline.map(|deadline| CancelTimer::wake_at(deadline, waker)),
            || deadline.is_some_and(|deadline| Instant::now() >= deadline),
        );
        self.is_ready(direction) || deadline.is_none_or(|deadline| Instant::now() < deadline)
    }
}

impl IoState {
    /// [`IoState::wait`] for a foreign call (a hooked libc function), which
    /// must not unwind: a kill or `with_timeout` cancels it instead.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    #[inline(always)] // its frame stays open across the switch
    fn wait_cancellable(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<bool, Cancelled> {
        let waiter = self.side(direction).enqueue(drop);
        waiter.park_with_cancel(
            WaitOn::Named(what),
            |waker| deadline.map(|deadline| CancelTimer::wake_at(deadline, waker)),
            || deadline.is_some_and(|deadline| Instant::now() >= deadline),
        )?;
        Ok(self.is_ready(direction) || deadline.is_none_or(|deadline| Instant::now() < deadline))
    }
}

/// Parks until one of `sides` may be ready, `deadline` passes, or any
/// wake-up (the caller asks the descriptors again): `poll` over several
/// descriptors. Cancelled as [`IoState::wait_cancellable`] is.
#[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
pub(crate) fn wait_any(
    sides: &[(&IoState, Direction)],
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), Cancelled> {
    // Every entry holds the waker of this park: the first grant wakes the
    // task, and the others are stale by then.
    let waiters: Vec<_> = sides
        .iter()
        .map(|(state, direction)| state.side(*direction).enqueue(drop))
        .collect();
    if sides
        .iter()
        .any(|(state, direction)| state.is_ready(*direction))
    {
        return Ok(());
    }
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        return Ok(());
    }
    let _timer = deadline.map(|deadline| CancelTimer::wake_at(deadline, current_waker()));
    let parked = park_cancellable(WaitOn::Named(what));
    drop(waiters);
    parked
}

/// The descriptors registered with a hub's poller: its [`Driver`] for IO.
#[derive(Default)]
pub(crate) struct Reactor {
    /// Indexed by poll token; while a task waits on one, an empty run queue
    /// is not a deadlock.
    sources: RefCell<Slab<Rc<IoState>>>,
}

impl Reactor {
    /// Registers `source` for read and write readiness (once: changing the
    /// interest later would cost a system call per wait) and returns its token.
    fn register(
        &self,
        hub: &Hub,
        source: &mut impl mio::event::Source,
        state: Rc<IoState>,
    ) -> io::Result<usize> {
        let mut sources = self.sources.borrow_mut();
        let entry = sources.vacant_entry();
        let token = entry.key();
        hub.with_registry(|registry| {
            registry.register(
                source,
                mio::Token(token),
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )
        })?;
        entry.insert(state);
        Ok(token)
    }

    /// Undoes [`Reactor::register`]; the state is dropped outside the borrow.
    fn deregister(&self, hub: &Hub, source: &mut impl mio::event::Source, token: usize) {
        if let Err(e) = hub.with_registry(|registry| registry.deregister(source)) {
            log::debug!(target: "greenlet", "deregistering token {token}: {e}");
        }
        self.forget_token(token);
    }

    /// Drops the table's entry for `token`, without telling the poller
    /// (whose registration went with the file that was closed).
    fn forget_token(&self, token: usize) {
        let state = self.sources.borrow_mut().try_remove(token);
        drop(state);
    }
}

impl Driver for Reactor {
    fn wants_poll(&self) -> bool {
        !self.sources.borrow().is_empty()
    }

    fn on_events(&self, _hub: &Hub, events: &mio::Events) {
        // Waking only queues tasks: no user code runs under this borrow. The
        // hub's waker token (`usize::MAX`) is never a key of this table.
        let sources = self.sources.borrow();
        for event in events.iter() {
            if let Some(state) = sources.get(event.token().0) {
                state.on_event(event);
            }
        }
    }

    /// Whether a task is parked on a descriptor.
    fn can_wake(&self) -> bool {
        self.sources
            .borrow()
            .iter()
            .any(|(_, state)| state.has_waiters())
    }
}

/// A descriptor registered with this thread's hub for as long as it lives.
pub(crate) struct Registration {
    state: Rc<IoState>,
    token: usize,
    fd: RawFd,
    /// The hub registered with (`Hub::serial`): its token means nothing to another.
    hub: u64,
    /// Deregistered already (see [`IoSource::deregister_now`]).
    gone: Cell<bool>,
}

impl Registration {
    fn new(fd: RawFd) -> io::Result<Registration> {
        with_hub(|hub| {
            let state = Rc::new(IoState::new());
            let token = hub
                .driver::<Reactor>()
                .register(hub, &mut SourceFd(&fd), state.clone())?;
            Ok(Registration {
                state,
                token,
                fd,
                hub: hub.serial(),
                gone: Cell::new(false),
            })
        })
    }
}

impl Registration {
    fn deregister(&self) {
        if self.gone.replace(true) {
            return;
        }
        // After the thread's hub is gone (a socket in another thread-local),
        // closing the descriptor is all there is left to do: its poller was
        // closed with it, and a hub made since has its own tokens.
        let _ = try_with_hub(|hub| {
            if hub.serial() == self.hub {
                hub.driver::<Reactor>()
                    .deregister(hub, &mut SourceFd(&self.fd), self.token);
            }
        });
    }
}

impl Registration {
    /// For a registration whose descriptor number names another file now:
    /// forgets the token, without the system call that would deregister
    /// the other file.
    fn abandon(&self) {
        if self.gone.replace(true) {
            return;
        }
        let _ = try_with_hub(|hub| {
            if hub.serial() == self.hub {
                hub.driver::<Reactor>().forget_token(self.token);
            }
        });
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// A non-blocking descriptor `S` registered with the hub, and the retry
/// loop that makes its operations block only the calling greenlet.
pub(crate) struct IoSource<S: AsRawFd> {
    // Declared first, so dropped first: deregistered while `io` is still open.
    registration: Registration,
    io: S,
}

impl<S: AsRawFd> IoSource<S> {
    /// Registers `io`, which must already be in non-blocking mode.
    pub(crate) fn new(io: S) -> io::Result<IoSource<S>> {
        let registration = Registration::new(io.as_raw_fd())?;
        Ok(IoSource { registration, io })
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    /// Deregisters and returns the descriptor (still non-blocking).
    pub(crate) fn into_inner(self) -> S {
        let IoSource { registration, io } = self;
        drop(registration);
        io
    }

    pub(crate) fn state(&self) -> &IoState {
        &self.registration.state
    }

    /// Runs `op` until it does not say `WouldBlock`, parking the greenlet
    /// until `direction` is ready in between. Gives up with `WouldBlock`
    /// when in non-blocking mode, and with `WouldBlock` ("timed out", as std
    /// on Unix) when the timeout for `direction` passes.
    #[inline(always)] // its frame would stay open across the switch
    pub(crate) fn io<R>(
        &self,
        direction: Direction,
        what: &'static str,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let state = self.state();
        let timeout = match direction {
            Direction::Read => state.read_timeout.get(),
            Direction::Write => state.write_timeout.get(),
        };
        let mut deadline = None;
        loop {
            // In non-blocking mode every call asks the socket, as std's does:
            // the caller may be polling without letting the hub run.
            if state.is_ready(direction) || state.nonblocking.get() {
                match op(&self.io) {
                    // Not ready, whatever an earlier event said (an error
                    // reported and taken, a datagram socket's shutdown).
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => state.clear_all(direction),
                    result => return result,
                }
            }
            if state.nonblocking.get() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let deadline = *deadline.get_or_insert_with(|| timeout.and_then(deadline_after));
            if !state.wait(direction, deadline, what) {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the operation timed out",
                ));
            }
        }
    }

    /// Parks until `direction` is reported ready, or until `deadline`:
    /// for operations that start with no attempt (a non-blocking connect).
    /// Returns false if the deadline passed first.
    pub(crate) fn wait_ready(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> bool {
        let state = self.state();
        state.clear(direction);
        while !state.is_ready(direction) {
            if !state.wait(direction, deadline, what) {
                return false;
            }
        }
        true
    }

    /// Deregisters the descriptor now, while its number still names it
    /// (it is about to be closed or replaced), and wakes every waiter so
    /// that it finds out. Dropping the source later does nothing more: by
    /// then the number may name another file, registered by someone else.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    pub(crate) fn deregister_now(&self) {
        self.registration.deregister();
        self.state().go_away();
    }

    /// [`IoSource::deregister_now`] for a source whose descriptor number
    /// already names another file (it was closed where this thread did not
    /// see it): nothing is asked of the poller, which would act on the
    /// other file.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    pub(crate) fn abandon(&self) {
        self.registration.abandon();
        self.state().go_away();
    }

    /// For a foreign call whose attempt just said `EAGAIN`: marks
    /// `direction` not ready and parks until it is reported ready (`true`)
    /// or `deadline` passes (`false`). A kill or `with_timeout` cancels the
    /// wait instead of unwinding.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    pub(crate) fn wait_cancellable(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<bool, Cancelled> {
        let state = self.state();
        state.clear_all(direction);
        while !state.is_ready(direction) {
            if !state.wait_cancellable(direction, deadline, what)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Parks once until `direction` may be ready: returns on readiness or
    /// on any wake-up without it (see [`IoState::wake`]), at once if it is
    /// ready already.
    pub(crate) fn wait_once(&self, direction: Direction, what: &'static str) {
        let state = self.state();
        if !state.is_ready(direction) {
            state.wait(direction, None, what);
        }
    }

    /// Marks `direction` not ready after an operation that drained it (a
    /// read that filled less than its buffer), saving the attempt that would
    /// only say `WouldBlock`. The next edge sets it again.
    #[inline]
    pub(crate) fn drained(&self, direction: Direction) {
        self.state().clear(direction);
    }

    pub(crate) fn set_timeout(
        &self,
        direction: Direction,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let state = self.state();
        match direction {
            Direction::Read => state.read_timeout.set(timeout),
            Direction::Write => state.write_timeout.set(timeout),
        }
        Ok(())
    }

    pub(crate) fn timeout(&self, direction: Direction) -> Option<Duration> {
        let state = self.state();
        match direction {
            Direction::Read => state.read_timeout.get(),
            Direction::Write => state.write_timeout.get(),
        }
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.state().nonblocking.set(nonblocking);
    }
}

impl<S: AsRawFd + AsFd> AsFd for IoSource<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl<S: AsRawFd + fmt::Debug> fmt::Debug for IoSource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
