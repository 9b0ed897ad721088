//! [`TcpListener`] and [`TcpStream`]: std's, registered with the hub.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use crate::reactor::{Direction, IoSource};
use crate::sys;
use crate::time::deadline_after;

use super::{LISTEN_BACKLOG, ToSocketAddrs, each_addr};

/// A non-blocking std listener on `addr` with `SO_REUSEADDR` (as std's
/// `bind` sets it) and `SO_REUSEPORT`, listening with our backlog: for a
/// hub on another thread to take in with `from_std`.
#[cfg(target_os = "linux")]
pub(crate) fn reuseport_listener(addr: SocketAddr) -> io::Result<net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// A TCP socket server, listening for connections: `std::net::TcpListener`
/// whose `accept` parks only the calling greenlet.
///
/// `bind` listens with a backlog of 1024 (std's 128 drops bursts of
/// connections, which clients then retry only after a second); the system
/// may cap it lower (`net.core.somaxconn` on Linux). A listener taken in by
/// [`from_std`](TcpListener::from_std) keeps the backlog it has.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenlet::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let client = greenlet::spawn(move || {
///     let mut stream = TcpStream::connect(addr).unwrap();
///     stream.write_all(b"ping").unwrap();
/// });
/// let (mut stream, _peer) = listener.accept()?;
/// let mut got = String::new();
/// stream.read_to_string(&mut got)?;
/// assert_eq!(got, "ping");
/// client.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    // mio's, for its accept4(SOCK_NONBLOCK): no extra system call per connection.
    source: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works) and listens.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |addr| {
            let listener = mio::net::TcpListener::bind(addr)?;
            sys::set_backlog(listener.as_fd(), LISTEN_BACKLOG)?;
            TcpListener::from_nonblocking(listener)
        })
    }

    /// Binds to `addr` (the first of its addresses that works) with
    /// `SO_REUSEPORT` set, and listens: several such listeners, in one
    /// process or several, may share the port, and Linux spreads incoming
    /// connections over them by a hash of each connection's addresses. One
    /// listener per hub thread, each accepting only its own share, serves a
    /// port on every core without passing connections between threads
    /// (what [`StreamServer::bind_workers`] does).
    ///
    /// Every listener sharing the port must set the option, and (for
    /// safety) all must belong to the same user. Port 0 picks a free port
    /// for the first listener; bind the others to its
    /// [`local_addr`](TcpListener::local_addr).
    ///
    /// [`StreamServer::bind_workers`]: crate::server::StreamServer::bind_workers
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::TcpListener;
    ///
    /// let first = TcpListener::bind_reuseport("127.0.0.1:0")?;
    /// let addr = first.local_addr()?;
    /// let second = TcpListener::bind_reuseport(addr)?; // the same port
    /// assert_eq!(second.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(target_os = "linux")]
    pub fn bind_reuseport<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |addr| {
            TcpListener::from_nonblocking(mio::net::TcpListener::from_std(reuseport_listener(
                addr,
            )?))
        })
    }

    fn from_nonblocking(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            source: IoSource::new(listener)?,
        })
    }

    /// Takes a listener made by std (blocking or not) into the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let listener = greenlet::net::TcpListener::from_std(std_listener)?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_nonblocking(mio::net::TcpListener::from_std(listener))
    }

    /// Gives the listener back to std, in blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let std_listener = listener.into_std()?;
    /// assert_eq!(std_listener.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        let listener = net::TcpListener::from(self.source.into_inner());
        listener.set_nonblocking(false)?;
        Ok(listener)
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let client = greenlet::spawn(move || TcpStream::connect(addr).map(|s| s.local_addr()));
    /// let (_stream, peer) = listener.accept()?;
    /// assert_eq!(peer, client.join().unwrap()??);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self
            .source
            .io(Direction::Read, "TcpListener::accept", |l| l.accept())?;
        Ok((TcpStream::from_nonblocking(stream.into())?, peer))
    }

    /// An endless iterator of accepted connections (never `None`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// greenlet::spawn(move || {
    ///     for _ in 0..3 {
    ///         TcpStream::connect(addr).unwrap();
    ///     }
    /// });
    /// let accepted = listener.incoming().take(3).filter(Result::is_ok).count();
    /// assert_eq!(accepted, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.local_addr()?.is_ipv4());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Another handle onto the same socket, registered on its own.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let other = listener.try_clone()?;
    /// assert_eq!(other.local_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let fd = self.source.get_ref().as_fd().try_clone_to_owned()?;
        TcpListener::from_nonblocking(mio::net::TcpListener::from_std(fd.into()))
    }

    /// Sets `IP_TTL` for the accepted connections.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_ttl(42)?;
    /// assert_eq!(listener.ttl()?, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// `IP_TTL` (see [`TcpListener::set_ttl`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// In non-blocking mode `accept` returns `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_nonblocking(true)?;
    /// let error = listener.accept().unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Wakes greenlets parked in `accept` so they check again (a server that
    /// stops uses it to end its accept loop).
    pub(crate) fn wake_acceptors(&self) {
        self.source.state().wake(Direction::Read);
    }

    /// One accept attempt that never parks: `WouldBlock` if none is pending.
    pub(crate) fn accept_now(&self) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        match self.source.get_ref().accept() {
            Ok((stream, peer)) => Ok(Some((TcpStream::from_nonblocking(stream.into())?, peer))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.source.drained(Direction::Read);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Parks until the listener may have a connection, or until
    /// [`TcpListener::wake_acceptors`].
    pub(crate) fn wait_acceptable(&self) {
        self.source
            .wait_once(Direction::Read, "TcpListener::accept");
    }
}

/// The iterator from [`TcpListener::incoming`].
///
/// # Examples
///
/// ```no_run
/// let listener = greenlet::net::TcpListener::bind("127.0.0.1:7000")?;
/// for stream in listener.incoming() {
///     let stream = stream?;
///     greenlet::spawn(move || drop(stream));
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

/// A TCP connection: `std::net::TcpStream` whose blocking calls park only
/// the calling greenlet.
///
/// `Read` and `Write` are implemented for `&TcpStream` too, so one greenlet
/// may read while another writes the same stream.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenlet::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let echo = greenlet::spawn(move || {
///     let (mut stream, _) = listener.accept().unwrap();
///     let mut buf = [0; 4];
///     stream.read_exact(&mut buf).unwrap();
///     stream.write_all(&buf).unwrap();
/// });
/// let mut stream = TcpStream::connect(addr)?;
/// stream.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// stream.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
/// echo.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    source: IoSource<net::TcpStream>,
}

