//! What a patched call does: the safe half of the hooks. `hooks.rs` turns
//! each libc entry point into a call here, with the kernel's operation as a
//! closure, and this module decides whether to pass it through, retry it
//! after parking the greenlet, or wait in `poll` on the caller's behalf.
//!
//! Errors follow the C convention the hooks must keep: -1 and `errno`.
//!
//! Layer: user-facing (monkey patching). Uses the reactor, time and the hub.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use libc::c_int;

use super::fds::{
    self, Entry, KNOWN, OUR_NONBLOCK, POLLABLE, RCVTIMEO, SNDTIMEO, STREAM, USER_NONBLOCK,
};
use super::kernel::{errno, set_errno, sys};
use crate::hub::{Cancelled, WaitOn, current_waker, in_greenlet, park_cancellable};
use crate::reactor::{self, Direction, IoSource};
use crate::time::CancelTimer;

/// Whether `patch_all` was called: the one check an unpatched call makes.
#[inline(always)]
pub(super) fn patched() -> bool {
    super::PATCHED.load(std::sync::atomic::Ordering::Relaxed)
}

/// A descriptor number registered with this thread's hub, not owned: the
/// user's code closes it (through the `close` hook, which forgets it here
/// first).
struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A registration, and the generation (see `fds.rs`) of the file it was
/// made for.
type Registered = (u32, Rc<IoSource<Fd>>);

thread_local! {
    /// This thread's registrations of hooked descriptors, by number.
    static SOURCES: RefCell<Vec<Option<Registered>>> = const { RefCell::new(Vec::new()) };
}

/// This thread's registration of `fd` for its current file, made on first use.
fn source(fd: RawFd, entry: Entry) -> io::Result<Rc<IoSource<Fd>>> {
    let index = usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let generation = entry.generation();
    let found = SOURCES
        .try_with(|sources| {
            let sources = sources.borrow();
            match sources.get(index) {
                Some(Some((made_for, source))) if *made_for == generation => Some(source.clone()),
                _ => None,
            }
        })
        .map_err(|_| io::Error::other("the thread is exiting"))?;
    if let Some(source) = found {
        return Ok(source);
    }
    abandon(fd); // a registration for an earlier file under this number
    let source = Rc::new(IoSource::new(Fd(fd))?);
    let _ = SOURCES.try_with(|sources| {
        let mut sources = sources.borrow_mut();
        if sources.len() <= index {
            sources.resize_with(index + 1, || None);
        }
        sources[index] = Some((generation, source.clone()));
    });
    Ok(source)
}

/// Drops this thread's registration of `fd`, before the number is closed
/// or made to name another file: it is deregistered now (a duplicate of the
/// descriptor would keep it in the poller, and later the number may be
/// another file's), and greenlets parked on it wake to find it gone.
pub(super) fn forget(fd: RawFd) {
    forget_if(fd, |_| true);
}

fn forget_if(fd: RawFd, whether: impl FnOnce(&IoSource<Fd>) -> bool) {
    // Outside the table's borrow: waking queues tasks, deregistering calls
    // the hub.
    match take(fd, whether) {
        Some((made_for, source)) if made_for == fds::get(fd).generation() => {
            source.deregister_now();
        }
        Some((_, source)) => source.abandon(),
        None => {}
    }
}

/// Drops this thread's registration of an earlier file under the number
/// `fd` (closed where this thread did not see it): the poller is not asked
/// (it would deregister the file the number names now).
fn abandon(fd: RawFd) {
    if let Some((_, source)) = take(fd, |_| true) {
        source.abandon();
    }
}

/// Takes this thread's registration of `fd` out of the table, if `whether`.
fn take(fd: RawFd, whether: impl FnOnce(&IoSource<Fd>) -> bool) -> Option<Registered> {
    let index = usize::try_from(fd).ok()?;
    SOURCES
        .try_with(|sources| {
            let mut sources = sources.borrow_mut();
            let slot = sources.get_mut(index)?;
            if whether(&slot.as_ref()?.1) {
                slot.take()
            } else {
                None
            }
        })
        .ok()
        .flatten()
}

/// Whether `fd` still names the file `entry` was read for (a greenlet
/// woken from a wait finds out whether it was closed meanwhile).
fn same_file(fd: RawFd, entry: Entry) -> bool {
    fds::get(fd).generation() == entry.generation()
}

