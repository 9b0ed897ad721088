//! The libc entry points this crate defines with feature `hook`: the only
//! unsafe code of the monkey patching, and all of its calls to the kernel.
//!
//! Each hook has libc's signature and meaning. Until `patch_all` it makes
//! the kernel's call at once (one relaxed load decides); after it, it hands
//! the call to `io.rs`, which parks the calling greenlet where the call
//! would block. The kernel is reached by raw system calls (`libc::syscall`),
//! never through libc's own wrappers (which these definitions replace in
//! the binary) and without `dlsym`, so the hooks work the same however the
//! binary was linked and need no lookup before their first call.
//!
//! A hook never unwinds (it is `extern "C"`): a kill or `with_timeout` makes
//! a patched call return -1 with `errno` `ECANCELED` (see `io.rs`).
//!
//! Layer: user-facing (monkey patching). Uses `io.rs` and `kernel.rs`.

use std::ffi::{CStr, CString, c_char};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use libc::{addrinfo, c_int, c_uint, c_ulong, c_void, size_t, sockaddr, socklen_t, ssize_t};

use super::io;
use super::kernel::{clock_now, duration_of, errno, raw_poll, set_errno, timespec_of};
use crate::reactor::Direction;

/// Every hook's address, so that a binary that calls `patch_all` links
/// them all in (an object file that defines only hooks would otherwise be
/// left out of the link, and libc's functions used instead).
pub(super) fn all() -> [*const (); 35] {
    [
        read as *const (),
        write as *const (),
        readv as *const (),
        writev as *const (),
        recv as *const (),
        recvfrom as *const (),
        recvmsg as *const (),
        send as *const (),
        sendto as *const (),
        sendmsg as *const (),
        accept as *const (),
        accept4 as *const (),
        connect as *const (),
        socket as *const (),
        socketpair as *const (),
        close as *const (),
        dup as *const (),
        dup2 as *const (),
        dup3 as *const (),
        fcntl as *const (),
        fcntl64 as *const (),
        ioctl as *const (),
        setsockopt as *const (),
        poll as *const (),
        ppoll as *const (),
        nanosleep as *const (),
        clock_nanosleep as *const (),
        usleep as *const (),
        sleep as *const (),
        epoll_wait as *const (),
        epoll_pwait as *const (),
        select as *const (),
        getaddrinfo as *const (),
        pipe as *const (),
        pipe2 as *const (),
    ]
}

/// A raw system call's result as the ssize_t libc's wrapper returns (the
/// `syscall` function already turned a failure into -1 and `errno`).
macro_rules! syscall {
    ($name:ident $(, $arg:expr)* $(,)?) => {
        libc::syscall(libc::$name $(, $arg)*) as ssize_t
    };
}

// The crate's own unit-test binary also links the crate as a library (the
// dev-dependency that turns `hook` on for the tests): there the library's
// definitions are the hooks, and the test build's copies stay unexported.

// SAFETY (for every hook below): a hook is called with the arguments libc's
// function of the same name takes, under that function's contract, and
// passes them to the kernel's call unchanged (`io.rs` only decides when,
// and how often after `EAGAIN`); it reads or writes the caller's memory
// only where that contract allows (the pollfd array, the timespecs, the
// FIONBIO int).

/// `read(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    // SAFETY: see above.
    io::transfer(fd, Direction::Read, Some(count), || unsafe {
        syscall!(SYS_read, fd, buf, count)
    })
}

/// `write(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    // SAFETY: see above.
    io::transfer(fd, Direction::Write, None, || unsafe {
        syscall!(SYS_write, fd, buf, count)
    })
}

/// `readv(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn readv(
    fd: c_int,
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> ssize_t {
    // SAFETY: see above.
    io::transfer(fd, Direction::Read, None, || unsafe {
        syscall!(SYS_readv, fd, iov, iovcnt)
    })
}

/// `writev(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn writev(
    fd: c_int,
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> ssize_t {
    // SAFETY: see above.
    io::transfer(fd, Direction::Write, None, || unsafe {
        syscall!(SYS_writev, fd, iov, iovcnt)
    })
}

