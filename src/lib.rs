//! gevent's model in Rust: one scheduler per OS thread (the *hub*) runs
//! stackful coroutines (*greenlets*) that switch whenever they would block.
//!
//! Code reads like plain blocking Rust, yet thousands of greenlets share one
//! thread:
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! let tasks: Vec<_> = [100, 300, 500]
//!     .into_iter()
//!     .map(|ms| greenlet::spawn(move || {
//!         greenlet::sleep(Duration::from_millis(ms));
//!         ms
//!     }))
//!     .collect();
//! let done: Vec<u64> = greenlet::joinall(tasks).into_iter().map(Result::unwrap).collect();
//! assert_eq!(done, [100, 300, 500]);
//! assert!(start.elapsed() < Duration::from_millis(750)); // about 500 ms, not 900
//! ```
//!
//! # The hub and the root context
//!
//! Each thread gets a hub the first time it uses greenlets; there is no
//! runtime object to build. Code that is not in a greenlet (such as `main`)
//! is the *root context*: when it makes a blocking call ([`Greenlet::join`],
//! [`joinall`], [`sleep`], ...) it runs the hub until that call can return,
//! as gevent's main greenlet does. So greenlets run only while someone blocks.
//! Greenlets never leave the thread that spawned them ([`Greenlet`] is not
//! `Send`).
//!
//! When a thread exits, its hub ends what is left: the root context's
//! [`greenlet_local!`] values are dropped first, then every greenlet still
//! alive is killed and the hub runs until all have finished, so their
//! destructors run (they may block, as in any kill) and their stacks and
//! sockets are freed. A greenlet that was never started just has its closure
//! dropped. Only greenlets that can never finish (one that swallows its kill
//! and then waits on something nobody will provide) are left behind, with
//! their stacks; that is logged. A thread-local destructor that uses
//! greenlets after that gets a fresh hub. The main thread's greenlets end
//! the same way when `main` returns (glibc runs the exiting thread's
//! thread-local destructors in `exit`), so a parked server's connections
//! close cleanly; a destructor that blocks for long delays the exit.
//!
//! # Coordination
//!
//! Greenlets of one thread coordinate through [`queue`] (`Queue`,
//! `PriorityQueue`, `LifoQueue`, `JoinableQueue`, `Channel`), [`lock`]
//! (`Semaphore`, `BoundedSemaphore`, `Mutex`, `RLock`), [`event`] (`Event`,
//! `AsyncResult`), [`pool`] (`Pool`, `Group`) and [`local`]
//! ([`greenlet_local!`]). A call that cannot proceed parks the greenlet; the
//! longest waiter is served first, and what is handed to a waiter that is
//! killed before it runs passes on to the next.
//!
//! Between threads, [`channel`] has crossbeam-channel's channels (`bounded`,
//! `unbounded`, rendezvous): `Send + Sync` handles whose blocking calls park
//! a greenlet, the root context of a thread with a hub (which runs its
//! greenlets meanwhile), or a plain thread. Greenlets never move between
//! threads; work goes to another hub's greenlets through a channel.
//!
//! ```
//! use greenlet::queue::Queue;
//!
//! let jobs = Queue::bounded(10);
//! let results = Queue::new();
//! let pool = greenlet::pool::Pool::new(3);
//! for _ in 0..3 {
//!     let (jobs, results) = (jobs.clone(), results.clone());
//!     pool.spawn(move || {
//!         while let Some(n) = jobs.get() {
//!             results.put(n * n);
//!         }
//!     });
//! }
//! for n in 1..=5 {
//!     jobs.put(Some(n));
//! }
//! for _ in 0..3 {
//!     jobs.put(None); // one stop signal per worker
//! }
//! pool.join();
//! let mut squares: Vec<i32> = results.drain().collect();
//! squares.sort();
//! assert_eq!(squares, [1, 4, 9, 16, 25]);
//! ```
//!
//! # Networking and blocking work
//!
//! [`net`] has std's socket types (`TcpListener`, `TcpStream`, `UdpSocket`,
//! Unix sockets) whose blocking calls park only the calling greenlet; the hub
//! waits for all of them at once in one `epoll`. [`server::StreamServer`]
//! serves each connection in its own greenlet. Work that must block the
//! thread (a file read, a C library, a long computation) goes to
//! [`threadpool::spawn_blocking`], which runs it on an OS thread while the
//! caller parks.
//!
//! ```
//! use std::io::{Read, Write};
//! use greenlet::net::TcpStream;
//! use greenlet::server::StreamServer;
//!
//! let server = StreamServer::bind("127.0.0.1:0", |mut stream, _peer| {
//!     let mut buf = [0; 64];
//!     while let Ok(n @ 1..) = stream.read(&mut buf) {
//!         let _ = stream.write_all(&buf[..n]);
//!     }
//! })?;
//! server.start();
//! let clients: Vec<_> = (0..10)
//!     .map(|i| {
//!         let addr = server.local_addr().unwrap();
//!         greenlet::spawn(move || -> std::io::Result<String> {
//!             let mut stream = TcpStream::connect(addr)?;
//!             stream.write_all(format!("hello {i}").as_bytes())?;
//!             let mut reply = vec![0; 7];
//!             stream.read_exact(&mut reply)?;
//!             Ok(String::from_utf8_lossy(&reply).into_owned())
//!         })
//!     })
//!     .collect();
//! for (i, client) in clients.into_iter().enumerate() {
//!     assert_eq!(client.join().unwrap()?, format!("hello {i}"));
//! }
//! server.stop();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Every core: a hub per thread
//!
//! A hub uses one core. To use more, run a hub on each: the rule is that
//! **greenlets never move between threads**, so each thread's greenlets
//! share its state freely (`Rc`, `RefCell`), and work crosses threads only
//! through a [`channel`] or by spawning on another hub's [`hub::Handle`].
//!
//! - [`hub::spawn_thread`] starts a thread with a hub and returns a handle;
//!   [`hub::current`] gives one for this thread's hub.
//! - [`hub::Handle::spawn`] runs a `Send` closure as a greenlet there and
//!   returns a [`RemoteGreenlet`] to join or kill from any thread.
//! - [`server::StreamServer::bind_workers`] serves a port from a hub per
//!   thread, each with its own `SO_REUSEPORT` listener and handler: the
//!   kernel spreads the connections, and none moves between threads
//!   (thread-per-core, as monoio, glommio and Seastar do). One worker per
//!   core is the usual choice.
//!
//! A hub whose greenlets have just woken a task of another hub or a plain
//! thread, and that then has nothing to run but waits for a wake-up from
//! another thread, watches for it for up to 20 µs before it sleeps in its
//! poller (yielding its processor between looks); so does a plain thread
//! that receives on a channel after waking someone, and a thread of a
//! [`threadpool::ThreadPool`] after each job. A reply that comes soon
//! costs neither side a system call or a sleep, and a round trip between two
//! hubs, or a hub and a thread, takes a few microseconds. The price is that
//! much CPU time once per such wait.
//!
//! Beyond one machine, run one process per machine behind any TCP load
//! balancer; greenlet has no cluster of its own.
//!
//! ```
//! use greenlet::channel;
//!
//! // Two hubs, each summing what it is sent; the results come back.
//! let (results, collected) = channel::unbounded();
//! let hubs: Vec<_> = (0..2)
//!     .map(|i| greenlet::hub::spawn_thread(&format!("summer-{i}")).unwrap())
//!     .collect();
//! let inputs: Vec<_> = hubs
//!     .iter()
//!     .map(|hub| {
//!         let (tx, rx) = channel::bounded::<u64>(64);
//!         let results = results.clone();
//!         drop(hub.spawn(move || results.send(rx.iter().sum::<u64>()).unwrap()));
//!         tx
//!     })
//!     .collect();
//! drop(results);
//! for n in 1..=100 {
//!     inputs[n as usize % 2].send(n).unwrap();
//! }
//! drop(inputs); // the summing loops end
//! assert_eq!(collected.iter().sum::<u64>(), 5050);
//! ```
//!
//! # Kill and timeouts
//!
//! [`Greenlet::kill`] and [`with_timeout`] unwind a greenlet out of the
//! blocking call it is parked in, so its destructors run. A panicking greenlet
//! is logged (target `greenlet`) and its panic returned by `join`; the hub and
//! the other greenlets go on.
//!
//! A destructor may block (sleep, take a lock, use a socket) while its
//! greenlet unwinds. Unwinding out of such a destructor would abort the
//! process, so while a greenlet unwinds a kill waits until the unwind is
//! over, and a timeout fires only for a `with_timeout` entered inside the
//! destructor; other greenlets are killed and timed out as usual meanwhile.
//! The hub knows which greenlet unwinds through a panic hook it adds in
//! front of the one installed when the first hub starts (a hook set later
//! with [`std::panic::set_hook`] replaces it; the hub then still tells
//! apart the usual case of one unwinding greenlet).
//!
//! `std::thread::panicking()` is per thread: while any greenlet of the
//! thread is parked mid-unwind it is true in every greenlet. So a
//! `std::sync::Mutex` or `RwLock` guard held across a switch may mark its
//! lock poisoned although nothing panicked in its critical section (std
//! poisons a lock whose guard drops while `panicking()` is true and was not
//! when it was locked). That cannot be fixed from outside std; hold std
//! locks only between switches, or use [`lock::Mutex`], which does not poison.
//!
//! # Diagnostics
//!
//! - If the root context blocks and nothing can ever wake it, the blocking
//!   call panics with `greenlet: deadlock: this operation would block forever`
//!   and the list of parked greenlets and what each waits on.
//! - A greenlet that overflows its stack stops the process with a message
//!   naming the greenlet and its stack size.
//! - [`stats`] returns counts to log.
//!
//! # Limits, and the two kinds of stack
//!
//! A greenlet runs on one of two kinds of stack ([`StackKind`]):
//!
//! - A *private* stack is a guard-paged mapping of its own: two of the
//!   process's kernel mappings, of which Linux allows `vm.max_map_count`
//!   (65,530 by default), and at least one resident 4 KiB page.
//! - A *shared* stack is one guard-paged mapping per hub (and stack size)
//!   that many greenlets run on, one at a time. A greenlet on it copies the
//!   bytes of stack it uses (a few hundred for a typical park) to the heap
//!   when it switches out, and back before it runs: it costs no mapping and
//!   about as much memory as its stack is deep, so a million can be parked
//!   at once. The price is the copy: a switch costs a few tens of
//!   nanoseconds more, and more for a deep stack (keep big buffers on the
//!   heap, not in locals, in greenlets that switch often).
//!
//! The process maps stacks only up to nine tenths of the mapping cap (the
//! rest stays free for the allocator, files and threads): about 29,000 at
//! once. A greenlet that pins no kind gets a private stack while fewer than
//! 256 of its thread's greenlets run on private stacks and the process holds
//! fewer than three quarters of that budget, and a shared one beyond (pin a
//! private stack for a greenlet that is deep across its switches). A
//! greenlet pinned to a private stack past the budget waits, first come
//! first served, until a running one finishes and hands its stack on;
//! greenlets that already run are never held up by it. Reaching the cap is
//! logged once (target `greenlet`, level warn) with the sysctl that raises
//! it. The environment variable `GREENLET_MAX_STACKS`, read once, sets a
//! lower budget. Shared stacks are supported on x86-64; elsewhere every
//! greenlet gets a private stack.
//!
//! While a shared-stack greenlet is switched out, its stack's addresses hold
//! another greenlet's bytes: nothing may read or write through a pointer
//! into it. Safe code cannot do so (`spawn` takes `'static` closures); see
//! [`StackKind`] for the rule that unsafe code must keep.

