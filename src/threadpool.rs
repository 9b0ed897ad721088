//! The bridge to OS threads: run blocking or CPU-heavy work on a pool of
//! threads while the calling greenlet parks and the others keep running.
//!
//! A job is a closure sent to a pool thread; when it ends, the thread leaves
//! the result for the caller and wakes the caller's hub through its
//! `mio::Waker` (see `hub::ExternalWaker`). Threads start on demand, up to
//! the pool's cap, and exit after [`IDLE_TIMEOUT`] without work.
//!
//! This module must not touch the hub from a pool thread except through an
//! `ExternalWaker`.

// Layer: time and IO (what else can wake a greenlet). Owns the pool threads; uses the hub's cross-thread waker.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::hub::{Cancelled, ExternalWait, ExternalWaker, external_signal};

/// How long a pool thread waits for work before it exits.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // An idle pool thread lives this long, then leaves the pool.
/// assert_eq!(greenlet::threadpool::IDLE_TIMEOUT, Duration::from_secs(10));
/// ```
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a pool thread that has just finished a job watches for the
/// next call before it sleeps on the condition variable, yielding its
/// processor between looks: a caller that calls again soon (a greenlet
/// running short jobs one after another) then finds it awake, where waking
/// a sleeping thread took ~100 µs on this project's virtual machines.
const WATCH: Duration = Duration::from_micros(20);

/// The cap on the threads of the pool behind [`spawn_blocking`].
///
/// # Examples
///
/// ```
/// use greenlet::threadpool::{DEFAULT_MAX_THREADS, ThreadPool};
///
/// // A pool of its own, sized as the shared one.
/// let pool = ThreadPool::new(DEFAULT_MAX_THREADS);
/// assert_eq!(pool.max_threads(), 64);
/// ```
pub const DEFAULT_MAX_THREADS: usize = 64;

/// A job leaves its outcome for the caller and returns the waker that tells
/// the caller so; its thread fires it once it counts itself idle again.
type Job = Box<dyn FnOnce() -> ExternalWaker + Send + 'static>;

/// A pool of OS threads that run closures for greenlets.
///
/// Cloning gives another handle onto the same pool. Threads are started when
/// work arrives and no thread is idle, up to the number given to
/// [`ThreadPool::new`]; beyond that, work waits its turn. A thread with no
/// work for [`IDLE_TIMEOUT`] exits. Work already sent runs to the end even if
/// every handle is dropped.
///
/// # Examples
///
/// ```
/// use greenlet::threadpool::ThreadPool;
///
/// let pool = ThreadPool::new(2);
/// let sum = pool.spawn_blocking(|| (1..=100u64).sum::<u64>());
/// assert_eq!(sum, 5050);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
    /// The name each thread is given (at most 15 bytes: Linux keeps no more).
    thread_name: &'static str,
}

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    /// Threads waiting for work that nobody has called yet.
    idle: usize,
    /// Calls made to idle threads (each taken out of `idle`) not yet answered.
    calls: usize,
}

impl ThreadPool {
    /// A pool of at most `max_threads` threads (none started yet).
    ///
    /// # Panics
    ///
    /// If `max_threads` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(4);
    /// assert_eq!(pool.max_threads(), 4);
    /// assert_eq!(pool.threads(), 0);
    /// ```
    pub fn new(max_threads: usize) -> ThreadPool {
        ThreadPool::with_thread_name(max_threads, "greenlet-blocking")
    }

