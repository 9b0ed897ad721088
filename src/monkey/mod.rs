//! Monkey patching (cargo feature `hook`, Linux on x86-64 and AArch64):
//! unmodified blocking code — std, other crates, C code linked into the
//! binary — parks the calling greenlet instead of blocking the thread.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::{Duration, Instant};
//!
//! greenlet::monkey::patch_all();
//!
//! // Plain std calls, from greenlets: they overlap.
//! let start = Instant::now();
//! let sleepers: Vec<_> = (0..10)
//!     .map(|_| greenlet::spawn(|| std::thread::sleep(Duration::from_millis(100))))
//!     .collect();
//! greenlet::joinall(sleepers);
//! assert!(start.elapsed() < Duration::from_millis(500)); // about 100 ms, not 1 s
//!
//! // A std::net server and client in greenlets of one thread.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = greenlet::spawn(move || {
//!     let (mut stream, _) = listener.accept().unwrap();
//!     let mut buf = [0; 5];
//!     stream.read_exact(&mut buf).unwrap();
//!     stream.write_all(&buf).unwrap();
//! });
//! let client = greenlet::spawn(move || {
//!     let mut stream = std::net::TcpStream::connect(addr).unwrap();
//!     stream.write_all(b"hello").unwrap();
//!     let mut buf = [0; 5];
//!     stream.read_exact(&mut buf).unwrap();
//!     buf
//! });
//! server.join().unwrap();
//! assert_eq!(&client.join().unwrap(), b"hello");
//! ```
//!
//! # How
//!
//! With the feature on, the crate defines these libc functions itself, so
//! that every call to them in the binary reaches its definition: `read`,
//! `write`, `readv`, `writev`, `recv`, `recvfrom`, `recvmsg`, `send`,
//! `sendto`, `sendmsg`, `accept`, `accept4`, `connect`, `poll`, `ppoll`,
//! `select`, `epoll_wait`, `epoll_pwait`, `getaddrinfo`, `nanosleep`,
//! `clock_nanosleep`, `usleep`, `sleep`; and, to keep track of
//! descriptors, `socket`, `socketpair`, `pipe`, `pipe2`, `close`, `dup`, `dup2`, `dup3`,
//! `fcntl`, `fcntl64`, `ioctl`, `setsockopt`. Each reaches the kernel by a
//! raw system call. Before [`patch_all`], outside greenlets (the root
//! context, plain threads) and for descriptors that are neither sockets nor
//! the process's own pipes (regular files, terminals), a hook is the kernel's call after one
//! relaxed load (or, once patched, a thread-local and a table read).
//!
//! Inside a greenlet, after `patch_all`, a call on a socket (or on a pipe
//! the process made itself, such as a child process's stdout) whose user wants
//! blocking IO is made non-blocking: the hooks set `O_NONBLOCK` on the
//! socket, try the call, and where it would block they park the greenlet on
//! the hub's poller until the socket is ready, as [`crate::net`] does.
//! What the user set is kept and honoured:
//! - a socket its user made non-blocking (`SOCK_NONBLOCK`, `O_NONBLOCK`,
//!   `FIONBIO`, `MSG_DONTWAIT`) gets `EAGAIN` as before, and `fcntl(F_GETFL)`
//!   shows `O_NONBLOCK` only if the user set it;
//! - `SO_RCVTIMEO` / `SO_SNDTIMEO` end a wait with `EAGAIN` once they pass
//!   (a connect: `EINPROGRESS`), as the kernel does;
//! - outside greenlets, a call on a socket the hooks made non-blocking
//!   blocks the thread (in `poll`) as the kernel's call would.
//!
//! Sleeps park the greenlet on the hub's timers: `std::thread::sleep`
//! (`clock_nanosleep`), `nanosleep`, `usleep`, `sleep`; `clock_nanosleep`
//! on `CLOCK_MONOTONIC` or `CLOCK_REALTIME`, relative or `TIMER_ABSTIME`.
//! `poll`, `ppoll` (without a signal mask) and `select` over sockets park
//! until one is ready or the timeout passes (with any descriptor that is
//! not a socket among them they are the kernel's call). `epoll_wait` and
//! `epoll_pwait` (without a signal mask) park while the epoll descriptor
//! has nothing to report, so an event loop embedded in a sync client parks
//! only its greenlet. `getaddrinfo` of a host name runs on the crate's
//! resolver pool (see [`net::lookup_host`](crate::net::lookup_host)) while
//! the greenlet parks: libc's own socket calls inside a lookup cannot be
//! reached by any hook. A numeric address is converted at once.
//!
//! Closing a descriptor forgets it (its registration with the poller and
//! what the hooks knew), before the kernel closes it: a number reused for a
//! new file starts afresh. A greenlet of the same thread parked on it in a
//! patched call wakes, and its call fails with `EBADF` (the kernel would
//! leave a blocked thread blocked; the number may soon name another file).
//!
//! # Kills and timeouts
//!
//! A greenlet killed, or timed out by [`with_timeout`](crate::with_timeout),
//! while parked in a patched call is not unwound through the foreign frames
//! between it and the hook (that would be undefined behaviour): the call
//! returns -1 with `errno` `ECANCELED` (std: an `io::Error` of that raw OS
//! error), and the caller goes on as it does with any error. Whatever it
//! does then — returns, or panics on the error — [`Greenlet::join`](crate::Greenlet::join)
//! reports `Err(JoinError::Killed)` and `with_timeout` `Err(Elapsed)`. A greenlet
//! that keeps making patched calls after its kill gets `ECANCELED` from each
//! (after letting the others run once), and the kill unwinds it at its next
//! switch point in Rust code (a `greenlet` call). A socket it owned closes
//! as it unwinds or ends.
//!
//! # What is not patched
//!
//! - `std::sync` (`Mutex`, `Condvar`, `mpsc`), `thread::park`, thread
//!   spawning: use [`crate::lock`], [`crate::queue`] instead.
//! - The standard streams (descriptors 0 to 2), even when they are
//!   sockets, unless this process made them (with `socket` or `dup2`):
//!   child processes share them.
//! - Inherited pipes (a shell's `|`), FIFOs, terminals and files: their
//!   calls are the kernel's, as before (making a pipe shared with another
//!   process non-blocking would change it for that process too).
//! - Other kinds of descriptor (`eventfd`, `timerfd`, `signalfd`,
//!   `inotify`): the kernel's calls; a blocking read of one blocks the thread.
//! - `pselect`, `epoll_pwait2`, `recvmmsg`/`sendmmsg`, `sendfile`,
//!   `splice`: the kernel's calls (they block the thread on a blocking
//!   socket).
//! - `O_NONBLOCK` belongs to the open file, shared by every duplicate of a
//!   descriptor and by other processes that inherited it: code that reads a
//!   socket the hooks made non-blocking by a path they do not see (another
//!   process, libc's internal calls) gets `EAGAIN`.
//! - Calls libc makes to itself (`fread` reading a socket through its
//!   internal `read`) do not reach the hooks.
//! - Thread-locals stay per thread: a sync client that runs an async
//!   runtime inside (`postgres`, `reqwest::blocking`) marks the thread as
//!   inside that runtime, so a second greenlet of the thread entering one
//!   while the first is parked there fails (tokio panics "Cannot start a
//!   runtime from within a runtime"). Give such a client a thread of its own
//!   ([`threadpool::spawn_blocking`](crate::threadpool::spawn_blocking)), or
//!   one client per thread. Clients written on std sockets (`ureq`, `redis`)
//!   have no such limit.
//!
//! # Linking
//!
//! The hooks are defined in the executable, and Rust executables export
//! `#[no_mangle]` functions in their dynamic symbol table, so the dynamic
//! linker binds every shared library's calls to them too (the executable
//! comes first in symbol lookup): a C client library, linked or loaded with
//! `dlopen`, needs no link flags. Not reached: a library loaded with
//! `RTLD_DEEPBIND` (it looks in itself and its own dependencies first),
//! code that makes system calls itself, and calls inside libc to itself.
//! A binary must call [`patch_all`] (not only depend on the crate) for the
//! hooks to be linked in.
//!
//! Static linking with glibc (`-C target-feature=+crt-static`) fails at the
//! link (a duplicate `getaddrinfo`: libc's archive member that defines it
//! is pulled in by `freeaddrinfo`), and would leave no `dlsym(RTLD_NEXT)`
//! to find libc's resolver. musl is not supported: the hooks follow glibc's
//! declarations (`ioctl`'s request is an `unsigned long`, `fcntl64`).
//!
//! Layer: user-facing. Uses the reactor, time and the hub; `hooks.rs` (the
//! entry points) and `kernel.rs` (its own system calls) are its only
//! unsafe code.

