//! [`UnixListener`], [`UnixStream`] and [`UnixDatagram`]: std's Unix domain
//! sockets, registered with the hub.
//!
//! The addresses are std's `std::os::unix::net::SocketAddr` (not re-exported
//! here, since `SocketAddr` in this module is the IP one). As with
//! [`UdpSocket`](super::UdpSocket), a short datagram receive does not mark a
//! [`UnixDatagram`] drained; a short stream read does.

use std::cell::Cell;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use crate::reactor::{Direction, IoSource};
use crate::sys;

use super::LISTEN_BACKLOG;

/// A Unix domain socket server, listening for connections:
/// `std::os::unix::net::UnixListener` whose `accept` parks only the calling
/// greenlet.
///
/// `bind` listens with a backlog of 1024 (which the system may cap). As with
/// std, dropping the listener does not remove its file.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenlet::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("greenlet-example-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("echo.sock");
/// let listener = UnixListener::bind(&path)?;
/// let echo = greenlet::spawn(move || -> std::io::Result<()> {
///     let (mut stream, _) = listener.accept()?;
///     let mut buf = [0; 4];
///     stream.read_exact(&mut buf)?;
///     stream.write_all(&buf)
/// });
/// let mut stream = UnixStream::connect(&path)?;
/// stream.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// stream.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
/// echo.join().unwrap()?;
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    // mio's, for its accept4(SOCK_NONBLOCK): no extra system call per connection.
    source: IoSource<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist yet) and
    /// listens.
    ///
    /// # Examples
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-bind", std::process::id()));
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::listening(mio::net::UnixListener::bind(path)?)
    }

    /// Binds to `address` and listens.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// use greenlet::net::UnixListener;
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-bind-addr", std::process::id()));
    /// let address = SocketAddr::from_pathname(&path)?;
    /// let listener = UnixListener::bind_addr(&address)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_addr(address: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::listening(mio::net::UnixListener::bind_addr(address)?)
    }

    /// Takes a listener that mio bound into the hub, with our backlog (mio's
    /// depends on the system: 128 on some, `SOMAXCONN` on others).
    fn listening(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        sys::set_backlog(listener.as_fd(), LISTEN_BACKLOG)?;
        UnixListener::from_nonblocking(listener)
    }

    fn from_nonblocking(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            source: IoSource::new(listener)?,
        })
    }

    /// Takes a listener made by std (blocking or not) into the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-from-std", std::process::id()));
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let listener = greenlet::net::UnixListener::from_std(std_listener)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::from_nonblocking(mio::net::UnixListener::from_std(listener))
    }

    /// Gives the listener back to std, in blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-into-std", std::process::id()));
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// let std_listener = listener.into_std()?;
    /// assert_eq!(std_listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<net::UnixListener> {
        let listener = net::UnixListener::from(self.source.into_inner());
        listener.set_nonblocking(false)?;
        Ok(listener)
    }

    /// Waits for a connection and returns it with the peer's address
    /// (unnamed, unless the peer bound its socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-accept", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let client = greenlet::spawn({
    ///     let path = path.clone();
    ///     move || UnixStream::connect(path)
    /// });
    /// let (_stream, peer) = listener.accept()?;
    /// assert!(peer.is_unnamed());
    /// client.join().unwrap()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, peer) = self
            .source
            .io(Direction::Read, "UnixListener::accept", |l| l.accept())?;
        Ok((UnixStream::from_nonblocking(stream.into())?, peer))
    }

    /// An endless iterator of accepted connections (never `None`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-incoming", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let clients = greenlet::spawn({
    ///     let path = path.clone();
    ///     move || (0..3).map(|_| UnixStream::connect(&path).unwrap()).collect::<Vec<_>>()
    /// });
    /// let accepted = listener.incoming().take(3).filter(Result::is_ok).count();
    /// assert_eq!(accepted, 3);
    /// drop(clients.join().unwrap());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-local-addr", std::process::id()));
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
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
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-try-clone", std::process::id()));
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// let other = listener.try_clone()?;
    /// assert_eq!(other.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        let fd = self.source.get_ref().as_fd().try_clone_to_owned()?;
        UnixListener::from_nonblocking(mio::net::UnixListener::from_std(fd.into()))
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-take-error", std::process::id()));
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert!(listener.take_error()?.is_none());
    /// # std::fs::remove_file(&path)?;
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
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-l-nonblocking", std::process::id()));
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// listener.set_nonblocking(true)?;
    /// let error = listener.accept().unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