/// What the hooks know of `fd`, finding out first if they know nothing.
fn classify(fd: RawFd) -> Entry {
    let seen = fds::get(fd);
    if seen.has(KNOWN) {
        return seen;
    }
    let mut flags = 0;
    // The standard streams are left alone even when they are sockets (a
    // service manager's log socket): they are shared with every child
    // process, which would inherit the non-blocking mode.
    if fd > 2 && sys::is_socket(fd) {
        flags |= POLLABLE;
        if sys::is_stream_socket(fd) {
            flags |= STREAM;
        }
        if sys::socket_timeout(fd, libc::SO_RCVTIMEO).is_some() {
            flags |= RCVTIMEO;
        }
        if sys::socket_timeout(fd, libc::SO_SNDTIMEO).is_some() {
            flags |= SNDTIMEO;
        }
    }
    // The hooks never set O_NONBLOCK on a descriptor they did not know, so
    // a set flag is the user's.
    if sys::status_flags(fd).is_some_and(|fl| fl & libc::O_NONBLOCK != 0) {
        flags |= USER_NONBLOCK;
    }
    fds::classified(fd, seen, flags)
}

/// For a call in a greenlet: the entry of `fd` if its blocking calls are
/// the hooks' to make non-blocking (a socket whose user wants blocking IO),
/// with `O_NONBLOCK` set on it; `None` to pass the call through.
fn managed(fd: RawFd) -> Option<Entry> {
    let entry = classify(fd);
    if !entry.has(POLLABLE) || entry.has(USER_NONBLOCK) {
        return None;
    }
    if entry.has(OUR_NONBLOCK) {
        return Some(entry);
    }
    let flags = sys::status_flags(fd)?;
    if flags & libc::O_NONBLOCK == 0 && !sys::set_status_flags(fd, flags | libc::O_NONBLOCK) {
        return None;
    }
    fds::set(fd, OUR_NONBLOCK, true);
    Some(fds::get(fd))
}

/// When a call on `fd` in `direction` must give up, by its user's
/// `SO_RCVTIMEO` / `SO_SNDTIMEO`.
fn deadline(fd: RawFd, entry: Entry, direction: Direction) -> Option<Instant> {
    let (flag, option) = match direction {
        Direction::Read => (RCVTIMEO, libc::SO_RCVTIMEO),
        Direction::Write => (SNDTIMEO, libc::SO_SNDTIMEO),
    };
    if !entry.has(flag) {
        return None;
    }
    let timeout = sys::socket_timeout(fd, option)?;
    Instant::now().checked_add(timeout)
}

fn would_block(error: c_int) -> bool {
    error == libc::EAGAIN || error == libc::EWOULDBLOCK
}

fn poll_events(direction: Direction) -> libc::c_short {
    match direction {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    }
}

/// How a wait for a descriptor ended.
enum Waited {
    Ready,
    TimedOut,
    Cancelled,
}