mod fds;
mod hooks;
mod io;
mod kernel;

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once by [`patch_all`].
static PATCHED: AtomicBool = AtomicBool::new(false);

/// Patches blocking calls: from now on, inside greenlets of any thread of
/// the process, the calls listed in the [module docs](self) park the
/// greenlet instead of blocking the thread. Outside greenlets nothing
/// changes. Calling it again does nothing.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// greenlet::monkey::patch_all();
/// let start = Instant::now();
/// let a = greenlet::spawn(|| std::thread::sleep(Duration::from_millis(200)));
/// let b = greenlet::spawn(|| std::thread::sleep(Duration::from_millis(200)));
/// a.join().unwrap();
/// b.join().unwrap();
/// assert!(start.elapsed() < Duration::from_millis(350)); // both at once
/// ```
pub fn patch_all() {
    // Keeps every hook in the link (see `hooks::all`).
    std::hint::black_box(hooks::all());
    // The first chunk of the descriptor table is made now, not in a hook
    // that a signal handler may call (a write to stderr).
    fds::reserve_first();
    PATCHED.store(true, Ordering::Release);
}

/// Whether [`patch_all`] has been called.
///
/// # Examples
///
/// ```
/// greenlet::monkey::patch_all();
/// assert!(greenlet::monkey::is_patched());
/// ```
pub fn is_patched() -> bool {
    PATCHED.load(Ordering::Acquire)
}
