//! The kernel's calls the monkey patching makes for itself, by raw system
//! call (never through libc's wrappers, which the hooks replace), and
//! `errno`. Safe wrappers: a bad descriptor number gives an error, which
//! they report as "no" or `None`.
//!
//! Layer: user-facing (monkey patching). Uses nothing else of the crate.

use std::os::fd::RawFd;
use std::time::Duration;

use libc::{c_int, c_long, c_void, socklen_t};

/// The calling thread's `errno`.
pub(super) fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub(super) fn set_errno(error: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot,
    // valid for the thread's lifetime.
    unsafe { *libc::__errno_location() = error };
}

/// The kernel's calls `io.rs` needs for itself, safe to call with any
/// descriptor number.
pub(super) mod sys {
    use super::*;

    /// `fstat` says it is a socket.
    pub(crate) fn is_socket(fd: RawFd) -> bool {
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstat writes a `stat` into the buffer it is given, which
        // is large enough; it is read only if fstat succeeded.
        let ok = unsafe { libc::syscall(libc::SYS_fstat, fd, stat.as_mut_ptr()) } == 0;
        // SAFETY: initialised by the successful fstat above.
        ok && unsafe { stat.assume_init() }.st_mode & libc::S_IFMT == libc::S_IFSOCK
    }

    /// `fcntl(F_GETFL)`.
    pub(crate) fn status_flags(fd: RawFd) -> Option<c_int> {
        // SAFETY: F_GETFL takes no argument and touches no memory.
        let flags = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
        (flags >= 0).then_some(flags as c_int)
    }

    /// `fcntl(F_SETFL)`; true if it succeeded.
    pub(crate) fn set_status_flags(fd: RawFd, flags: c_int) -> bool {
        // SAFETY: F_SETFL takes an integer and touches no memory.
        unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFL, flags) == 0 }
    }

    /// The socket's `SO_RCVTIMEO` or `SO_SNDTIMEO`; `None` if unset (zero).
    pub(crate) fn socket_timeout(fd: RawFd, option: c_int) -> Option<Duration> {
        let empty = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let value = socket_option(fd, option, empty).ok()?;
        let timeout = Duration::new(
            u64::try_from(value.tv_sec).unwrap_or(0),
            u32::try_from(value.tv_usec)
                .unwrap_or(0)
                .saturating_mul(1000),
        );
        (!timeout.is_zero()).then_some(timeout)
    }

    /// An integer socket option at `SOL_SOCKET`; the errno if it fails.
    fn int_option(fd: RawFd, option: c_int) -> Result<c_int, c_int> {
        socket_option(fd, option, 0)
    }

    /// The types a socket option is read into: plain integers, for which
    /// every bit pattern the kernel may write is a valid value.
    trait OptionValue: Copy {}
    impl OptionValue for c_int {}
    impl OptionValue for libc::timeval {}

    /// A `SOL_SOCKET` option read into `value`; the errno if it fails.
    fn socket_option<T: OptionValue>(fd: RawFd, option: c_int, mut value: T) -> Result<T, c_int> {
        let mut len = std::mem::size_of::<T>() as socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `value`, a `T`
        // whose every bit pattern is valid (`OptionValue`), and the new
        // length into `len`.
        let result = unsafe {
            libc::syscall(
                libc::SYS_getsockopt,
                fd,
                libc::SOL_SOCKET,
                option,
                (&raw mut value).cast::<c_void>(),
                &raw mut len,
            )
        };
        if result == 0 { Ok(value) } else { Err(errno()) }
    }

    /// Whether the socket is a `SOCK_STREAM` one (`SO_TYPE`).
    pub(crate) fn is_stream_socket(fd: RawFd) -> bool {
        int_option(fd, libc::SO_TYPE) == Ok(libc::SOCK_STREAM)
    }

    /// The socket's pending error (`SO_ERROR`), 0 if none.
    pub(crate) fn socket_error(fd: RawFd) -> c_int {
        int_option(fd, libc::SO_ERROR).unwrap_or_else(|error| error)
    }

    /// Blocks the thread until `fd` has one of `events` or `timeout`
    /// passes: the number of ready descriptors (0 or 1), or -1.
    pub(crate) fn poll_one(fd: RawFd, events: libc::c_short, timeout: Option<Duration>) -> c_int {
        let mut polled = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { raw_poll(&raw mut polled, 1, timeout) }
    }
}

/// The kernel's poll (as `ppoll`, which every architecture has) with a
/// relative timeout.
///
/// # Safety
/// `fds` points to `nfds` pollfd structures, as poll requires.
pub(super) unsafe fn raw_poll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: Option<Duration>,
) -> c_int {
    let spec = timeout.map(timespec_of);
    let spec_ptr = spec
        .as_ref()
        .map_or(std::ptr::null(), |spec| spec as *const libc::timespec);
    // SAFETY: `fds` as the caller promises; `spec_ptr` is null or a live
    // timespec; no signal mask (null) and its size are passed as ppoll wants.
    unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds,
            nfds,
            spec_ptr,
            std::ptr::null::<c_void>(),
            8usize,
        ) as c_int
    }
}

pub(super) fn timespec_of(duration: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(duration.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: c_long::from(duration.subsec_nanos() as i32),
    }
}

/// A timespec as a duration, if it is a valid one.
pub(super) fn duration_of(spec: &libc::timespec) -> Option<Duration> {
    let secs = u64::try_from(spec.tv_sec).ok()?;
    let nanos = u32::try_from(spec.tv_nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    Some(Duration::new(secs, nanos))
}

/// The current time of `clock`, if the kernel has that clock.
pub(super) fn clock_now(clock: libc::clockid_t) -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `now`.
    let result = unsafe { libc::clock_gettime(clock, &raw mut now) };
    if result != 0 {
        return None;
    }
    duration_of(&now)
}