/// Parks the greenlet until `direction` of `fd` is ready, after an attempt
/// said `EAGAIN`.
fn wait(fd: RawFd, entry: Entry, direction: Direction, deadline: Option<Instant>) -> Waited {
    let what = match direction {
        Direction::Read => "a patched read",
        Direction::Write => "a patched write",
    };
    match source(fd, entry) {
        Ok(source) => match source.wait_cancellable(direction, deadline, what) {
            Ok(true) => Waited::Ready,
            Ok(false) => Waited::TimedOut,
            Err(Cancelled) => Waited::Cancelled,
        },
        // The poller refused it: wait as the kernel would (this blocks the
        // hub, but loses nothing).
        Err(e) => {
            log::debug!(target: "greenlet", "cannot register descriptor {fd}: {e}");
            match sys::poll_one(fd, poll_events(direction), remaining(deadline)) {
                0 => Waited::TimedOut,
                _ => Waited::Ready,
            }
        }
    }
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

/// A call that transfers data (or accepts) on `fd` in `direction`: `op`
/// makes the kernel's call once and returns its result (-1 and `errno` on
/// failure). In a greenlet, on a socket whose user wants blocking IO, a
/// call that would block parks the greenlet until the socket is ready and
/// is made again; outside greenlets it is the kernel's call, with a
/// blocking wait in `poll` if the hooks made the socket non-blocking.
///
/// `asked` is how many bytes a plain read asks for (`None` for other
/// calls): on a byte stream, a read that returns fewer has drained the
/// descriptor, so the next one parks at once instead of asking the kernel
/// only to hear `EAGAIN` (as `greenlet::net` does).
#[inline(always)]
pub(super) fn transfer(
    fd: RawFd,
    direction: Direction,
    asked: Option<usize>,
    mut op: impl FnMut() -> isize,
) -> isize {
    // The pass-through cases first, inlined into the hook: unpatched, and
    // outside greenlets on a descriptor the hooks did not make non-blocking.
    if !patched() || (!in_greenlet() && !fds::get(fd).has(OUR_NONBLOCK)) {
        return op();
    }
    transfer_patched(fd, direction, asked, op)
}

fn transfer_patched(
    fd: RawFd,
    direction: Direction,
    asked: Option<usize>,
    mut op: impl FnMut() -> isize,
) -> isize {
    if !in_greenlet() {
        let entry = fds::get(fd);
        if entry.has(OUR_NONBLOCK) && !entry.has(USER_NONBLOCK) {
            return transfer_blocking(fd, entry, direction, op);
        }
        return op();
    }
    let Some(entry) = managed(fd) else {
        return op();
    };
    let source = match source(fd, entry) {
        Ok(source) => source,
        Err(e) => {
            log::debug!(target: "greenlet", "cannot register descriptor {fd}: {e}");
            return transfer_blocking(fd, entry, direction, op);
        }
    };
    let state = source.state();
    let what = match direction {
        Direction::Read => "a patched read",
        Direction::Write => "a patched write",
    };
    let mut deadline = None;
    let mut first = true;
    loop {
        if state.is_ready(direction) {
            let result = op();
            if result >= 0 {
                let short = asked.is_some_and(|asked| (result as usize) < asked);
                if short && entry.has(STREAM) {
                    source.drained(direction);
                }
                return result;
            }
            let error = errno();
            if !would_block(error) {
                return result;
            }
            state.mark_not_ready(direction);
        }
        if std::mem::take(&mut first) {
            deadline = self::deadline(fd, entry, direction);
        }
        match source.wait_cancellable(direction, deadline, what) {
            // Closed (or replaced) by another greenlet while this one
            // waited: the number may name another file by now.
            Ok(_) if !same_file(fd, entry) => return fail(libc::EBADF),
            Ok(true) => {}
            Ok(false) => return fail(libc::EAGAIN),
            Err(Cancelled) => return fail(libc::ECANCELED),
        }
    }
}

/// Outside greenlets, on a socket the hooks made non-blocking though its
/// user wants it blocking: the call blocks the thread, as the kernel's would.
fn transfer_blocking(
    fd: RawFd,
    entry: Entry,
    direction: Direction,
    mut op: impl FnMut() -> isize,
) -> isize {
    let deadline = deadline(fd, entry, direction);
    loop {
        let result = op();
        if result >= 0 || !would_block(errno()) {
            return result;
        }
        let left = remaining(deadline);
        if left == Some(Duration::ZERO) {
            return fail(libc::EAGAIN);
        }
        match sys::poll_one(fd, poll_events(direction), left) {
            0 => return fail(libc::EAGAIN),
            n if n < 0 => return -1, // EINTR, as the kernel's call would say
            _ => {}
        }
    }
}

fn fail(error: c_int) -> isize {
    set_errno(error);
    -1
}

/// `connect`: `op` starts the connection. On a socket the hooks manage it
/// waits (parking the greenlet, or in `poll` outside greenlets) until the
/// connection is made or fails, as a blocking connect does; `SO_SNDTIMEO`
/// bounds it (then `EINPROGRESS`, as the kernel says).
pub(super) fn connect(fd: RawFd, mut op: impl FnMut() -> c_int) -> c_int {
    if !patched() {
        return op();
    }
    let entry = if in_greenlet() {
        match managed(fd) {
            Some(entry) => entry,
            None => return op(),
        }
    } else {
        let entry = fds::get(fd);
        if !entry.has(OUR_NONBLOCK) || entry.has(USER_NONBLOCK) {
            return op();
        }
        entry
    };
    let result = op();
    if result == 0 {
        return 0;
    }
    let error = errno();
    if error != libc::EINPROGRESS {
        set_errno(error);
        return result;
    }
    let deadline = deadline(fd, entry, Direction::Write);
    let waited = if in_greenlet() {
        let waited = wait(fd, entry, Direction::Write, deadline);
        if !same_file(fd, entry) {
            return fail(libc::EBADF) as c_int;
        }
        waited
    } else {
        match sys::poll_one(fd, libc::POLLOUT, remaining(deadline)) {
            0 => Waited::TimedOut,
            n if n < 0 => return -1,
            _ => Waited::Ready,
        }
    };
    match waited {
        Waited::Ready => match sys::socket_error(fd) {
            0 => 0,
            error => fail(error) as c_int,
        },
        Waited::TimedOut => fail(libc::EINPROGRESS) as c_int,
        Waited::Cancelled => fail(libc::ECANCELED) as c_int,
    }
}

/// `poll` over `polled` (descriptor, events) with `timeout` (`None`: no
/// limit), in a greenlet: `op(wait)` is the kernel's poll over the caller's
/// array, for no time (`false`) or the whole timeout (`true`). While no
/// descriptor is ready the greenlet parks until one may be, or the timeout
/// passes. Descriptors that are not sockets cannot be waited for without
/// blocking the hub: then it is the kernel's poll.
pub(super) fn poll(
    polled: &[(RawFd, libc::c_short)],
    timeout: Option<Duration>,
    mut op: impl FnMut(Option<Duration>) -> c_int,
) -> c_int {
    if !patched() || !in_greenlet() || timeout == Some(Duration::ZERO) {
        return op(timeout);
    }
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    let mut sides = Vec::with_capacity(polled.len());
    for &(fd, events) in polled {
        if fd < 0 {
            continue; // poll ignores it
        }
        let entry = classify(fd);
        if !entry.has(POLLABLE) {
            return op(timeout);
        }
        let Ok(source) = source(fd, entry) else {
            return op(timeout);
        };
        if events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDNORM | libc::POLLRDBAND) != 0
            || events & (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) == 0
        {
            sides.push((source.clone(), Direction::Read));
        }
        if events & (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) != 0 {
            sides.push((source, Direction::Write));
        }
    }
    let states: Vec<_> = sides
        .iter()
        .map(|(source, direction)| (source.state(), *direction))
        .collect();
    loop {
        let ready = op(Some(Duration::ZERO));
        if ready != 0 {
            return ready;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return 0;
        }
        // The kernel just said none is ready: wait for the next event.
        for (state, direction) in &states {
            state.mark_not_ready(*direction);
        }
        if reactor::wait_any(&states, deadline, "a patched poll").is_err() {
            return fail(libc::ECANCELED) as c_int;
        }
    }
}