#![deny(missing_docs, missing_debug_implementations)]
#![warn(unreachable_pub)]

pub mod channel;
pub mod event;
mod greenlet;
pub mod hub;
pub mod local;
pub mod lock;
#[cfg(all(feature = "hook", target_os = "linux"))]
pub mod monkey;
pub mod net;
pub mod pool;
pub mod queue;
mod reactor;
mod remote;
pub mod server;
mod sys;
pub mod threadpool;
mod time;
mod wait_list;

pub use greenlet::{
    Builder, DEFAULT_STACK_SIZE, Greenlet, GreenletId, JoinError, StackKind, joinall, killall,
    spawn, spawn_later,
};
pub use remote::RemoteGreenlet;
pub use time::{Elapsed, sleep, with_timeout, yield_now};

/// Counts describing this thread's hub, from [`stats`].
///
/// # Examples
///
/// ```
/// let g = greenlet::spawn(|| ());
/// assert_eq!(greenlet::stats().alive, 1);
/// g.join().unwrap();
/// let stats = greenlet::stats();
/// assert_eq!(stats.alive, 0);
/// assert!(stats.switches >= 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Greenlets spawned and not finished.
    pub alive: usize,
    /// Greenlets parked in a blocking call.
    pub parked: usize,
    /// Greenlets waiting for their turn to run.
    pub runnable: usize,
    /// Times the hub has switched into a greenlet.
    pub switches: u64,
    /// Stacks kept for reuse by greenlets yet to start.
    pub stacks_pooled: usize,
    /// Started greenlets running on private stacks (see [`StackKind`]).
    pub private_stacks: usize,
    /// Shared stacks this hub has mapped (one per stack size in use).
    pub shared_stacks: usize,
    /// Started greenlets running on shared stacks.
    pub shared_stack_greenlets: usize,
    /// Heap bytes held by switched-out greenlets of shared stacks: the
    /// stack bytes each keeps while it is parked or waits for its turn.
    pub shared_stack_bytes: usize,
}