    /// [`ThreadPool::new`] whose threads are called `thread_name`.
    pub(crate) fn with_thread_name(max_threads: usize, thread_name: &'static str) -> ThreadPool {
        assert!(
            max_threads > 0,
            "ThreadPool::new: a pool needs at least one thread"
        );
        ThreadPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    calls: 0,
                }),
                work: Condvar::new(),
                max_threads,
                thread_name,
            }),
        }
    }

    /// The most threads this pool runs at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::threadpool::ThreadPool::new(3).max_threads(), 3);
    /// ```
    pub fn max_threads(&self) -> usize {
        self.shared.max_threads
    }

    /// The threads alive now, busy or idle.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(3);
    /// pool.spawn_blocking(|| ());
    /// assert_eq!(pool.threads(), 1); // idle until it times out
    /// ```
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// Runs `f` on one of the pool's threads and returns its result; the
    /// calling greenlet parks meanwhile, so the others run (in the root
    /// context, the hub runs them).
    ///
    /// A panic in `f` resumes in the caller with its original payload. If the
    /// caller is killed or timed out while it waits, it unwinds at once and
    /// `f` still runs to the end on its thread; its result is dropped there.
    ///
    /// # Panics
    ///
    /// If no thread of the pool is running and none can be started; with
    /// `f`'s panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use greenlet::threadpool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2);
    /// let start = Instant::now();
    /// let ticker = greenlet::spawn(|| {
    ///     for _ in 0..5 {
    ///         greenlet::sleep(Duration::from_millis(10));
    ///     }
    /// });
    /// // Blocks a pool thread, not the hub: the ticker runs meanwhile.
    /// pool.spawn_blocking(|| std::thread::sleep(Duration::from_millis(100)));
    /// assert!(ticker.is_finished());
    /// assert!(start.elapsed() < Duration::from_millis(200));
    /// ```
    pub fn spawn_blocking<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run(f, "spawn_blocking")
            .unwrap_or_else(|e| panic!("greenlet: the thread pool cannot start a thread: {e}"))
    }

    /// [`ThreadPool::spawn_blocking`], parked on `what` (for diagnostics),
    /// with an error instead of a panic if no thread of the pool is running
    /// and none can be started.
    pub(crate) fn run<F, T>(&self, f: F, what: &'static str) -> io::Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let outcome = self.run_then(f, |done| {
            done.wait(what);
            Ok(())
        });
        match outcome {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(payload))) => panic::resume_unwind(payload),
            Ok(Err(e)) => Err(e),
            Err(Cancelled) => unreachable!("`ExternalWait::wait` unwinds instead"),
        }
    }

    /// Runs `f` on the pool, and `wait` for it to signal: `f`'s outcome, an
    /// error if the pool could not take it, or `Cancelled` if `wait` gave up.
    fn run_then<F, T>(
        &self,
        f: F,
        wait: impl FnOnce(&ExternalWait) -> Result<(), Cancelled>,
    ) -> Result<io::Result<thread::Result<T>>, Cancelled>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot: Arc<Mutex<Option<thread::Result<T>>>> = Arc::new(Mutex::new(None));
        let (waker, done) = external_signal();
        let result = slot.clone();
        let submitted = self.submit(Box::new(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(f));
            *result.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
            waker
        }));
        if let Err(e) = submitted {
            return Ok(Err(e));
        }
        wait(&done)?;
        let outcome = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        Ok(Ok(
            outcome.expect("a job signals only after leaving its outcome")
        ))
    }

    /// [`ThreadPool::run`] for code called from foreign frames (a hooked
    /// libc function), which must not unwind: a kill or `with_timeout`
    /// cancels the wait (`Err`; `f` still runs to its end on the pool, and
    /// what it returns is dropped there), and a panic in `f` comes back as
    /// its payload instead of resuming.
    #[cfg(all(feature = "hook", target_os = "linux"))]
    pub(crate) fn run_cancellable<F, T>(
        &self,
        f: F,
        what: &'static str,
    ) -> Result<io::Result<thread::Result<T>>, Cancelled>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run_then(f, |done| done.wait_cancellable(what))
    }

    /// Queues `job`, starting a thread for it if none is idle and the cap
    /// allows; fails (and drops `job`, which fires its waker) only if the
    /// pool has no thread at all and cannot start one.
    fn submit(&self, job: Job) -> io::Result<()> {
        let mut state = self.shared.lock();
        state.jobs.push_back(job);
        // The job's end will wake this thread's hub from the pool thread:
        // soon, for a short job, so the hub watches for it before sleeping.
        crate::hub::note_woke_another_thread();
        if state.idle > 0 {
            state.idle -= 1;
            state.calls += 1;
            self.shared.work.notify_one();
            return Ok(());
        }
        if state.threads == self.shared.max_threads {
            return Ok(()); // a busy thread takes it next
        }
        let shared = self.shared.clone();
        let started = thread::Builder::new()
            .name(self.shared.thread_name.into())
            .spawn(move || shared.work_loop());
        match started {
            Ok(_) => state.threads += 1,
            Err(e) if state.threads > 0 => {
                log::warn!(target: "greenlet", "thread pool: cannot start another thread: {e}");
            }
            Err(e) => {
                let job = state.jobs.pop_back();
                drop(state);
                drop(job);
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            let Some(job) = state.jobs.pop_front() else {
                state.idle += 1;
                match self.wait_for_call(state) {
                    Some(guard) => state = guard,
                    None => return,
                }
                continue;
            };
            drop(state);
            // The outcome of a caller that was killed is dropped in `job`;
            // a panic there must not end the thread (it would stay counted).
            let waker = panic::catch_unwind(AssertUnwindSafe(job)).ok();
            state = self.lock();
            if !state.jobs.is_empty() {
                drop(state);
                wake(waker);
                state = self.lock();
                continue;
            }
            // Idle before the caller runs again, so that its next call finds
            // this thread instead of starting another.
            state.idle += 1;
            drop(state);
            wake(waker);
            state = self.watch_for_call();
            match self.wait_for_call(state) {
                Some(guard) => state = guard,
                None => return,
            }
        }
    }

    /// Watches for a call for up to [`WATCH`] (counted in `idle`), and
    /// returns the state locked, with a call in `calls` if one came.
    fn watch_for_call(&self) -> MutexGuard<'_, State> {
        let until = Instant::now() + WATCH;
        loop {
            let state = self.lock();
            if state.calls > 0 || Instant::now() >= until {
                return state;
            }
            drop(state);
            thread::yield_now();
        }
    }

    /// Waits, counted in `idle`, until a caller calls on this thread; `None`
    /// (the thread leaves the pool) after [`IDLE_TIMEOUT`] without a call.
    fn wait_for_call<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
    ) -> Option<MutexGuard<'a, State>> {
        loop {
            if state.calls > 0 {
                state.calls -= 1; // the caller took us out of `idle`
                return Some(state);
            }
            let (guard, wait) = self
                .work
                .wait_timeout(state, IDLE_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = guard;
            if wait.timed_out() && state.calls == 0 {
                state.idle -= 1;
                state.threads -= 1;
                return None;
            }
        }
    }
}

