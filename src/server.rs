//! [`StreamServer`]: a TCP server that serves each connection in its own
//! greenlet (gevent's `StreamServer`), on this thread's hub or on a hub per
//! worker thread ([`StreamServer::bind_workers`]).
//!
//! The accept loop never gives up: when the process runs out of descriptors
//! (`EMFILE`, `ENFILE`) an accept fails while the connection stays queued,
//! so retrying at once would spin and waiting for the next readiness edge
//! might never wake. The loop backs off on a timer instead (and retries as
//! soon as one of its own connections closes), then serves again.
//!
//! This module must not hold a `RefCell` borrow while it parks.

// Layer: user-facing. Owns the accept loop and the worker threads; uses net, pool, event,
// channel, the wait-list and `sys`.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::channel;
use crate::event::Event;
use crate::net::{TcpListener, TcpStream, ToSocketAddrs};
use crate::pool::Group;
use crate::sys;
use crate::wait_list::WaitList;

/// The first pause after an accept fails for lack of descriptors; it doubles
/// up to [`MAX_BACKOFF`] while the failures go on.
const MIN_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// How long [`StreamServer::stop`] lets running connections finish before
/// it kills them, unless set with [`StreamServer::stop_timeout`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::server::{DEFAULT_STOP_TIMEOUT, StreamServer};
///
/// assert_eq!(DEFAULT_STOP_TIMEOUT, Duration::from_secs(1));
/// // Twice the default patience for running connections at `stop`:
/// let server = StreamServer::bind("127.0.0.1:0", |_stream, _peer| {})?
///     .stop_timeout(DEFAULT_STOP_TIMEOUT * 2);
/// server.stop();
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(1);

type Handler = dyn Fn(TcpStream, SocketAddr);

/// A TCP server that runs `handler(stream, peer)` in a new greenlet for
/// every connection.
///
/// Build it with [`StreamServer::bind`] (the port is bound at once; or with
/// [`bind_workers`](StreamServer::bind_workers), to serve it from a hub on
/// each of several threads), cap concurrent connections with
/// [`max_connections`](StreamServer::max_connections),
/// then either [`serve_forever`](StreamServer::serve_forever) (blocks the
/// caller) or [`start`](StreamServer::start) (serves in a background greenlet).
/// [`stop`](StreamServer::stop) closes the port and ends the serving.
///
/// When `max_connections` connections are being served, the server stops
/// accepting: further clients wait in the kernel's queue (backlog 1024) and
/// are served in turn; none is closed. A handler that panics ends only its
/// own connection (the panic is logged).
///
/// A started server keeps serving until [`stop`](StreamServer::stop), even if
/// its `StreamServer` is dropped (as in gevent): its accept loop owns what it
/// needs.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use greenlet::net::TcpStream;
/// use greenlet::server::StreamServer;
///
/// let server = StreamServer::bind("127.0.0.1:0", |stream, _peer| {
///     // One reader for the whole connection: what it has buffered beyond
///     // the first line is the start of the next ones.
///     let mut reader = BufReader::new(&stream);
///     let mut line = String::new();
///     while reader.read_line(&mut line).unwrap_or(0) > 0 {
///         if (&stream).write_all(line.as_bytes()).is_err() {
///             break;
///         }
///         line.clear();
///     }
/// })?
/// .max_connections(100);
/// server.start();
///
/// let mut client = TcpStream::connect(server.local_addr()?)?;
/// client.write_all(b"one\ntwo\n")?; // two lines in one write
/// let mut replies = BufReader::new(&client);
/// let mut reply = String::new();
/// replies.read_line(&mut reply)?;
/// replies.read_line(&mut reply)?;
/// assert_eq!(reply, "one\ntwo\n");
///
/// drop(client); // its handler returns at end of stream
/// server.stop();
/// assert!(TcpStream::connect(server.local_addr()?).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StreamServer {
    kind: Kind,
}

enum Kind {
    /// Served by this thread's hub.
    One(Rc<Inner>),
    /// Served by worker threads, one hub and one listener each.
    Workers(Workers),
}