/// A sleep of `duration` in a greenlet: parks it (other greenlets run).
/// `Err` with the time left if a kill or `with_timeout` cancelled it.
pub(super) fn sleep(duration: Duration) -> Result<(), Duration> {
    let deadline = Instant::now().checked_add(duration);
    loop {
        let _timer = deadline.map(|deadline| CancelTimer::wake_at(deadline, current_waker()));
        if park_cancellable(WaitOn::Sleep).is_err() {
            return Err(match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => duration,
            });
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ok(());
        }
    }
}

/// Whether a sleep should park the calling greenlet.
pub(super) fn parks_here() -> bool {
    patched() && in_greenlet()
}

/// After `socket`, `accept` and friends: `fd` is a new socket, non-blocking
/// if its user asked.
pub(super) fn socket_created(fd: RawFd, nonblocking: bool, stream: bool) {
    if patched() && fd >= 0 {
        let user = if nonblocking { USER_NONBLOCK } else { 0 };
        let stream = if stream { STREAM } else { 0 };
        fds::created(fd, KNOWN | POLLABLE | user | stream);
    }
}

/// After `accept` on `listener`: the new socket is of the listener's type.
pub(super) fn accepted(listener: RawFd, fd: RawFd, nonblocking: bool) {
    if patched() && fd >= 0 {
        let stream = fds::get(listener).has(STREAM) || sys::is_stream_socket(fd);
        socket_created(fd, nonblocking, stream);
    }
}

/// After `pipe` / `pipe2`: both ends are new, and this process's own.
pub(super) fn pipe_created(ends: [RawFd; 2], nonblocking: bool) {
    for fd in ends {
        socket_created(fd, nonblocking, true);
    }
}

/// Before `close(fd)`: forget everything about it.
pub(super) fn closing(fd: RawFd) {
    if patched() {
        forget(fd);
        fds::closed(fd);
    }
}

/// After `dup` and friends made `to` refer to what `from` does.
pub(super) fn duplicated(from: RawFd, to: RawFd) {
    if patched() && to >= 0 {
        forget(to);
        fds::duplicated(from, to);
    }
}