/// `recv(2)`. `MSG_DONTWAIT` asks the kernel directly.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn recv(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: see above.
    unsafe {
        recvfrom(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `recvfrom(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    // SAFETY: see above.
    let op = || unsafe { syscall!(SYS_recvfrom, fd, buf, len, flags, addr, addrlen) };
    if flags & libc::MSG_DONTWAIT != 0 {
        return op();
    }
    // A peek or a wait for all drains nothing that a short result shows.
    let plain = flags & (libc::MSG_PEEK | libc::MSG_WAITALL) == 0;
    io::transfer(fd, Direction::Read, plain.then_some(len), op)
}

/// `recvmsg(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn recvmsg(
    fd: c_int,
    msg: *mut libc::msghdr,
    flags: c_int,
) -> ssize_t {
    // SAFETY: see above.
    let op = || unsafe { syscall!(SYS_recvmsg, fd, msg, flags) };
    if flags & libc::MSG_DONTWAIT != 0 {
        return op();
    }
    io::transfer(fd, Direction::Read, None, op)
}

/// `send(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn send(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: see above.
    unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

/// `sendto(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    // SAFETY: see above.
    let op = || unsafe { syscall!(SYS_sendto, fd, buf, len, flags, addr, addrlen) };
    if flags & libc::MSG_DONTWAIT != 0 {
        return op();
    }
    io::transfer(fd, Direction::Write, None, op)
}

/// `sendmsg(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn sendmsg(
    fd: c_int,
    msg: *const libc::msghdr,
    flags: c_int,
) -> ssize_t {
    // SAFETY: see above.
    let op = || unsafe { syscall!(SYS_sendmsg, fd, msg, flags) };
    if flags & libc::MSG_DONTWAIT != 0 {
        return op();
    }
    io::transfer(fd, Direction::Write, None, op)
}

/// `accept(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn accept(
    fd: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> c_int {
    // SAFETY: see above.
    unsafe { accept4(fd, addr, addrlen, 0) }
}

/// `accept4(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: see above.
    let op = || unsafe { syscall!(SYS_accept4, fd, addr, addrlen, flags) };
    let accepted = io::transfer(fd, Direction::Read, None, op) as c_int;
    io::accepted(fd, accepted, flags & libc::SOCK_NONBLOCK != 0);
    accepted
}

/// `connect(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: see above.
    io::connect(fd, || unsafe {
        syscall!(SYS_connect, fd, addr, len) as c_int
    })
}

/// `socket(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    // SAFETY: see above.
    let fd = unsafe { syscall!(SYS_socket, domain, kind, protocol) } as c_int;
    let stream = kind & 0xf == libc::SOCK_STREAM;
    io::socket_created(fd, kind & libc::SOCK_NONBLOCK != 0, stream);
    fd
}

/// `socketpair(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn socketpair(
    domain: c_int,
    kind: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: see above.
    let result = unsafe { syscall!(SYS_socketpair, domain, kind, protocol, sv) } as c_int;
    if result == 0 {
        // SAFETY: on success the kernel wrote two descriptors to `sv`.
        let pair = unsafe { [*sv, *sv.add(1)] };
        for fd in pair {
            io::socket_created(
                fd,
                kind & libc::SOCK_NONBLOCK != 0,
                kind & 0xf == libc::SOCK_STREAM,
            );
        }
    }
    result
}

/// `pipe(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    // SAFETY: see above.
    unsafe { pipe2(fds, 0) }
}

/// `pipe2(2)`: the pipe's ends are this process's own, so the hooks may
/// make them non-blocking (unlike an inherited pipe's).
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    // SAFETY: see above.
    let result = unsafe { syscall!(SYS_pipe2, fds, flags) } as c_int;
    if result == 0 {
        // SAFETY: on success the kernel wrote two descriptors to `fds`.
        let ends = unsafe { [*fds, *fds.add(1)] };
        io::pipe_created(ends, flags & libc::O_NONBLOCK != 0);
    }
    result
}