struct Inner {
    /// Taken by `stop`; the accept loop holds its own clone while it runs.
    listener: RefCell<Option<Rc<TcpListener>>>,
    local_addr: SocketAddr,
    handler: Rc<Handler>,
    max_connections: Cell<usize>,
    stop_timeout: Cell<Duration>,
    connections: Group,
    active: Cell<usize>,
    /// A worker's count of `active`, for the server that started it.
    published: Option<Arc<AtomicUsize>>,
    stopped: Cell<bool>,
    serving: Cell<bool>,
    /// Set when the accept loop has returned (and dropped its listener).
    loop_exited: Event,
    /// The accept loop, parked until a connection slot frees, its backoff
    /// ends, or the server stops.
    loop_wait: WaitList<()>,
}

impl StreamServer {
    /// Binds `addr` and prepares to serve it with `handler`; nothing is
    /// accepted until [`serve_forever`](StreamServer::serve_forever) or
    /// [`start`](StreamServer::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |_stream, peer| {
    ///     println!("connection from {peer}");
    /// })?;
    /// assert!(server.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A, F>(addr: A, handler: F) -> io::Result<StreamServer>
    where
        A: ToSocketAddrs,
        F: Fn(TcpStream, SocketAddr) + 'static,
    {
        let listener = TcpListener::bind(addr)?;
        StreamServer::serving(listener, Rc::new(handler), None)
    }

    /// A server of `listener` on this thread's hub.
    fn serving(
        listener: TcpListener,
        handler: Rc<Handler>,
        published: Option<Arc<AtomicUsize>>,
    ) -> io::Result<StreamServer> {
        let local_addr = listener.local_addr()?;
        Ok(StreamServer {
            kind: Kind::One(Rc::new(Inner {
                listener: RefCell::new(Some(Rc::new(listener))),
                local_addr,
                handler,
                max_connections: Cell::new(usize::MAX),
                stop_timeout: Cell::new(DEFAULT_STOP_TIMEOUT),
                connections: Group::new(),
                active: Cell::new(0),
                published,
                stopped: Cell::new(false),
                serving: Cell::new(false),
                loop_exited: Event::new(),
                loop_wait: WaitList::new(),
            })),
        })
    }

    /// Binds `addr` once per worker, each time with `SO_REUSEPORT`, and
    /// prepares `workers` threads to serve it, each with a hub of its own,
    /// its own listener and its own handler, made on that thread by
    /// `make_handler` (so a handler may keep state that is not `Send`, and
    /// needs no lock: its connections all run on its thread). Linux spreads
    /// new connections over the workers by a hash of their addresses.
    ///
    /// The server is used as one made by [`bind`](StreamServer::bind):
    /// nothing is accepted until [`serve_forever`](StreamServer::serve_forever)
    /// or [`start`](StreamServer::start); [`max_connections`](StreamServer::max_connections)
    /// applies to each worker; [`stop`](StreamServer::stop) stops every worker
    /// and returns when all have stopped, and so does `serve_forever`.
    /// [`connections`](StreamServer::connections) counts them all.
    ///
    /// Greenlets never move between threads: what the connections of
    /// different workers share goes through a [`channel`] or
    /// `Send + Sync` state of `make_handler`'s own.
    ///
    /// # Errors
    ///
    /// Binding fails (the first error, from any worker's listener), or a
    /// worker thread cannot be started.
    ///
    /// # Panics
    ///
    /// If `workers` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use greenlet::net::TcpStream;
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind_workers("127.0.0.1:0", 2, || {
    ///     // Made once on each worker's thread.
    ///     let worker = std::thread::current().name().unwrap_or("?").to_string();
    ///     move |mut stream: TcpStream, _peer| {
    ///         let _ = stream.write_all(worker.as_bytes());
    ///     }
    /// })?;
    /// server.start();
    /// let mut reply = String::new();
    /// TcpStream::connect(server.local_addr()?)?.read_to_string(&mut reply)?;
    /// assert!(reply.starts_with("StreamServer worker"));
    /// server.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(target_os = "linux")]
    pub fn bind_workers<A, M, H>(
        addr: A,
        workers: usize,
        make_handler: M,
    ) -> io::Result<StreamServer>
    where
        A: ToSocketAddrs,
        M: Fn() -> H + Send + Sync + 'static,
        H: Fn(TcpStream, SocketAddr) + 'static,
    {
        assert!(
            workers > 0,
            "StreamServer::bind_workers: at least one worker is needed"
        );
        // The first listener picks the port (if `addr` asks for 0); the
        // others bind exactly where it did.
        let first = crate::net::each_listen_addr(&addr, crate::net::reuseport_listener)?;
        let local_addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..workers {
            listeners.push(crate::net::reuseport_listener(local_addr)?);
        }
        Workers::start(local_addr, listeners, Arc::new(make_handler)).map(|workers| StreamServer {
            kind: Kind::Workers(workers),
        })
    }

    /// Serves at most `n` connections at once; unlimited by default.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |_, _| {})?.max_connections(50);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_connections(self, n: usize) -> StreamServer {
        assert!(
            n > 0,
            "StreamServer::max_connections: at least one connection must be allowed"
        );
        match &self.kind {
            Kind::One(inner) => inner.max_connections.set(n),
            Kind::Workers(workers) => workers.max_connections.set(n),
        }
        self
    }

    /// How long [`stop`](StreamServer::stop) lets running connections finish
    /// before it kills them ([`DEFAULT_STOP_TIMEOUT`] unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |_, _| {})?
    ///     .stop_timeout(Duration::from_millis(100));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop_timeout(self, timeout: Duration) -> StreamServer {
        match &self.kind {
            Kind::One(inner) => inner.stop_timeout.set(timeout),
            Kind::Workers(workers) => workers.stop_timeout.set(timeout),
        }
        self
    }