/// Tells a job's caller that its outcome is there. `None` is a job that
/// panicked: unwinding dropped its waker, which fired it.
fn wake(waker: Option<ExternalWaker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("ThreadPool")
            .field("max_threads", &self.shared.max_threads)
            .field("threads", &state.threads)
            .field("queued", &state.jobs.len())
            .finish()
    }
}

/// The process-wide pool behind [`spawn_blocking`], of at most
/// [`DEFAULT_MAX_THREADS`] threads.
fn default_pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| ThreadPool::new(DEFAULT_MAX_THREADS))
}

/// Runs `f` on the shared thread pool while the calling greenlet parks:
/// for a blocking call (a file read, a database driver, a DNS lookup) or a
/// long computation that would otherwise stall every greenlet of the thread.
///
/// As [`ThreadPool::spawn_blocking`], on a pool of at most
/// [`DEFAULT_MAX_THREADS`] threads shared by every hub of the process.
///
/// # Examples
///
/// ```
/// let digest = greenlet::threadpool::spawn_blocking(|| {
///     (0..1_000_000u64).fold(0u64, |acc, n| acc.wrapping_mul(31).wrapping_add(n))
/// });
/// assert_ne!(digest, 0);
///
/// let outcome = std::panic::catch_unwind(|| {
///     greenlet::threadpool::spawn_blocking(|| panic!("boom"))
/// });
/// assert_eq!(*outcome.unwrap_err().downcast::<&str>().unwrap(), "boom");
/// ```
pub fn spawn_blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    default_pool().spawn_blocking(f)
}