/// The iterator from [`UnixListener::incoming`] (std's
/// `std::os::unix::net::Incoming`; renamed, since [`Incoming`](super::Incoming)
/// here is the TCP one).
///
/// # Examples
///
/// ```
/// use greenlet::net::{UnixListener, UnixStream};
///
/// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-incoming", std::process::id()));
/// let listener = UnixListener::bind(&path)?;
/// let client = greenlet::spawn({
///     let path = path.clone();
///     move || UnixStream::connect(path)
/// });
/// let mut incoming = listener.incoming();
/// let stream = incoming.next().unwrap()?;
/// assert_eq!(stream.local_addr()?.as_pathname(), Some(path.as_path()));
/// client.join().unwrap()?;
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

/// A Unix domain stream socket: `std::os::unix::net::UnixStream` whose
/// blocking calls park only the calling greenlet.
///
/// `Read` and `Write` are implemented for `&UnixStream` too, so one greenlet
/// may read while another writes the same stream.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenlet::net::UnixStream;
///
/// let (mut ours, theirs) = UnixStream::pair()?;
/// let echo = greenlet::spawn(move || {
///     let mut buf = [0; 4];
///     (&theirs).read_exact(&mut buf).unwrap();
///     (&theirs).write_all(&buf).unwrap();
/// });
/// ours.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// ours.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
/// echo.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    source: IoSource<net::UnixStream>,
}

impl UnixStream {
    fn from_nonblocking(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            source: IoSource::new(stream)?,
        })
    }

    /// Connects to the socket file `path`.
    ///
    /// # Errors
    ///
    /// As std's (`NotFound` if nothing is there, `ConnectionRefused` if
    /// nothing listens on it); and, unlike std, `WouldBlock` at once where
    /// the system refuses a non-blocking connect because the listener's
    /// backlog is full (std's blocking connect would wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-s-connect", std::process::id()));
    /// let _listener = UnixListener::bind(&path)?;
    /// let stream = UnixStream::connect(&path)?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::finish_connect(mio::net::UnixStream::connect(path)?)
    }

    /// Connects to `address`.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-s-connect-addr", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let stream = UnixStream::connect_addr(&listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_addr(address: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::finish_connect(mio::net::UnixStream::connect_addr(address)?)
    }

    fn finish_connect(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        let stream = UnixStream::from_nonblocking(stream.into())?;
        stream
            .source
            .wait_ready(Direction::Write, None, "UnixStream::connect");
        if let Some(error) = stream.take_error()? {
            return Err(error);
        }
        Ok(stream)
    }

    /// A connected pair of unnamed sockets.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (mut a, mut b) = greenlet::net::UnixStream::pair()?;
    /// a.write_all(b"hi")?;
    /// let mut buf = [0; 2];
    /// b.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((
            UnixStream::from_nonblocking(a.into())?,
            UnixStream::from_nonblocking(b.into())?,
        ))
    }

    /// Takes a stream made by std (blocking or not) into the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (std_stream, mut other) = std::os::unix::net::UnixStream::pair()?;
    /// let mut stream = greenlet::net::UnixStream::from_std(std_stream)?;
    /// other.write_all(b"hi")?;
    /// let mut buf = [0; 2];
    /// stream.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_nonblocking(stream)
    }

    /// Gives the stream back to std, in blocking mode (to move it to
    /// another thread, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (stream, mut other) = greenlet::net::UnixStream::pair()?;
    /// let mut std_stream = stream.into_std()?;
    /// let reader = std::thread::spawn(move || {
    ///     let mut buf = [0; 2];
    ///     std_stream.read_exact(&mut buf).map(|()| buf)
    /// });
    /// other.write_all(b"hi")?;
    /// assert_eq!(&reader.join().unwrap()?, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<net::UnixStream> {
        let stream = self.source.into_inner();
        stream.set_nonblocking(false)?;
        Ok(stream)
    }

    /// The address of the remote end.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
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
    /// use greenlet::net::{Shutdown, UnixStream};
    ///
    /// let (a, mut b) = UnixStream::pair()?;
    /// a.shutdown(Shutdown::Write)?;
    /// let mut rest = Vec::new();
    /// assert_eq!(b.read_to_end(&mut rest)?, 0); // end of stream
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
    /// use std::io::{Read, Write};
    ///
    /// let (a, mut b) = greenlet::net::UnixStream::pair()?;
    /// let mut clone = a.try_clone()?;
    /// clone.write_all(b"hi")?;
    /// let mut buf = [0; 2];
    /// b.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        UnixStream::from_nonblocking(self.source.get_ref().try_clone()?)
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Bounds how long a read may wait; past it, the read fails with
    /// `WouldBlock`, as std's on Unix. `None` waits for ever.
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
    ///
    /// let (mut a, _b) = greenlet::net::UnixStream::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let error = a.read(&mut [0; 8]).unwrap_err();
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
    ///
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Direction::Write, timeout)
    }

    /// The read timeout (see [`UnixStream::set_read_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert_eq!(a.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Direction::Read))
    }

    /// The write timeout (see [`UnixStream::set_write_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert_eq!(a.write_timeout()?, None);
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
    ///
    /// let (mut a, _b) = greenlet::net::UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// assert_eq!(a.read(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
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
            .io(Direction::Read, "UnixStream::read", |mut s| s.read(buf))?;
        if n > 0 && n < buf.len() {
            // A short read emptied the socket's queue: the next read would
            // only say WouldBlock, so wait for the next edge instead.
            self.source.drained(Direction::Read);
        }
        Ok(n)
    }

    fn read_vectored_bufs(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.source
            .io(Direction::Read, "UnixStream::read", |mut s| {
                s.read_vectored(bufs)
            })
    }

    #[inline(always)]
    fn write_from(&self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .source
            .io(Direction::Write, "UnixStream::write", |mut s| s.write(buf))?;
        if n < buf.len() {
            self.source.drained(Direction::Write); // the send buffer is full
        }
        Ok(n)
    }

    fn write_vectored_bufs(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.source
            .io(Direction::Write, "UnixStream::write", |mut s| {
                s.write_vectored(bufs)
            })
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_vectored_bufs(bufs)
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_vectored_bufs(bufs)
    }
}