    /// The address the server listens on (useful after binding port 0).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_, _| {})?;
    /// assert_ne!(server.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(match &self.kind {
            Kind::One(inner) => inner.local_addr,
            Kind::Workers(workers) => workers.local_addr,
        })
    }

    /// The connections being served now.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_, _| {})?;
    /// assert_eq!(server.connections(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connections(&self) -> usize {
        match &self.kind {
            Kind::One(inner) => inner.active.get(),
            Kind::Workers(workers) => workers
                .active
                .iter()
                .map(|active| active.load(Ordering::Relaxed))
                .sum(),
        }
    }

    /// Accepts and serves connections until [`stop`](StreamServer::stop) is
    /// called (from a handler or another greenlet); returns at once if the
    /// server was stopped already.
    ///
    /// # Panics
    ///
    /// If the server is already serving (a second `serve_forever`, or after
    /// [`start`](StreamServer::start)).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::TcpStream;
    /// use greenlet::server::StreamServer;
    /// use std::rc::Rc;
    ///
    /// let server = Rc::new(StreamServer::bind("127.0.0.1:0", |_, _| {})?);
    /// let addr = server.local_addr()?;
    /// let stopper = server.clone();
    /// greenlet::spawn(move || {
    ///     TcpStream::connect(addr).unwrap();
    ///     stopper.stop();
    /// });
    /// server.serve_forever(); // returns once stopped
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve_forever(&self) {
        match &self.kind {
            Kind::One(inner) => {
                assert!(
                    !inner.serving.replace(true),
                    "StreamServer::serve_forever: the server is already serving"
                );
                inner.serve();
            }
            Kind::Workers(workers) => {
                workers.go("StreamServer::serve_forever");
                workers.wait_ended();
            }
        }
    }

    /// Serves in a background greenlet and returns at once.
    ///
    /// # Panics
    ///
    /// If the server is already serving.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use greenlet::net::TcpStream;
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |mut stream, _| {
    ///     let _ = stream.write_all(b"111");
    /// })?;
    /// server.start();
    /// let mut reply = String::new();
    /// TcpStream::connect(server.local_addr()?)?.read_to_string(&mut reply)?;
    /// assert_eq!(reply, "111");
    /// server.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(&self) {
        let inner = match &self.kind {
            Kind::One(inner) => inner,
            Kind::Workers(workers) => return workers.go("StreamServer::start"),
        };
        assert!(
            !inner.serving.replace(true),
            "StreamServer::start: the server is already serving"
        );
        let inner = inner.clone();
        // Detached: `stop` waits for the loop through `loop_exited`.
        crate::Builder::new()
            .name("StreamServer")
            .spawn(move || inner.serve())
            .unwrap_or_else(|e| panic!("StreamServer::start: cannot spawn the accept loop: {e}"));
    }

    /// Stops the server: closes the listening socket (new connections are
    /// refused from now on), ends the accept loop, lets running connections
    /// finish for up to the [stop timeout](StreamServer::stop_timeout) and
    /// kills those still running. Returns when all of that is done. A
    /// second call returns at once, even while the first one still waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::TcpStream;
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |_, _| {})?;
    /// server.start();
    /// server.stop();
    /// let refused = TcpStream::connect(server.local_addr()?).unwrap_err();
    /// assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        let inner = match &self.kind {
            Kind::One(inner) => inner,
            Kind::Workers(workers) => return workers.stop(),
        };
        if inner.stopped.replace(true) {
            return;
        }
        let listener = inner.listener.borrow_mut().take();
        if let Some(listener) = &listener {
            listener.wake_acceptors();
        }
        drop(listener);
        inner.wake_loop();
        if inner.serving.get() {
            inner.loop_exited.wait();
        }
        inner
            .connections
            .shut_down(inner.stop_timeout.get(), "StreamServer::stop");
    }
}

