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
//! - Addresses are given as this module's [`ToSocketAddrs`], which has the
//!   same implementors and meaning as std's trait but is sealed: a host name
//!   is looked up on a process-wide pool of at most 8 resolver threads while
//!   the calling greenlet parks (see [`lookup_host`]); addresses written as
//!   numbers are converted at once, with no thread.
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

// Layer: user-facing. Owns the socket types and name resolution; uses the reactor, time, the thread pool and `sys`.

#![forbid(unsafe_code)]

mod addr;
pub(crate) mod resolver;
mod tcp;
mod udp;
mod unix;

pub use addr::ToSocketAddrs;
pub use resolver::lookup_host;
pub use std::net::{Shutdown, SocketAddr};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};

pub(crate) use resolver::each_addr as each_listen_addr;
use resolver::{each_addr, resolve};
#[cfg(target_os = "linux")]
pub(crate) use tcp::reuseport_listener;

/// The accept queue that our listeners' `bind` asks for. mio's `bind`, like
/// std's, listens with 128 (for TCP), which a burst of connects overflows:
/// the kernel drops the SYNs beyond it and the clients send them again only
/// after a second. The system caps it (`net.core.somaxconn` on Linux).
const LISTEN_BACKLOG: i32 = 1024;