/// Counts describing this thread's hub: greenlets alive, parked and
/// runnable, switches made, stacks pooled, stacks of each kind in use and
/// the bytes switched-out shared-stack greenlets hold.
///
/// # Examples
///
/// ```
/// let stats = greenlet::stats();
/// println!("{} greenlets alive, {} switches", stats.alive, stats.switches);
///
/// let g = greenlet::Builder::new()
///     .stack_kind(greenlet::StackKind::Shared)
///     .spawn(|| greenlet::sleep(std::time::Duration::from_millis(20)))?;
/// greenlet::sleep(std::time::Duration::from_millis(1)); // it starts, then sleeps
/// let stats = greenlet::stats();
/// assert_eq!(stats.shared_stack_greenlets, 1);
/// assert!(stats.shared_stack_bytes > 0);
/// g.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn stats() -> Stats {
    let hub = hub::with_hub(|hub| hub.stats());
    let (shared_stacks, shared_stack_greenlets, shared_stack_bytes) = greenlet::shared_usage();
    Stats {
        alive: hub.alive,
        parked: hub.parked,
        runnable: hub.runnable,
        switches: hub.switches,
        stacks_pooled: greenlet::stacks_pooled(),
        private_stacks: hub.started.saturating_sub(shared_stack_greenlets),
        shared_stacks,
        shared_stack_greenlets,
        shared_stack_bytes,
    }
}