impl Inner {
    /// The accept loop; `serving` is set by the caller.
    fn serve(self: &Rc<Inner>) {
        let _exit = ExitLoop(self);
        let listener = self.listener.borrow().clone();
        let Some(listener) = listener else {
            return; // stopped before it served
        };
        let mut backoff = MIN_BACKOFF;
        let mut exhausted = false;
        while !self.stopped.get() {
            if self.active.get() >= self.max_connections.get() {
                self.park_loop(None, "StreamServer: a free connection slot");
                continue;
            }
            match listener.accept_now() {
                Ok(Some((stream, peer))) => {
                    if exhausted {
                        log::info!(target: "greenlet", "StreamServer {}: accepting again", self.local_addr);
                        exhausted = false;
                    }
                    backoff = MIN_BACKOFF;
                    self.serve_connection(stream, peer);
                }
                Ok(None) => listener.wait_acceptable(),
                Err(e) if is_transient(&e) => {}
                Err(e) => {
                    if sys::is_out_of_resources(&e) {
                        if !exhausted {
                            log::warn!(target: "greenlet",
                                "StreamServer {}: cannot accept ({e}); retrying with back-off",
                                self.local_addr);
                            exhausted = true;
                        }
                    } else {
                        log::error!(target: "greenlet",
                            "StreamServer {}: accept failed: {e}; retrying", self.local_addr);
                    }
                    self.park_loop(Instant::now().checked_add(backoff), "StreamServer back-off");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn serve_connection(self: &Rc<Inner>, stream: TcpStream, peer: SocketAddr) {
        self.active.set(self.active.get() + 1);
        if let Some(published) = &self.published {
            published.fetch_add(1, Ordering::Relaxed);
        }
        let slot = Slot(self.clone());
        let handler = self.handler.clone();
        self.connections.spawn(move || {
            let _slot = slot;
            handler(stream, peer);
        });
    }

    /// Parks the accept loop until [`Inner::wake_loop`] or `deadline`.
    fn park_loop(&self, deadline: Option<Instant>, what: &'static str) {
        self.loop_wait.wait(what, deadline);
    }

    fn wake_loop(&self) {
        let _ = self.loop_wait.grant(()); // nothing to do if it is not parked
    }
}

/// Errors after which the next accept may well succeed at once: the
/// connection went away before it was accepted, or a signal interrupted.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// One connection being served: frees its slot however the handler ends.
struct Slot(Rc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        let inner = &self.0;
        inner.active.set(inner.active.get() - 1);
        if let Some(published) = &inner.published {
            published.fetch_sub(1, Ordering::Relaxed);
        }
        // A closed connection may also end a descriptor shortage.
        inner.wake_loop();
    }
}

/// Marks the accept loop as ended however it is left (a kill included).
struct ExitLoop<'a>(&'a Inner);

impl Drop for ExitLoop<'_> {
    fn drop(&mut self) {
        self.0.serving.set(false);
        self.0.loop_exited.set();
    }
}

impl fmt::Debug for StreamServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("StreamServer");
        out.field("local_addr", &self.local_addr().ok())
            .field("connections", &self.connections());
        match &self.kind {
            Kind::One(inner) => out.field("stopped", &inner.stopped.get()),
            Kind::Workers(workers) => out
                .field("workers", &workers.active.len())
                .field("stopped", &workers.stopped.get()),
        };
        out.finish()
    }
}

// ---- worker threads ----------------------------------------------------------