/// `close(2)`: forgets the descriptor (its registration, what the hooks
/// knew of it) first.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn close(fd: c_int) -> c_int {
    io::closing(fd);
    // SAFETY: see above.
    unsafe { syscall!(SYS_close, fd) as c_int }
}

/// `dup(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: see above.
    let new = unsafe { syscall!(SYS_dup, fd) } as c_int;
    io::duplicated(fd, new);
    new
}

/// `dup2(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if old == new {
        // dup2 of a descriptor onto itself only checks it (dup3 refuses it).
        // SAFETY: F_GETFD takes no argument.
        let valid = unsafe { libc::syscall(libc::SYS_fcntl, old, libc::F_GETFD) } >= 0;
        return if valid { new } else { -1 };
    }
    // SAFETY: see above.
    unsafe { dup3(old, new, 0) }
}

/// `dup3(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: see above.
    let result = unsafe { syscall!(SYS_dup3, old, new, flags) } as c_int;
    io::duplicated(old, result);
    result
}

/// `fcntl(2)`. Its third argument is variadic in C; every command passes
/// an integer or a pointer there, which the x86-64 and AArch64 Linux
/// calling conventions pass as they pass a named `unsigned long`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: see above.
    let op = |arg: c_ulong| unsafe { syscall!(SYS_fcntl, fd, cmd, arg) as c_int };
    match cmd {
        libc::F_GETFL => io::visible_status_flags(fd, op(arg)),
        libc::F_SETFL => io::set_status_flags(fd, arg as c_int, |flags| op(flags as c_ulong)),
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let new = op(arg);
            io::duplicated(fd, new);
            new
        }
        _ => op(arg),
    }
}

/// `fcntl64`: glibc's name for `fcntl` with 64-bit offsets, the same call
/// on 64-bit targets.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: see above.
    unsafe { fcntl(fd, cmd, arg) }
}

/// `ioctl(2)`. Variadic in C, as `fcntl`; `FIONBIO` (how std sets a
/// socket non-blocking) is recorded.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: see above.
    let op = || unsafe { syscall!(SYS_ioctl, fd, request, arg) as c_int };
    if request == libc::FIONBIO && !arg.is_null() {
        // SAFETY: FIONBIO's argument points to an int.
        let on = unsafe { *arg.cast::<c_int>() } != 0;
        return io::set_nonblocking(fd, on, op);
    }
    op()
}

/// `setsockopt(2)`: a receive or send timeout is recorded.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: see above.
    let result = unsafe { syscall!(SYS_setsockopt, fd, level, name, value, len) } as c_int;
    if result == 0 && level == libc::SOL_SOCKET {
        io::timeout_set(fd, name);
    }
    result
}

/// `poll(2)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn poll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: c_int,
) -> c_int {
    let timeout = u64::try_from(timeout).ok().map(Duration::from_millis);
    // SAFETY: see above.
    unsafe { poll_for(fds, nfds, timeout) }
}

/// `ppoll(2)`. With a signal mask it is the kernel's call: the mask could
/// not be kept while the greenlet is parked.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn ppoll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if !sigmask.is_null() {
        // SAFETY: see above.
        return unsafe { syscall!(SYS_ppoll, fds, nfds, timeout, sigmask, 8usize) as c_int };
    }
    // SAFETY: a non-null timeout points to a timespec, by ppoll's contract.
    let timeout = match unsafe { timeout.as_ref() } {
        None => None,
        Some(spec) => match duration_of(spec) {
            Some(duration) => Some(duration),
            None => {
                set_errno(libc::EINVAL);
                return -1;
            }
        },
    };
    // SAFETY: see above.
    unsafe { poll_for(fds, nfds, timeout) }
}