impl TcpStream {
    fn from_nonblocking(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            source: IoSource::new(stream)?,
        })
    }

    /// Connects to `addr`, trying each of its addresses in turn.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, |addr| TcpStream::connect_one(addr, None))
    }

    /// Connects to one address, giving up with `TimedOut` after `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero timeout, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    /// assert_eq!(stream.peer_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_one(*addr, Some(timeout))
    }

    fn connect_one(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let stream = TcpStream::from_nonblocking(mio::net::TcpStream::connect(addr)?.into())?;
        let deadline = timeout.and_then(deadline_after);
        if !stream
            .source
            .wait_ready(Direction::Write, deadline, "TcpStream::connect")
        {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ));
        }
        if let Some(error) = stream.take_error()? {
            return Err(error);
        }
        // Writable without an error may still mean "not yet" on some
        // systems; peer_addr tells.
        stream.peer_addr()?;
        Ok(stream)
    }

    /// Takes a stream made by std (blocking or not) into the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let stream = greenlet::net::TcpStream::from_std(std_stream)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_nonblocking(stream)
    }

    /// Gives the stream back to std, in blocking mode (to move it to
    /// another thread, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// let std_stream = stream.into_std()?;
    /// std::thread::spawn(move || drop(std_stream)).join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        let stream = self.source.into_inner();
        stream.set_nonblocking(false)?;
        Ok(stream)
    }

    /// The address of the remote end.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// The address of this end.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Shuts down the read side, the write side or both.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use greenlet::net::{Shutdown, TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// client.shutdown(Shutdown::Write)?;
    /// let mut rest = Vec::new();
    /// assert_eq!(server.read_to_end(&mut rest)?, 0); // end of stream
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }

    /// Another handle onto the same connection, registered on its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// let clone = stream.try_clone()?;
    /// assert_eq!(clone.peer_addr()?, stream.peer_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        TcpStream::from_nonblocking(self.source.get_ref().try_clone()?)
    }

    /// Reads without removing what is read from the socket's queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// client.write_all(b"hi")?;
    /// let mut buf = [0; 2];
    /// assert_eq!(server.peek(&mut buf)?, 2);
    /// server.read_exact(&mut buf)?; // still there
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .io(Direction::Read, "TcpStream::peek", |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.source.get_ref().set_nodelay(nodelay)
    }

    /// `TCP_NODELAY` (see [`TcpStream::set_nodelay`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert!(!stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.source.get_ref().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_ttl(42)?;
    /// assert_eq!(stream.ttl()?, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// `IP_TTL` (see [`TcpStream::set_ttl`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Bounds how long a read (or peek) may wait; past it, the read fails
    /// with `WouldBlock`, as std's on Unix. `None` waits for ever.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Duration;
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let error = stream.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Direction::Read, timeout)
    }

    /// Bounds how long a write may wait for room; past it, the write fails
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
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(stream.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Direction::Write, timeout)
    }

    /// The read timeout (see [`TcpStream::set_read_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Direction::Read))
    }

    /// The write timeout (see [`TcpStream::set_write_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Direction::Write))
    }

    /// In non-blocking mode reads and writes that cannot proceed return
    /// `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use greenlet::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nonblocking(true)?;
    /// assert_eq!(stream.read(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking);
        Ok(())
    }

    #[inline(always)] // its frame would stay open across the switch
    fn read_into(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .source
            .io(Direction::Read, "TcpStream::read", |mut s| s.read(buf))?;
        if n > 0 && n < buf.len() {
            // A short read emptied the socket's queue: the next read would
            // only say WouldBlock, so wait for the next edge instead.
            self.source.drained(Direction::Read);
        }
        Ok(n)
    }

    fn read_vectored_bufs(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.source.io(Direction::Read, "TcpStream::read", |mut s| {
            s.read_vectored(bufs)
        })
    }

    #[inline(always)]
    fn write_from(&self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .source
            .io(Direction::Write, "TcpStream::write", |mut s| s.write(buf))?;
        if n < buf.len() {
            self.source.drained(Direction::Write); // the send buffer is full
        }
        Ok(n)
    }

    fn write_vectored_bufs(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.source
            .io(Direction::Write, "TcpStream::write", |mut s| {
                s.write_vectored(bufs)
            })
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_vectored_bufs(bufs)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_vectored_bufs(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_from(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored_bufs(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_from(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored_bufs(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}