impl Write for UnixStream {
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

impl Write for &UnixStream {
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

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}

/// A Unix domain datagram socket: `std::os::unix::net::UnixDatagram` whose
/// blocking calls park only the calling greenlet.
///
/// # Examples
///
/// ```
/// use greenlet::net::UnixDatagram;
///
/// let (ours, theirs) = UnixDatagram::pair()?;
/// let echo = greenlet::spawn(move || -> std::io::Result<()> {
///     let mut buf = [0; 64];
///     let n = theirs.recv(&mut buf)?;
///     theirs.send(&buf[..n])?;
///     Ok(())
/// });
/// ours.send(b"ping")?;
/// let mut buf = [0; 64];
/// let n = ours.recv(&mut buf)?;
/// assert_eq!(&buf[..n], b"ping");
/// echo.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    source: IoSource<net::UnixDatagram>,
    /// Set by `shutdown(Read)` through this handle or its clones: Linux ends
    /// a blocking receive on a socket shut for reading with 0, but a
    /// non-blocking one only ever says `WouldBlock`, which would park the
    /// receiver for good.
    read_shut: Rc<Cell<bool>>,
}

impl UnixDatagram {
    fn from_nonblocking(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            source: IoSource::new(socket)?,
            read_shut: Rc::default(),
        })
    }

    /// `WouldBlock` from a receive on a socket shut for reading becomes
    /// what std's blocking receive gives: the end, at once.
    fn ended<T>(&self, result: io::Result<T>, end: impl FnOnce() -> T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.read_shut.get() => Ok(end()),
            result => result,
        }
    }

    /// Binds to the socket file `path` (which must not exist yet).
    ///
    /// # Examples
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-d-bind", std::process::id()));
    /// let socket = greenlet::net::UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_nonblocking(mio::net::UnixDatagram::bind(path)?.into())
    }

    /// Binds to `address`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// use greenlet::net::UnixDatagram;
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-d-bind-addr", std::process::id()));
    /// let socket = UnixDatagram::bind_addr(&SocketAddr::from_pathname(&path)?)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_addr(address: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::from_nonblocking(mio::net::UnixDatagram::bind_addr(address)?.into())
    }

    /// A socket bound to no address (it can send, and receive replies only
    /// once connected or bound).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_nonblocking(mio::net::UnixDatagram::unbound()?.into())
    }

    /// A connected pair of unnamed sockets.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// a.send(b"hi")?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((
            UnixDatagram::from_nonblocking(a.into())?,
            UnixDatagram::from_nonblocking(b.into())?,
        ))
    }

    /// Takes a socket made by std (blocking or not) into the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// let (std_socket, other) = std::os::unix::net::UnixDatagram::pair()?;
    /// let socket = greenlet::net::UnixDatagram::from_std(std_socket)?;
    /// other.send(b"hi")?;
    /// assert_eq!(socket.recv(&mut [0; 8])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_nonblocking(socket)
    }

    /// Gives the socket back to std, in blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let (socket, other) = greenlet::net::UnixDatagram::pair()?;
    /// let std_socket = socket.into_std()?;
    /// other.send(b"hi")?;
    /// assert_eq!(std_socket.recv(&mut [0; 8])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<net::UnixDatagram> {
        let socket = self.source.into_inner();
        socket.set_nonblocking(false)?;
        Ok(socket)
    }

    /// Sets the default destination for [`send`](UnixDatagram::send) and the
    /// only source [`recv`](UnixDatagram::recv) accepts. Never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-d-connect", std::process::id()));
    /// let _server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.source.get_ref().connect(path)
    }

    /// As [`connect`](UnixDatagram::connect), to `address`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-d-connect-addr", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect_addr(&server.local_addr()?)?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_addr(&self, address: &SocketAddr) -> io::Result<()> {
        self.source.get_ref().connect_addr(address)
    }

    /// Sends one datagram to the connected peer; returns the bytes sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"hi")?, 2);
    /// assert_eq!(b.recv(&mut [0; 8])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source
            .io(Direction::Write, "UnixDatagram::send", |s| s.send(buf))
    }

    /// Receives one datagram; returns its length. Whatever does not fit in
    /// `buf` is discarded.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// let sender = greenlet::spawn(move || a.send(b"hello"));
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hello");
    /// sender.join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.io(Direction::Read, "UnixDatagram::recv", |s| {
            self.ended(s.recv(buf), || 0)
        })
    }

    /// Sends one datagram to the socket file `path`; returns the bytes sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-d-send-to", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// assert_eq!(client.send_to(b"hi", &path)?, 2);
    /// assert_eq!(server.recv(&mut [0; 8])?, 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.source
            .io(Direction::Write, "UnixDatagram::send_to", |s| {
                s.send_to(buf, path)
            })
    }

    /// Sends one datagram to `address`; returns the bytes sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-d-send-to-addr", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// assert_eq!(client.send_to_addr(b"hi", &server.local_addr()?)?, 2);
    /// assert_eq!(server.recv(&mut [0; 8])?, 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to_addr(&self, buf: &[u8], address: &SocketAddr) -> io::Result<usize> {
        self.source
            .io(Direction::Write, "UnixDatagram::send_to", |s| {
                s.send_to_addr(buf, address)
            })
    }

    /// Receives one datagram; returns its length and the sender's address
    /// (unnamed unless the sender bound its socket). Whatever does not fit
    /// in `buf` is discarded.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// # let path = std::env::temp_dir().join(format!("greenlet-doc-{}-d-recv-from", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.send_to(b"hi", &path)?;
    /// let mut buf = [0; 8];
    /// let (n, from) = server.recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from.is_unnamed()), (&b"hi"[..], true));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .io(Direction::Read, "UnixDatagram::recv_from", |s| {
                // An empty path makes the unnamed address std gives here.
                self.ended(s.recv_from(buf), || {
                    (
                        0,
                        SocketAddr::from_pathname("").expect("an empty path is valid"),
                    )
                })
            })
    }

    /// The address the socket is bound to (unnamed if it is not).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
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
    /// use greenlet::net::UnixDatagram;
    ///
    /// let socket = UnixDatagram::unbound()?;
    /// assert_eq!(socket.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
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
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// a.try_clone()?.send(b"hi")?;
    /// assert_eq!(b.recv(&mut [0; 8])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            read_shut: self.read_shut.clone(),
            ..UnixDatagram::from_nonblocking(self.source.get_ref().try_clone()?)?
        })
    }

    /// Bounds how long a receive may wait; past it, the call fails with
    /// `WouldBlock`, as std's on Unix. `None` waits for ever.
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
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let error = a.recv(&mut [0; 8]).unwrap_err();
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
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Direction::Write, timeout)
    }

    /// The read timeout (see [`UnixDatagram::set_read_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// assert_eq!(a.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Direction::Read))
    }

    /// The write timeout (see [`UnixDatagram::set_write_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// assert_eq!(a.write_timeout()?, None);
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
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// a.set_nonblocking(true)?;
    /// assert_eq!(a.recv(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Shuts down the read side, the write side or both.
    ///
    /// After `Shutdown::Read`, receives through this handle and its
    /// [`try_clone`](UnixDatagram::try_clone)s return 0 (with an unnamed
    /// address) once the queue is empty, waking any greenlet parked in one,
    /// as std's do. A shutdown made through another descriptor of the socket
    /// (say, one given to std) goes unnoticed: a receive then waits for its
    /// timeout, or for ever.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{Shutdown, UnixDatagram};
    ///
    /// let (a, _b) = UnixDatagram::pair()?;
    /// let a = std::rc::Rc::new(a);
    /// let receiver = greenlet::spawn({
    ///     let a = a.clone();
    ///     move || a.recv(&mut [0; 8])
    /// });
    /// greenlet::yield_now(); // the receiver parks
    /// a.shutdown(Shutdown::Read)?;
    /// assert_eq!(receiver.join().unwrap()?, 0); // nothing more will come
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)?;
        if how != Shutdown::Write {
            self.read_shut.set(true);
        }
        Ok(())
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.source.as_fd()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.source.get_ref().as_raw_fd()
    }
}
