//! [`UdpSocket`]: std's, registered with the hub.
//!
//! Each receive takes one datagram, and a datagram shorter than the buffer
//! says nothing about whether another one is queued behind it; so, unlike
//! the streams, a short receive does not mark the socket drained: only
//! `WouldBlock` does.

use std::fmt;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use crate::reactor::{Direction, IoSource};

use super::{ToSocketAddrs, each_addr, resolve};

/// A UDP socket: `std::net::UdpSocket` whose blocking calls park only the
/// calling greenlet.
///
/// Several greenlets may use one socket at once (its methods take `&self`):
/// each datagram goes to one of the greenlets parked receiving.
///
/// # Examples
///
/// ```
/// use greenlet::net::UdpSocket;
///
/// let server = UdpSocket::bind("127.0.0.1:0")?;
/// let addr = server.local_addr()?;
/// let echo = greenlet::spawn(move || -> std::io::Result<()> {
///     let mut buf = [0; 64];
///     let (n, peer) = server.recv_from(&mut buf)?;
///     server.send_to(&buf[..n], peer)?;
///     Ok(())
/// });
/// let client = UdpSocket::bind("127.0.0.1:0")?;
/// client.send_to(b"ping", addr)?;
/// let mut buf = [0; 64];
/// let (n, from) = client.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], addr));
/// echo.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    source: IoSource<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that works).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(&addr, |addr| {
            let socket = mio::net::UdpSocket::bind(addr)?;
            UdpSocket::from_nonblocking(socket.into())
        })
    }

    fn from_nonblocking(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            source: IoSource::new(socket)?,
        })
    }

    /// Takes a socket made by std (blocking or not) into the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = std_socket.local_addr()?;
    /// let socket = greenlet::net::UdpSocket::from_std(std_socket)?;
    /// assert_eq!(socket.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_nonblocking(socket)
    }

    /// Gives the socket back to std, in blocking mode (to move it to another
    /// thread, say).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let std_socket = socket.into_std()?;
    /// std::thread::spawn(move || drop(std_socket)).join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<net::UdpSocket> {
        let socket = self.source.into_inner();
        socket.set_nonblocking(false)?;
        Ok(socket)
    }

    /// Sets the default destination for [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts: the first of `addr`'s
    /// addresses that works. Nothing is sent, so this never waits (except
    /// to look a host name up).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(&addr, |addr| self.source.get_ref().connect(addr))
    }

    /// Sends one datagram to the connected peer; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// As std: an error if the socket is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.send(b"hi")?, 2);
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv_from(&mut buf)?, (2, a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source
            .io(Direction::Write, "UdpSocket::send", |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer; returns its length.
    /// Whatever does not fit in `buf` is discarded.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// b.send_to(b"hello", a.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// let n = a.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .io(Direction::Read, "UdpSocket::recv", |s| s.recv(buf))
    }

    /// As [`recv`](UdpSocket::recv), but leaves the datagram queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// b.send_to(b"hello", a.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(a.peek(&mut buf)?, 5);
    /// assert_eq!(a.recv(&mut buf)?, 5); // still there
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .io(Direction::Read, "UdpSocket::peek", |s| s.peek(buf))
    }

    /// Sends one datagram to the first address of `addr` (as std does);
    /// returns the bytes sent.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `addr` has no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.send_to(b"hi", b.local_addr()?)?, 2);
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv_from(&mut buf)?, (2, a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let target = resolve(&addr)?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.source.io(Direction::Write, "UdpSocket::send_to", |s| {
            s.send_to(buf, target)
        })
    }

    /// Receives one datagram; returns its length and where it came from.
    /// Whatever does not fit in `buf` is discarded.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = socket.local_addr()?;
    /// let sender = greenlet::spawn(move || {
    ///     let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     other.send_to(b"hello", addr).unwrap();
    ///     other.local_addr().unwrap()
    /// });
    /// let mut buf = [0; 8];
    /// let (n, from) = socket.recv_from(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hello");
    /// assert_eq!(from, sender.join().unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .io(Direction::Read, "UdpSocket::recv_from", |s| {
                s.recv_from(buf)
            })
    }

    /// As [`recv_from`](UdpSocket::recv_from), but leaves the datagram
    /// queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"hello", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek_from(&mut buf)?, (5, a.local_addr()?));
    /// assert_eq!(b.recv_from(&mut buf)?, (5, a.local_addr()?)); // still there
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .io(Direction::Read, "UdpSocket::peek_from", |s| {
                s.peek_from(buf)
            })
    }

    /// The address the socket is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The address the socket is connected to.
    ///
    /// # Errors
    ///
    /// `NotConnected` if it is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use greenlet::net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    /// socket.connect("127.0.0.1:9")?;
    /// assert_eq!(socket.peer_addr()?, "127.0.0.1:9".parse().unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Another handle onto the same socket, registered on its own.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let other = socket.try_clone()?;
    /// assert_eq!(other.local_addr()?, socket.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        UdpSocket::from_nonblocking(self.source.get_ref().try_clone()?)
    }

    /// Bounds how long a receive (or peek) may wait; past it, the call fails
    /// with `WouldBlock`, as std's on Unix. `None` waits for ever.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let error = socket.recv_from(&mut [0; 8]).unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Direction::Read, timeout)
    }

    /// Bounds how long a send may wait for room; past it, the send fails
    /// with `WouldBlock`. `None` waits for ever.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(socket.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Direction::Write, timeout)
    }

    /// The read timeout (see [`UdpSocket::set_read_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Direction::Read))
    }

    /// The write timeout (see [`UdpSocket::set_write_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Direction::Write))
    }

    /// In non-blocking mode sends and receives that cannot proceed return
    /// `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_nonblocking(true)?;
    /// let error = socket.recv_from(&mut [0; 8]).unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Sets `SO_BROADCAST` (may send to a broadcast address).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_broadcast(true)?;
    /// assert!(socket.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.source.get_ref().set_broadcast(broadcast)
    }

    /// `SO_BROADCAST` (see [`UdpSocket::set_broadcast`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(!socket.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.source.get_ref().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP` (whether multicast sent from here is looped
    /// back to this host).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_multicast_loop_v4(false)?;
    /// assert!(!socket.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v4(&self, multicast_loop_v4: bool) -> io::Result<()> {
        self.source
            .get_ref()
            .set_multicast_loop_v4(multicast_loop_v4)
    }

    /// `IP_MULTICAST_LOOP` (see [`UdpSocket::set_multicast_loop_v4`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.source.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL` (how many hops multicast sent from here may
    /// take).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_multicast_ttl_v4(4)?;
    /// assert_eq!(socket.multicast_ttl_v4()?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_ttl_v4(&self, multicast_ttl_v4: u32) -> io::Result<()> {
        self.source.get_ref().set_multicast_ttl_v4(multicast_ttl_v4)
    }

    /// `IP_MULTICAST_TTL` (see [`UdpSocket::set_multicast_ttl_v4`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.multicast_ttl_v4()?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.source.get_ref().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP` on an IPv6 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let Ok(socket) = UdpSocket::bind("[::1]:0") else {
    ///     return Ok(()); // no IPv6 here
    /// };
    /// socket.set_multicast_loop_v6(false)?;
    /// assert!(!socket.multicast_loop_v6()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v6(&self, multicast_loop_v6: bool) -> io::Result<()> {
        self.source
            .get_ref()
            .set_multicast_loop_v6(multicast_loop_v6)
    }

    /// `IPV6_MULTICAST_LOOP` (see [`UdpSocket::set_multicast_loop_v6`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let Ok(socket) = UdpSocket::bind("[::1]:0") else {
    ///     return Ok(()); // no IPv6 here
    /// };
    /// assert!(socket.multicast_loop_v6()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.source.get_ref().multicast_loop_v6()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`0.0.0.0`: one the system picks).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use greenlet::net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("0.0.0.0:0")?;
    /// let group = Ipv4Addr::new(239, 255, 0, 1);
    /// socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.source
            .get_ref()
            .join_multicast_v4(multiaddr, interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with
    /// index `interface` (0: one the system picks).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// use greenlet::net::UdpSocket;
    ///
    /// let Ok(socket) = UdpSocket::bind("[::1]:0") else {
    ///     return Ok(()); // no IPv6 here
    /// };
    /// let group: Ipv6Addr = "ff02::1234".parse().unwrap();
    /// let loopback = 1; // the index of the loopback interface on Linux and macOS
    /// socket.join_multicast_v6(&group, loopback)?;
    /// socket.leave_multicast_v6(&group, loopback)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.source
            .get_ref()
            .join_multicast_v6(multiaddr, interface)
    }

    /// Leaves a group joined with [`UdpSocket::join_multicast_v4`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use greenlet::net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("0.0.0.0:0")?;
    /// let group = Ipv4Addr::new(239, 255, 0, 2);
    /// socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.source
            .get_ref()
            .leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves a group joined with [`UdpSocket::join_multicast_v6`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// use greenlet::net::UdpSocket;
    ///
    /// let Ok(socket) = UdpSocket::bind("[::1]:0") else {
    ///     return Ok(()); // no IPv6 here
    /// };
    /// let group: Ipv6Addr = "ff02::5678".parse().unwrap();
    /// socket.join_multicast_v6(&group, 1)?; // 1: the loopback interface
    /// socket.leave_multicast_v6(&group, 1)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.source
            .get_ref()
            .leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_TTL` (how many hops a datagram sent from here may take).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_ttl(42)?;
    /// assert_eq!(socket.ttl()?, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// `IP_TTL` (see [`UdpSocket::set_ttl`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// Takes the pending `SO_ERROR` (say, an ICMP "port unreachable" for an
    /// earlier datagram).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}
