//! Networking that blocks only the calling greenlet: a drop-in for
//! `std::net`, plus Unix sockets.
//!
//! [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`],
//! [`UnixStream`] and [`UnixDatagram`] have std's constructors, methods and
//! error kinds; the Unix ones take std's `std::os::unix::net::SocketAddr`.
//! An operation that would block parks the calling greenlet until the socket
//! is ready; the other greenlets run meanwhile. In the root context the call
//! runs the hub while it waits. `Read` and `Write` are implemented for the
//! stream types and for shared references to them, so one greenlet may read a
//! socket while another writes it.
//!
//! Differences from std, all following from greenlets living on one thread:
//! - The socket types are not `Send`: a socket is registered with the hub of
//!   the thread that made it. Use [`TcpStream::into_std`] (and the like) to
//!   hand one to another thread, and `from_std` there.
//! - `set_read_timeout`, `set_write_timeout` and `set_nonblocking` apply to
//!   the handle they are called on, not to handles made by `try_clone`.
//! - `into_std` puts the socket back in blocking mode, which is shared by
//!   every handle onto it: a handle made by `try_clone` that stays with
//!   greenlets would then block the whole thread in its calls.
//! - Host names are resolved on another thread (see [`lookup_host`]), so the
//!   address types must be `Sync`, as every std implementor of
//!   [`ToSocketAddrs`] is.
//!
//! A greenlet killed or timed out (see [`with_timeout`](crate::with_timeout))
//! while it waits in a socket call unwinds out of it, closing whatever
//! sockets it owned.
//!
//! # Examples
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use greenlet::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = greenlet::spawn(move || -> std::io::Result<()> {
//!     let (stream, _) = listener.accept()?;
//!     let mut line = String::new();
//!     BufReader::new(&stream).read_line(&mut line)?;
//!     (&stream).write_all(line.to_uppercase().as_bytes())
//! });
//! let mut client = TcpStream::connect(addr)?;
//! client.write_all(b"hello\n")?;
//! let mut reply = String::new();
//! BufReader::new(&client).read_line(&mut reply)?;
//! assert_eq!(reply, "HELLO\n");
//! server.join().unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]

mod tcp;
mod udp;
mod unix;

pub use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};

use std::any::type_name;
use std::io;
use std::thread;

use crate::hub::{ExternalWait, external_signal};

/// Enough for getaddrinfo and its NSS modules; a small stack makes the
/// thread cheaper to start.
const LOOKUP_STACK_SIZE: usize = 256 * 1024;

/// Resolves `addr` to socket addresses without blocking the hub: host
/// names are looked up on another thread while the calling greenlet parks
/// (addresses given as IP addresses are converted at once).
///
/// As `ToSocketAddrs::to_socket_addrs`, with the same errors; a name that
/// resolves to no address gives an empty iterator here and an
/// `InvalidInput` error from `connect` and `bind`.
///
/// A greenlet killed while its lookup runs unwinds once the lookup has
/// finished (the lookup borrows `addr`, which lives on its stack).
///
/// # Examples
///
/// ```
/// let addrs: Vec<_> = greenlet::net::lookup_host("localhost:80")?.collect();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
///
/// let direct: Vec<_> = greenlet::net::lookup_host("127.0.0.1:8080")?.collect();
/// assert_eq!(direct, ["127.0.0.1:8080".parse().unwrap()]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn lookup_host(
    addr: impl ToSocketAddrs + Sync,
) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&addr).map(Vec::into_iter)
}

/// [`lookup_host`] as a `Vec`.
pub(crate) fn resolve<A: ToSocketAddrs + Sync + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    if is_address_type::<A>() {
        return addr.to_socket_addrs().map(Iterator::collect);
    }
    // A scoped thread, because `addr` is borrowed. Leaving the scope waits
    // for the thread, which would stall the hub; so the caller first parks
    // until the lookup is over, even when it unwinds (see `Finish`).
    thread::scope(|scope| {
        let (waker, done) = external_signal();
        let lookup = thread::Builder::new()
            .name("greenlet-lookup".into())
            .stack_size(LOOKUP_STACK_SIZE)
            .spawn_scoped(scope, move || {
                let addrs = addr.to_socket_addrs().map(Iterator::collect);
                waker.wake();
                addrs
            })?;
        let finish = Finish(done);
        finish.0.wait("lookup_host");
        drop(finish);
        lookup
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
    })
}

/// Parks until the lookup thread has signalled, however the scope is left.
struct Finish(ExternalWait);

impl Drop for Finish {
    fn drop(&mut self) {
        // While unwinding (a kill) parking is not interrupted again.
        while !self.0.is_done() {
            self.0.wait("lookup_host");
        }
    }
}

/// Whether `A` is one of std's address types, whose conversion never looks
/// a name up. (A type name is only a hint: a type not recognised here is
/// resolved on a thread, which is correct, just slower.)
fn is_address_type<A: ?Sized>() -> bool {
    let name = type_name::<A>().trim_start_matches('&');
    ["core::net::", "std::net::", "(core::net::", "[core::net::"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The accept queue that our listeners' `bind` asks for. mio's `bind`, like
/// std's, listens with 128 (for TCP), which a burst of connects overflows:
/// the kernel drops the SYNs beyond it and the clients send them again only
/// after a second. The system caps it (`net.core.somaxconn` on Linux).
const LISTEN_BACKLOG: i32 = 1024;

/// The error std gives when an address list is empty.
fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}

/// Tries `f` on each address in turn; the first success, or the last error.
fn each_addr<A, T>(addr: &A, mut f: impl FnMut(SocketAddr) -> io::Result<T>) -> io::Result<T>
where
    A: ToSocketAddrs + Sync + ?Sized,
{
    let mut last = None;
    for addr in resolve(addr)? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

    #[test]
    fn std_address_types_are_converted_without_a_thread() {
        assert!(is_address_type::<SocketAddr>());
        assert!(is_address_type::<&SocketAddr>());
        assert!(is_address_type::<SocketAddrV4>());
        assert!(is_address_type::<(IpAddr, u16)>());
        assert!(is_address_type::<(Ipv4Addr, u16)>());
        assert!(is_address_type::<[SocketAddr]>());
        assert!(!is_address_type::<&str>());
        assert!(!is_address_type::<String>());
        assert!(!is_address_type::<(&str, u16)>());
    }
}