/// # Safety
/// `fds` points to `nfds` pollfds, as poll requires.
unsafe fn poll_for(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: Option<Duration>) -> c_int {
    // SAFETY: as the caller promises.
    let op = |timeout| unsafe { raw_poll(fds, nfds, timeout) };
    if !io::parks_here() || fds.is_null() {
        return op(timeout);
    }
    let Ok(count) = usize::try_from(nfds) else {
        return op(timeout);
    };
    // Copied out, so that no reference to the array is live while the
    // kernel writes its `revents`.
    let polled: Vec<(RawFd, libc::c_short)> = (0..count)
        .map(|i| {
            // SAFETY: `i < nfds`, within the caller's array.
            let entry = unsafe { *fds.add(i) };
            (entry.fd, entry.events)
        })
        .collect();
    io::poll(&polled, timeout, op)
}

/// `nanosleep(2)`: in a greenlet, parks it for the time asked.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn nanosleep(
    request: *const libc::timespec,
    remain: *mut libc::timespec,
) -> c_int {
    // SAFETY: a non-null request points to a timespec, by nanosleep's contract.
    let asked = unsafe { request.as_ref() }.and_then(duration_of);
    match asked {
        Some(duration) if io::parks_here() => match io::sleep(duration) {
            Ok(()) => 0,
            Err(left) => {
                // SAFETY: a non-null `remain` points to a writable timespec.
                if let Some(remain) = unsafe { remain.as_mut() } {
                    *remain = timespec_of(left);
                }
                set_errno(libc::ECANCELED);
                -1
            }
        },
        // Not in a greenlet, or an invalid request: the kernel says what it says.
        // SAFETY: see above.
        _ => unsafe { syscall!(SYS_nanosleep, request, remain) as c_int },
    }
}

/// `clock_nanosleep(2)`: in a greenlet, parks it for the time asked, on
/// `CLOCK_MONOTONIC` or `CLOCK_REALTIME`, relative or `TIMER_ABSTIME`. It
/// returns an error number, as libc's does.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    request: *const libc::timespec,
    remain: *mut libc::timespec,
) -> c_int {
    // SAFETY: a non-null request points to a timespec, by the contract.
    let asked = unsafe { request.as_ref() }.and_then(duration_of);
    let absolute = flags & libc::TIMER_ABSTIME != 0;
    let known_clock = clock == libc::CLOCK_MONOTONIC || clock == libc::CLOCK_REALTIME;
    match asked {
        Some(asked) if known_clock && io::parks_here() => {
            let duration = if absolute {
                match clock_now(clock) {
                    Some(now) => asked.saturating_sub(now),
                    None => return libc::EINVAL,
                }
            } else {
                asked
            };
            match io::sleep(duration) {
                Ok(()) => 0,
                Err(left) => {
                    if !absolute {
                        // SAFETY: a non-null `remain` points to a writable timespec.
                        if let Some(remain) = unsafe { remain.as_mut() } {
                            *remain = timespec_of(left);
                        }
                    }
                    libc::ECANCELED
                }
            }
        }
        _ => {
            // SAFETY: see above.
            let result = unsafe { syscall!(SYS_clock_nanosleep, clock, flags, request, remain) };
            if result == 0 { 0 } else { errno() }
        }
    }
}

/// `usleep(3)`.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    let duration = Duration::from_micros(u64::from(usec));
    if io::parks_here() {
        return match io::sleep(duration) {
            Ok(()) => 0,
            Err(_) => {
                set_errno(libc::ECANCELED);
                -1
            }
        };
    }
    let request = timespec_of(duration);
    // SAFETY: a valid timespec, no remainder asked for.
    unsafe {
        syscall!(
            SYS_nanosleep,
            &raw const request,
            std::ptr::null_mut::<libc::timespec>()
        ) as c_int
    }
}

/// `sleep(3)`: returns the seconds left unslept (cancelled, or a signal).
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    let duration = Duration::from_secs(u64::from(seconds));
    let left = if io::parks_here() {
        io::sleep(duration).err()
    } else {
        let request = timespec_of(duration);
        let mut remain = timespec_of(Duration::ZERO);
        // SAFETY: valid timespecs for the request and the remainder.
        let result = unsafe { syscall!(SYS_nanosleep, &raw const request, &raw mut remain) };
        (result != 0).then(|| duration_of(&remain).unwrap_or(Duration::ZERO))
    };
    match left {
        None => 0,
        // Rounded up, as glibc does: a sleep cut short never reports 0 left.
        Some(left) => c_uint::try_from(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            .unwrap_or(c_uint::MAX),
    }
}