/// `fcntl(F_GETFL)`'s result as the user should see it.
pub(super) fn visible_status_flags(fd: RawFd, flags: c_int) -> c_int {
    if patched() && flags >= 0 {
        let entry = fds::get(fd);
        if entry.has(OUR_NONBLOCK) && !entry.has(USER_NONBLOCK) {
            return flags & !libc::O_NONBLOCK;
        }
    }
    flags
}

/// `fcntl(F_SETFL, flags)`: what to give the kernel (the hooks keep
/// `O_NONBLOCK` on a socket they manage), and records what the user wants.
pub(super) fn set_status_flags(fd: RawFd, flags: c_int, op: impl FnOnce(c_int) -> c_int) -> c_int {
    if !patched() {
        return op(flags);
    }
    let user = flags & libc::O_NONBLOCK != 0;
    let ours = fds::get(fd).has(OUR_NONBLOCK);
    let result = op(if ours {
        flags | libc::O_NONBLOCK
    } else {
        flags
    });
    if result >= 0 {
        user_nonblocking(fd, user);
    }
    result
}

/// The user made `fd` non-blocking (`on`) or blocking. A non-blocking one
/// is never waited for by the hooks: their registration goes (its user may
/// register it with a poller of their own, such as `greenlet::net`'s),
/// unless a greenlet is still parked on it in a hooked call.
fn user_nonblocking(fd: RawFd, on: bool) {
    fds::set(fd, USER_NONBLOCK, on);
    if on {
        forget_if(fd, |source| !source.state().has_waiters());
    }
}

/// `ioctl(FIONBIO, on)`: a user who asks for blocking IO on a socket the
/// hooks manage gets it emulated (the kernel's flag stays set).
pub(super) fn set_nonblocking(fd: RawFd, on: bool, op: impl FnOnce() -> c_int) -> c_int {
    if !patched() {
        return op();
    }
    if !on && fds::get(fd).has(OUR_NONBLOCK) {
        user_nonblocking(fd, false);
        return 0;
    }
    let result = op();
    if result >= 0 {
        user_nonblocking(fd, on);
    }
    result
}

/// After a successful `setsockopt(SO_RCVTIMEO / SO_SNDTIMEO)`.
pub(super) fn timeout_set(fd: RawFd, option: c_int) {
    if patched() {
        match option {
            libc::SO_RCVTIMEO => fds::set(fd, RCVTIMEO, true),
            libc::SO_SNDTIMEO => fds::set(fd, SNDTIMEO, true),
            _ => {}
        }
    }
}

/// `epoll_wait` on `epfd` with `timeout` (`None`: no limit), in a greenlet:
/// `op(ms)` is the kernel's call with that timeout in milliseconds. An
/// epoll descriptor is itself pollable: while it has nothing to report the
/// greenlet parks until it may, so an event loop inside a sync client parks
/// only its greenlet.
pub(super) fn epoll_wait(
    epfd: RawFd,
    timeout: Option<Duration>,
    mut op: impl FnMut(c_int) -> c_int,
) -> c_int {
    let whole = || timeout.map_or(-1, |t| c_int::try_from(t.as_millis()).unwrap_or(c_int::MAX));
    if !parks_here() || timeout == Some(Duration::ZERO) {
        return op(whole());
    }
    let Ok(source) = source(epfd, fds::get(epfd)) else {
        return op(whole());
    };
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    loop {
        let ready = op(0);
        if ready != 0 {
            return ready;
        }
        match source.wait_cancellable(Direction::Read, deadline, "a patched epoll_wait") {
            Ok(true) => {}
            Ok(false) => return op(0),
            Err(Cancelled) => return fail(libc::ECANCELED) as c_int,
        }
    }
}

/// How a lookup on the resolver pool ended.
pub(super) enum Lookup<T> {
    Done(T),
    /// A kill or `with_timeout` cancelled the wait (the lookup finishes on
    /// the pool, and its result is dropped there).
    Cancelled,
    /// The pool could not take it (no thread): the caller looks up itself.
    Unavailable,
}

/// Runs `job` (a `getaddrinfo`) on the resolver pool while the greenlet parks.
pub(super) fn lookup<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Lookup<T> {
    match crate::net::resolver::resolver().run_cancellable(job, "a patched getaddrinfo") {
        Ok(Ok(Ok(value))) => Lookup::Done(value),
        Ok(Ok(Err(_))) | Ok(Err(_)) => Lookup::Unavailable,
        Err(Cancelled) => Lookup::Cancelled,
    }
}