/// What a worker needs to start serving; dropping the sender unstarted
/// means stop.
#[derive(Clone, Copy)]
struct Go {
    max_connections: usize,
    stop_timeout: Duration,
}

/// A server's worker threads, as [`StreamServer::bind_workers`] made them.
struct Workers {
    local_addr: SocketAddr,
    max_connections: Cell<usize>,
    stop_timeout: Cell<Duration>,
    /// One per worker: sent [`Go`] once, then dropped.
    go: RefCell<Vec<channel::Sender<Go>>>,
    /// Dropped by `stop`: every worker's stopper sees the channel close.
    stop: RefCell<Option<channel::Sender<()>>>,
    /// Closed when every worker thread has ended (each holds a sender).
    ended: channel::Receiver<()>,
    active: Vec<Arc<AtomicUsize>>,
    started: Cell<bool>,
    stopped: Cell<bool>,
}

impl Workers {
    #[cfg(target_os = "linux")]
    fn start<M, H>(
        local_addr: SocketAddr,
        listeners: Vec<std::net::TcpListener>,
        make_handler: Arc<M>,
    ) -> io::Result<Workers>
    where
        M: Fn() -> H + Send + Sync + 'static,
        H: Fn(TcpStream, SocketAddr) + 'static,
    {
        let (stop, stopping) = channel::bounded::<()>(0);
        let (ended_tx, ended) = channel::bounded::<()>(0);
        let mut go = Vec::new();
        let mut active = Vec::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            let (go_tx, go_rx) = channel::bounded::<Go>(1);
            let published = Arc::new(AtomicUsize::new(0));
            let (make_handler, stopping, ended_tx) =
                (make_handler.clone(), stopping.clone(), ended_tx.clone());
            let counter = published.clone();
            std::thread::Builder::new()
                .name(format!("StreamServer worker {index}"))
                .spawn(move || {
                    let _ended = ended_tx; // dropped as the thread ends
                    let Ok(go) = go_rx.recv() else {
                        return; // stopped before it started
                    };
                    let served = TcpListener::from_std(listener).and_then(|listener| {
                        let handler = make_handler();
                        StreamServer::serving(listener, Rc::new(handler), Some(counter))
                    });
                    let server = match served {
                        Ok(server) => Rc::new(
                            server
                                .max_connections(go.max_connections)
                                .stop_timeout(go.stop_timeout),
                        ),
                        Err(e) => {
                            log::error!(target: "greenlet",
                                "StreamServer {local_addr}: worker {index} cannot serve: {e}");
                            return;
                        }
                    };
                    let stopper = {
                        let server = server.clone();
                        crate::spawn(move || {
                            let _ = stopping.recv(); // ends when `stop` drops the sender
                            server.stop();
                        })
                    };
                    server.serve_forever();
                    let _ = stopper.join();
                })?;
            go.push(go_tx);
            active.push(published);
        }
        Ok(Workers {
            local_addr,
            max_connections: Cell::new(usize::MAX),
            stop_timeout: Cell::new(DEFAULT_STOP_TIMEOUT),
            go: RefCell::new(go),
            stop: RefCell::new(Some(stop)),
            ended,
            active,
            started: Cell::new(false),
            stopped: Cell::new(false),
        })
    }

    /// Lets every worker start serving.
    fn go(&self, caller: &str) {
        assert!(
            !self.started.replace(true),
            "{caller}: the server is already serving"
        );
        let go = Go {
            max_connections: self.max_connections.get(),
            stop_timeout: self.stop_timeout.get(),
        };
        for worker in self.go.take() {
            let _ = worker.send(go); // a worker that could not start is gone
        }
    }

    /// Waits until every worker thread has ended.
    fn wait_ended(&self) {
        while self.ended.recv().is_ok() {}
    }

    fn stop(&self) {
        if self.stopped.replace(true) {
            return;
        }
        // Workers not started yet end at once; the others stop their servers.
        self.go.take();
        drop(self.stop.take());
        self.wait_ended();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        if !self.started.get() {
            // Never started: the threads end with the handle.
            self.stop();
        } else if !self.stopped.get() {
            // Started: it serves on until the process ends, as a started
            // one-hub server serves on without its handle. Dropping the
            // sender would stop the workers.
            std::mem::forget(self.stop.take());
        }
    }
}