/// Milliseconds as poll and epoll take them: negative waits for ever.
fn millis(timeout: c_int) -> Option<Duration> {
    u64::try_from(timeout).ok().map(Duration::from_millis)
}

/// `epoll_wait(2)`: in a greenlet, parks it while the epoll descriptor has
/// nothing to report.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: see above.
    unsafe { epoll_pwait(epfd, events, maxevents, timeout, std::ptr::null()) }
}

/// `epoll_pwait(2)`. With a signal mask it is the kernel's call: the mask
/// could not be kept while the greenlet is parked.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
    sigmask: *const libc::sigset_t,
) -> c_int {
    // SAFETY: see above (every architecture has epoll_pwait; a null mask
    // makes it epoll_wait).
    let op = |timeout: c_int| unsafe {
        syscall!(
            SYS_epoll_pwait,
            epfd,
            events,
            maxevents,
            timeout,
            sigmask,
            8usize
        ) as c_int
    };
    if !sigmask.is_null() {
        return op(timeout);
    }
    io::epoll_wait(epfd, millis(timeout), op)
}

/// `select(2)`, as a poll over the descriptors in its sets.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn select(
    nfds: c_int,
    readfds: *mut libc::fd_set,
    writefds: *mut libc::fd_set,
    exceptfds: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    // SAFETY: a non-null timeout points to a timeval, by select's contract.
    let limit = match unsafe { timeout.as_ref() } {
        None => None,
        Some(tv) => match (u64::try_from(tv.tv_sec), u32::try_from(tv.tv_usec)) {
            (Ok(secs), Ok(micros)) if micros < 1_000_000 => {
                Some(Duration::new(secs, micros * 1000))
            }
            _ => {
                set_errno(libc::EINVAL);
                return -1;
            }
        },
    };
    // The sets as the caller gave them: each attempt starts from them again
    // (the kernel overwrites them with what is ready).
    // SAFETY: non-null set pointers point to fd_sets, by the contract.
    let saved = unsafe {
        [
            readfds.as_ref().copied(),
            writefds.as_ref().copied(),
            exceptfds.as_ref().copied(),
        ]
    };
    let op = |timeout: Option<Duration>| {
        for (set, copy) in [readfds, writefds, exceptfds].into_iter().zip(saved) {
            if let Some(copy) = copy {
                // SAFETY: a non-null set pointer, as above.
                unsafe { *set = copy };
            }
        }
        let spec = timeout.map(timespec_of);
        let spec_ptr = spec
            .as_ref()
            .map_or(std::ptr::null(), |s| s as *const libc::timespec);
        // SAFETY: see above; no signal mask (a null sixth argument).
        unsafe {
            syscall!(
                SYS_pselect6,
                nfds,
                readfds,
                writefds,
                exceptfds,
                spec_ptr,
                std::ptr::null::<c_void>()
            ) as c_int
        }
    };
    if !io::parks_here() {
        return op(limit);
    }
    let count = nfds.clamp(0, libc::FD_SETSIZE as c_int);
    let mut polled = Vec::new();
    for fd in 0..count {
        let mut events = 0;
        for (copy, event) in saved
            .iter()
            .zip([libc::POLLIN, libc::POLLOUT, libc::POLLPRI])
        {
            // SAFETY: FD_ISSET reads one bit of a live fd_set; fd < FD_SETSIZE.
            if copy
                .as_ref()
                .is_some_and(|set| unsafe { libc::FD_ISSET(fd, set) })
            {
                events |= event;
            }
        }
        if events != 0 {
            polled.push((fd, events));
        }
    }
    io::poll(&polled, limit, op)
}

type GetaddrinfoFn = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

/// libc's own `getaddrinfo` (not a system call: it reads files and asks
/// DNS servers), found once with `dlsym(RTLD_NEXT)`.
fn real_getaddrinfo() -> Option<GetaddrinfoFn> {
    static REAL: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());
    let mut found = REAL.load(Ordering::Acquire);
    if found.is_null() {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no
        // other precondition.
        found = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) };
        if found.is_null() {
            return None;
        }
        REAL.store(found, Ordering::Release);
    }
    // SAFETY: the symbol is libc's getaddrinfo, which has this signature.
    Some(unsafe { std::mem::transmute::<*mut c_void, GetaddrinfoFn>(found) })
}

/// The list a `getaddrinfo` made, until it is handed to the caller (or
/// freed, if the caller was cancelled meanwhile).
struct AddrInfoList(*mut addrinfo);

// SAFETY: the list is glibc's heap allocation, owned by this value alone
// until it is handed to the caller; nothing about it is tied to the thread
// that made it (freeaddrinfo may run on any thread).
unsafe impl Send for AddrInfoList {}

impl Drop for AddrInfoList {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a list getaddrinfo made and nobody else holds.
            unsafe { libc::freeaddrinfo(self.0) };
        }
    }
}

/// What a lookup on the pool is asked: owned copies of the caller's
/// arguments.
struct Query {
    node: Option<CString>,
    service: Option<CString>,
    hints: Option<(c_int, c_int, c_int, c_int)>,
}

impl Query {
    fn run(&self, real: GetaddrinfoFn) -> (c_int, AddrInfoList) {
        // SAFETY: addrinfo is plain data, all zeros is a valid value.
        let mut hints: addrinfo = unsafe { std::mem::zeroed() };
        if let Some((flags, family, socktype, protocol)) = self.hints {
            hints.ai_flags = flags;
            hints.ai_family = family;
            hints.ai_socktype = socktype;
            hints.ai_protocol = protocol;
        }
        let mut list = std::ptr::null_mut();
        // SAFETY: NUL-terminated strings or null, a valid hints struct or
        // null, and a place for the result, as getaddrinfo requires.
        let result = unsafe {
            real(
                self.node.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                self.service
                    .as_ref()
                    .map_or(std::ptr::null(), |s| s.as_ptr()),
                if self.hints.is_some() {
                    &raw const hints
                } else {
                    std::ptr::null()
                },
                &raw mut list,
            )
        };
        (result, AddrInfoList(list))
    }
}

/// `getaddrinfo(3)`: in a greenlet, a name is looked up on the resolver
/// pool (the lookup's own socket calls happen inside libc, where no hook
/// can reach them) while the greenlet parks; numeric addresses are
/// converted at once.
#[cfg_attr(not(test), unsafe(no_mangle))]
pub(super) unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let Some(real) = real_getaddrinfo() else {
        set_errno(libc::ENOSYS);
        return libc::EAI_SYSTEM;
    };
    // SAFETY: see above.
    let inline = || unsafe { real(node, service, hints, res) };
    if !io::parks_here() || node.is_null() || res.is_null() {
        return inline();
    }
    // SAFETY: non-null strings and hints, by getaddrinfo's contract.
    let (name, hints_copy) = unsafe {
        (
            CStr::from_ptr(node),
            hints
                .as_ref()
                .map(|h| (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol)),
        )
    };
    let numeric = hints_copy.is_some_and(|h| h.0 & libc::AI_NUMERICHOST != 0)
        || name
            .to_str()
            .is_ok_and(|name| name.parse::<std::net::IpAddr>().is_ok());
    if numeric {
        return inline();
    }
    let query = Query {
        node: Some(name.to_owned()),
        // SAFETY: a non-null service is a NUL-terminated string.
        service: unsafe { service.as_ref() }.map(|_| unsafe { CStr::from_ptr(service) }.to_owned()),
        hints: hints_copy,
    };
    match io::lookup(move || query.run(real)) {
        io::Lookup::Done((result, mut list)) => {
            // SAFETY: `res` is non-null and writable, by the contract.
            unsafe { *res = std::mem::replace(&mut list.0, std::ptr::null_mut()) };
            result
        }
        io::Lookup::Cancelled => {
            set_errno(libc::ECANCELED);
            libc::EAI_SYSTEM
        }
        io::Lookup::Unavailable => inline(),
    }
}
