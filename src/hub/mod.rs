//! Hubs across threads: a [`Handle`] to a thread's hub, from [`current`] or
//! [`spawn_thread`], lets any thread run a closure as a greenlet there
//! ([`Handle::spawn`]) and join or kill it ([`RemoteGreenlet`]).
//!
//! There is one hub per OS thread, made on first use, and greenlets never
//! move between threads: a program uses more cores by running a hub on each
//! (one `spawn_thread` per core) and sharing work through
//! [`channel`](crate::channel)s or by spawning on a handle.
//!
//! [`RemoteGreenlet`]: crate::RemoteGreenlet
//!
//! # Examples
//!
//! ```
//! let hubs: Vec<_> = (0..2)
//!     .map(|i| greenlet::hub::spawn_thread(&format!("hub-{i}")).unwrap())
//!     .collect();
//! let jobs: Vec<_> = (0..8u64).map(|n| hubs[n as usize % 2].spawn(move || n * 10)).collect();
//! let total: u64 = jobs.into_iter().map(|g| g.join().unwrap()).sum();
//! assert_eq!(total, 280);
//! ```

// The per-thread hub, the bottom layer: the run queue, switching, the loop,
// and park / wake / interrupt.
//
// There is one hub per OS thread, made on first use. It has no thread of its
// own: the loop runs on the root context's stack while the root is blocked
// (as gevent's main greenlet does), resuming greenlets one after another.
// A greenlet that blocks suspends back into the loop; waking it puts it at
// the back of the run queue. One turn of the loop:
//
// 1. run the greenlet at the front of the run queue until it switches out;
// 2. every [`CHECK_INTERVAL`] turns, every millisecond (see [`ticker`]),
//    and whenever the run queue is empty, let the drivers fire what is due
//    and (if anything is registered) poll IO;
// 3. with nothing runnable, wait in `mio::Poll::poll` until the nearest
//    deadline, or report a deadlock if nothing at all can wake the root.
//
// The hub knows no sockets, no meaning of a timer, no stack or pool: timers
// and the reactor reach it through [`Driver`], greenlets through [`Task`].
// It owns the task state ([`task`]), the one [`WaitList`], the poller (as
// the thread's way to sleep) and cross-thread wake-ups ([`ExternalWaker`]).
// It uses only `crate::sys`.
//
// A switch makes no system call and no allocation.
//
// The hub must not call user code while it holds a `RefCell` borrow of its
// own state: user code may spawn, wake or kill, which borrows it again.

mod driver;
mod handle;
mod task;
mod ticker;
mod wait_list;

pub(crate) use driver::Driver;
pub(crate) use handle::Job;
pub use handle::{Handle, current, spawn_thread};
pub(crate) use wait_list::{WaitList, Waiter};

pub(crate) use task::{
    GreenletCoroutine, GreenletYielder, Header, Interrupt, Interrupted, ROOT_ID, RootBody,
    RootTask, State, Suspend, Task, TaskCell, TaskRef, TimeoutScope, WaitOn, Waker,
};

use task::{Raise, Resumed};

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::marker::PhantomData;
use std::panic;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::sys;

/// Turns between checks of timers and IO while greenlets stay runnable: rare
/// enough that a switch pays nothing for it, often enough that a hub of fast
/// switches fires timers within microseconds. Greenlets that compute long
/// between switches are covered by the [`ticker`] instead: a check is also
/// due whenever a millisecond has passed.
const CHECK_INTERVAL: u32 = 61;

/// Checks further apart than this mean the turns are slow: the hub then
/// asks the [`ticker`] for time-based checks.
const SLOW_CHECKS: Duration = Duration::from_millis(2);

/// The token of the hub's cross-thread [`mio::Waker`].
const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

/// How long an idle hub watches for a wake-up from another thread before it
/// sleeps in its poller, when one is likely: a task here woke a task of
/// another hub, or a plain thread, or handed a pool thread work, since this
/// hub was last idle (a request went out, and an [`ExternalWaker`] of this
/// hub is out for the reply). Caught awake, a
/// wake-up costs the other thread no system call and this one no sleep: a
/// sleeping virtual CPU here took 4 to 100 µs to wake, and a hub-to-hub
/// round trip went from ~70 µs to ~3 µs. A reply that takes longer costs
/// this much spinning once per wait.
const SPIN_FOR_REMOTE: Duration = Duration::from_micros(20);

/// How many wakers [`Hub::prepare_wakes`] reads ahead: enough misses in
/// flight to cover a trip to memory, few enough to stay in the first-level
/// cache until the wakes that follow.
pub(crate) const WAKE_BATCH: usize = 16;

/// [`Remote::state`]: the hub runs, and will look at its wake-ups before it
/// sleeps.
const AWAKE: u8 = 0;
/// [`Remote::state`]: the hub sleeps in its poller (or is about to): a
/// wake-up must write to its waker.
const SLEEPING: u8 = 1;
/// [`Remote::state`]: wake-ups or jobs have come since the hub last took them.
const NOTIFIED: u8 = 2;

pub(crate) struct Hub {
    run_queue: RefCell<VecDeque<TaskRef>>,
    root: Rc<RootTask>,
    /// Greenlets from `spawn_later`, by when they become runnable (and a
    /// sequence number, so that equal instants keep spawn order).
    delayed: RefCell<BTreeMap<(Instant, u64), TaskRef>>,
    next_delayed: Cell<u64>,
    /// What can wake parked tasks besides other tasks: timers, the reactor.
    /// Each by its type, so that finding one (on every timer armed) makes
    /// no virtual call.
    drivers: RefCell<Vec<(TypeId, Rc<dyn Driver>)>>,
    /// Every greenlet that has been spawned and has not finished. The hub owns
    /// them, so a detached greenlet parked on something dropped stays parked
    /// (and shows up in the deadlock message) instead of being unwound by a drop.
    tasks: RefCell<Slab<TaskRef>>,
    /// Greenlets started and not finished: each holds a stack.
    stacks_in_use: Cell<usize>,
    /// Greenlets that could not get a stack; each is started when one comes back.
    waiting_for_stack: RefCell<VecDeque<TaskRef>>,
    poll: RefCell<mio::Poll>,
    events: RefCell<mio::Events>,
    /// Where other threads leave wake-ups for this hub.
    remote: Arc<Remote>,
    /// [`ExternalWaker`]s handed out and not yet received back: work on other
    /// threads that will wake a task here.
    external_pending: Cell<usize>,
    /// Spent [`Signal`]s for the next [`external_signal`], at most
    /// [`SPARE_SIGNALS`].
    spare_signals: RefCell<Vec<Arc<Signal>>>,
    /// A task here has woken another thread (a task of another hub, a
    /// plain thread) or handed it work since this hub last went idle: a
    /// reply may come soon (see [`SPIN_FOR_REMOTE`]).
    woke_another_thread: Cell<bool>,
    /// The loop is running (on the root's stack); a second root wait would nest it.
    looping: Cell<bool>,
    /// The root context, waiting in [`Hub::run_until_idle`].
    idle_waiter: Cell<Option<Waker>>,
    /// Set when [`Hub::run_until_idle`]'s wait ends because the greenlets
    /// left can never be woken.
    idle_stuck: Cell<bool>,
    /// Unique among the hubs of the process (a thread may get a second one
    /// while it exits), so a registration knows its own.
    serial: u64,
    /// Turns left before the next check of timers and IO.
    until_check: Cell<u32>,
    /// The [`ticker`]'s tick at the last check: a new tick means a check is due.
    last_tick: Cell<u32>,
    /// When the last check was, plus [`SLOW_CHECKS`]: a turn ending later
    /// than this was slow. (An instant to compare with, where a duration
    /// since the check would cost a subtraction each time a timer is armed.)
    slow_after: Cell<Instant>,
    /// The last tick saw fewer switches than [`CHECK_INTERVAL`]: checks by
    /// count alone would come late.
    slow_turns: Cell<bool>,
    /// `switches` when the last new tick was seen.
    switches_at_tick: Cell<u64>,
    switches: Cell<u64>,
    _signals: sys::ThreadSignals,
}

thread_local! {
    /// This thread's hub, or null before its first use and after teardown.
    ///
    /// # Invariant
    /// When non-null it points to a `Hub` made by `Box::into_raw` in
    /// [`Hub::install`], which only [`Teardown`]'s destructor frees, after
    /// setting this back to null. That destructor runs as the thread exits,
    /// when no frame of the thread's code (so no `&Hub` from [`with_hub`])
    /// is live any more. Const-initialised without a destructor, so reading
    /// it never fails, not even while other thread-locals are destroyed.
    static HUB: Cell<*const Hub> = const { Cell::new(std::ptr::null()) };

    /// Frees the hub when the thread exits (registered by [`Hub::install`]).
    static TEARDOWN: Teardown = const { Teardown };
    /// The same, for a hub made while the thread's thread-locals are being
    /// destroyed (by a destructor that used greenlets after `TEARDOWN` ran).
    static TEARDOWN_LATE: Teardown = const { Teardown };

    /// The header of the greenlet on the CPU, or null while the root context
    /// runs. Kept apart from `HUB` (const, no destructor) so that a switch
    /// reads it without the lazy-initialisation check.
    ///
    /// # Invariant
    /// Set only by [`Current::enter`], for the span of one resume of that
    /// greenlet, whose task the `Current` guard borrows: non-null, it points
    /// to a live header, and only the code of that greenlet runs meanwhile.
    static CURRENT: Cell<*const Header> = const { Cell::new(std::ptr::null()) };
}

/// The greenlet on the CPU, as only that greenlet can see it: made by
/// [`with_current`] for the span of a closure (so it cannot be kept past
/// it, nor handed to another thread), and the only way to switch out.
pub(crate) struct CurrentGreenlet<'a> {
    header: &'a Header,
    _not_send: PhantomData<*mut ()>,
}

impl<'a> CurrentGreenlet<'a> {
    pub(crate) fn header(&self) -> &'a Header {
        self.header
    }

    /// Switches from this greenlet back to the hub.
    #[inline(always)]
    fn suspend(&self, why: Suspend) {
        let yielder = self.header.yielder();
        debug_assert!(!yielder.is_null());
        // SAFETY: by the invariant of `Header::yielder`, a non-null yielder
        // points into the live frame of this task's coroutine body. A
        // `CurrentGreenlet` exists only inside that body (it is made from
        // CURRENT, which is set exactly while the body runs), so the frame,
        // and the yielder, are live.
        let yielder = unsafe { &*yielder };
        if self.header.on_shared_stack.get() {
            // Where its live bytes will end, for the hub to copy them out.
            self.header.switched_out_at.set(sys::mark_switch_point());
        }
        yielder.suspend(why);
    }
}

/// Runs `f` with the running greenlet, or `None` in the root context.
#[inline(always)]
fn with_current<R>(f: impl for<'a> FnOnce(Option<CurrentGreenlet<'a>>) -> R) -> R {
    let current = CURRENT.with(Cell::get);
    // SAFETY: by CURRENT's invariant a non-null pointer is the header of the
    // greenlet whose code is running (only that code sees it non-null). The
    // header lives at least as long as that greenlet's stack frames, this
    // call among them, even across switches: its coroutine body holds an
    // `Rc` of its task (`GreenletBody::start`), and a suspended coroutine is
    // never dropped (`task::Running` leaks it). `f` cannot keep the
    // reference past the call.
    let header = unsafe { current.as_ref() };
    f(header.map(|header| CurrentGreenlet {
        header,
        _not_send: PhantomData,
    }))
}

/// Runs `f` with this thread's hub, creating the hub on first use.
#[inline(always)]
pub(crate) fn with_hub<R>(f: impl FnOnce(&Hub) -> R) -> R {
    let mut hub = HUB.with(Cell::get);
    if hub.is_null() {
        hub = Hub::install();
    }
    // SAFETY: by HUB's invariant a non-null pointer is a live hub, freed only
    // as the thread exits, when no frame of its code is live: so it outlives
    // this call, and `f` cannot keep the reference past it.
    f(unsafe { &*hub })
}

/// [`with_hub`] if this thread has a hub; `None` (and no hub made) otherwise.
pub(crate) fn try_with_hub<R>(f: impl FnOnce(&Hub) -> R) -> Option<R> {
    let hub = HUB.with(Cell::get);
    // SAFETY: as in `with_hub`.
    unsafe { hub.as_ref() }.map(f)
}

/// Frees this thread's hub when the thread-local holding it is destroyed.
struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        // SAFETY: as in `with_hub`; the hub is freed only below.
        if let Some(hub) = unsafe { HUB.with(Cell::get).as_ref() } {
            hub.shut_down();
        }
        let hub = HUB.with(|hub| hub.replace(std::ptr::null()));
        if !hub.is_null() {
            // SAFETY: by HUB's invariant the pointer came from `Box::into_raw`
            // and is freed only here; HUB no longer points to it, and no
            // `&Hub` is live as the thread exits.
            drop(unsafe { Box::from_raw(hub.cast_mut()) });
        }
    }
}

/// The part of a hub that other threads may touch.
struct Remote {
    /// Wake-ups left by [`ExternalWaker`]s: one message per waker, with the
    /// task to wake if it was parked by then.
    wakers: Mutex<Vec<Option<Waker>>>,
    /// Work from [`Handle::submit`], run by the loop.
    jobs: Mutex<Vec<Job>>,
    /// The hub takes jobs: cleared at shut-down. Changed only under the
    /// `jobs` lock (so no job is pushed after it), read without it on every
    /// check.
    open: AtomicBool,
    /// [`Handle`]s alive: while there are any, another thread may bring work.
    handles: AtomicUsize,
    /// Fired when the last [`Handle`] is dropped (set by `spawn_thread`).
    on_last_handle: Mutex<Option<ExternalWaker>>,
    /// [`AWAKE`], [`SLEEPING`] or [`NOTIFIED`]. Every change is a
    /// read-modify-write, so they have one order: a thread that leaves a
    /// wake-up and then finds the hub [`SLEEPING`] writes to `poll_waker`;
    /// otherwise the hub's next look at the state (its compare-and-swap to
    /// [`SLEEPING`], or its swap to [`AWAKE`] after each poll) finds
    /// [`NOTIFIED`] and takes the wake-ups. So the waker is written only for
    /// a hub that sleeps, and no wake-up is slept through.
    state: AtomicU8,
    poll_waker: mio::Waker,
}

impl Remote {
    /// Tells the hub that wake-ups or jobs wait for it: called after
    /// leaving them (under their locks). Writes to the hub's poller only if
    /// it sleeps.
    fn notify(&self) {
        if self
            .state
            .swap(NOTIFIED, std::sync::atomic::Ordering::AcqRel)
            == SLEEPING
            && let Err(e) = self.poll_waker.wake()
        {
            log::error!(target: "greenlet", "cannot wake a hub from another thread: {e}");
        }
    }

    /// Whether another thread may still hand this hub work.
    fn may_bring_work(&self) -> bool {
        self.handles.load(std::sync::atomic::Ordering::Acquire) > 0
            && self.open.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// What an [`ExternalWaker`] and its [`ExternalWait`] share.
///
/// `done` is set under the `waker` lock (so a waker handed out after it
/// was set is never waited for) and read without it: the wait asks it
/// before and after every park, and a lock each time was ~17% of a
/// hand-off between two greenlets on a channel.
///
/// A signal both sides have dropped goes back to its hub's spares
/// ([`Hub::spare_signals`]) for the next wait, so a wait allocates nothing.
struct Signal {
    /// The waiting task's hub.
    remote: Arc<Remote>,
    done: AtomicBool,
    /// The waiting task's waker for its current park.
    waker: Mutex<Option<Waker>>,
}

/// The most spent signals a hub keeps for reuse: more than the waits one
/// hub has out at a time in the usual program, few enough not to matter
/// when a burst of them ends.
const SPARE_SIGNALS: usize = 64;

/// Signals one waiting task of a hub from any thread, once: by
/// [`ExternalWaker::wake`] or, if it is dropped unused, by the drop (so a
/// waiter is never forgotten when the work meant to wake it fails).
pub(crate) struct ExternalWaker {
    signal: Arc<Signal>,
    sent: bool,
}

/// The hub's side of an [`ExternalWaker`]: parks until it has fired.
pub(crate) struct ExternalWait {
    signal: Arc<Signal>,
}

/// A waker for the current task that another thread can fire, and the wait
/// for it. Until it fires the hub counts it as work in progress, so waiting
/// for it is not a deadlock.
pub(crate) fn external_signal() -> (ExternalWaker, ExternalWait) {
    with_hub(|hub| {
        hub.external_pending.set(hub.external_pending.get() + 1);
        let spare = hub.spare_signals.borrow_mut().pop();
        let signal = spare.unwrap_or_else(|| {
            Arc::new(Signal {
                remote: hub.remote.clone(),
                done: AtomicBool::new(false),
                waker: Mutex::new(None),
            })
        });
        (
            ExternalWaker {
                signal: signal.clone(),
                sent: false,
            },
            ExternalWait { signal },
        )
    })
}

impl ExternalWaker {
    pub(crate) fn wake(mut self) {
        self.send();
    }

    fn send(&mut self) {
        if std::mem::replace(&mut self.sent, true) {
            return;
        }
        let waker = {
            let mut waker = self
                .signal
                .waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.signal
                .done
                .store(true, std::sync::atomic::Ordering::Release);
            waker.take()
        };
        // Fired on the waiting hub's own thread (a channel between two
        // greenlets of one hub): wake the task here, with no lock and no
        // system call.
        let remote = &self.signal.remote;
        let here = try_with_hub(|hub| {
            let mine = Arc::ptr_eq(&hub.remote, remote);
            if mine {
                hub.external_pending.set(hub.external_pending.get() - 1);
                if let Some(waker) = &waker {
                    hub.wake(waker);
                }
            } else {
                hub.woke_another_thread.set(true);
            }
            mine
        });
        if here == Some(true) {
            return;
        }
        remote
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(waker);
        remote.notify();
    }
}

impl Drop for ExternalWaker {
    fn drop(&mut self) {
        self.send();
    }
}

impl Drop for ExternalWait {
    /// Gives the signal back to the hub's spares once the waker is gone too
    /// (the usual end: it fired and was dropped before the wait ended).
    fn drop(&mut self) {
        // Unique: no other thread holds it or can reach it any more.
        let Some(signal) = Arc::get_mut(&mut self.signal) else {
            return;
        };
        let Ok(waker) = signal.waker.get_mut() else {
            return; // poisoned: not worth keeping
        };
        *waker = None;
        *signal.done.get_mut() = false;
        let signal = Arc::clone(&self.signal);
        try_with_hub(|hub| {
            // Only the hub it was made for: its waker wakes that hub.
            let mut spares = hub.spare_signals.borrow_mut();
            if Arc::ptr_eq(&hub.remote, &signal.remote) && spares.len() < SPARE_SIGNALS {
                spares.push(signal);
            }
        });
    }
}

impl ExternalWait {
    pub(crate) fn is_done(&self) -> bool {
        self.signal.done.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Parks the current task until the waker has fired. A kill or
    /// `with_timeout` unwinds out of it (except while already unwinding).
    ///
    /// It parks on a wait-list of its own, like every wait: the other
    /// thread cannot grant it, so it wakes the parked task through a copy of
    /// its waker, which the hub delivers (see [`Hub::receive_remote_wakeups`]).
    pub(crate) fn wait(&self, what: &'static str) {
        if self.is_done() {
            return;
        }
        let own: WaitList<()> = WaitList::new();
        own.enqueue(drop).park_with(
            WaitOn::Named(what),
            |waker| self.hand_out(waker),
            || self.is_done(),
        );
    }

    /// [`ExternalWait::wait`] for code called from foreign frames: a kill
    /// or `with_timeout` cancels the wait instead of unwinding.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    pub(crate) fn wait_cancellable(&self, what: &'static str) -> Result<(), Cancelled> {
        if self.is_done() {
            return Ok(());
        }
        let own: WaitList<()> = WaitList::new();
        own.enqueue(drop)
            .park_with_cancel(
                WaitOn::Named(what),
                |waker| self.hand_out(waker),
                || self.is_done(),
            )
            .map(drop)
    }

    /// [`ExternalWait::wait`] that also ends when `over()` says so, with
    /// what `arm` returns held while parked (it gets each park's waker: to
    /// arm a timer for a deadline). Returns whether the waker has fired.
    pub(crate) fn wait_with<T>(
        &self,
        what: &'static str,
        mut arm: impl FnMut(Waker) -> T,
        mut over: impl FnMut() -> bool,
    ) -> bool {
        if self.is_done() {
            return true;
        }
        let own: WaitList<()> = WaitList::new();
        own.enqueue(drop).park_with(
            WaitOn::Named(what),
            |waker| {
                self.hand_out(waker);
                arm(waker)
            },
            || self.is_done() || over(),
        );
        self.is_done()
    }

    fn hand_out(&self, waker: Waker) {
        *self
            .signal
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(waker);
    }
}

impl std::fmt::Debug for ExternalWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExternalWaker")
    }
}

impl Hub {
    /// Makes this thread's hub and arranges for it to be freed at thread exit.
    #[cold]
    #[inline(never)]
    fn install() -> *const Hub {
        install_panic_hook();
        let hub: *const Hub = Box::into_raw(Box::new(Hub::new()));
        HUB.with(|cell| cell.set(hub));
        let registered = TEARDOWN
            .try_with(|_| ())
            .or_else(|_| TEARDOWN_LATE.try_with(|_| ()));
        if registered.is_err() {
            log::debug!(target: "greenlet", "a hub made during thread exit is not freed");
        }
        hub
    }

    fn new() -> Hub {
        let poll = mio::Poll::new()
            .unwrap_or_else(|e| panic!("greenlet: cannot create the hub's poller: {e}"));
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)
            .unwrap_or_else(|e| panic!("greenlet: cannot create the hub's waker: {e}"));
        let root = Rc::new(RootTask::new(Header::new(ROOT_ID, None, 0), RootBody));
        root.header().schedule.run(); // the root context is what runs now
        Hub {
            run_queue: RefCell::new(VecDeque::new()),
            root,
            delayed: RefCell::new(BTreeMap::new()),
            next_delayed: Cell::new(0),
            drivers: RefCell::new(Vec::new()),
            tasks: RefCell::new(Slab::new()),
            stacks_in_use: Cell::new(0),
            waiting_for_stack: RefCell::new(VecDeque::new()),
            poll: RefCell::new(poll),
            events: RefCell::new(mio::Events::with_capacity(1024)),
            remote: Arc::new(Remote {
                wakers: Mutex::new(Vec::new()),
                jobs: Mutex::new(Vec::new()),
                open: AtomicBool::new(true),
                handles: AtomicUsize::new(0),
                on_last_handle: Mutex::new(None),
                state: AtomicU8::new(AWAKE),
                poll_waker: waker,
            }),
            idle_waiter: Cell::new(None),
            idle_stuck: Cell::new(false),
            external_pending: Cell::new(0),
            spare_signals: RefCell::new(Vec::new()),
            woke_another_thread: Cell::new(false),
            looping: Cell::new(false),
            serial: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            until_check: Cell::new(CHECK_INTERVAL),
            last_tick: Cell::new(ticker::now()),
            slow_after: Cell::new(Instant::now() + SLOW_CHECKS),
            slow_turns: Cell::new(false),
            switches_at_tick: Cell::new(0),
            switches: Cell::new(0),
            _signals: sys::init_thread(),
        }
    }

    /// Greenlets of this hub waiting for a stack to start on.
    pub(crate) fn waiting_for_stack(&self) -> usize {
        self.waiting_for_stack.borrow().len()
    }

    /// This hub's number, unique in the process.
    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }

    /// This hub's driver of type `D`, made and plugged in on first use.
    pub(crate) fn driver<D: Driver + Default>(&self) -> Rc<D> {
        let wanted = TypeId::of::<D>();
        let found = self
            .drivers
            .borrow()
            .iter()
            .find(|(type_id, _)| *type_id == wanted)
            .map(|(_, driver)| driver.clone());
        let driver = found.unwrap_or_else(|| {
            let driver: Rc<dyn Driver> = Rc::new(D::default());
            self.drivers.borrow_mut().push((wanted, driver.clone()));
            driver
        });
        let any: Rc<dyn Any> = driver;
        any.downcast::<D>()
            .unwrap_or_else(|_| unreachable!("found by its type"))
    }

    /// The registry of the hub's poller, for drivers that register descriptors.
    pub(crate) fn with_registry<R>(&self, f: impl FnOnce(&mio::Registry) -> R) -> R {
        f(self.poll.borrow().registry())
    }

    /// Whether no greenlet waits for its turn to run (false while the run
    /// queue is being changed: the caller cannot tell).
    pub(crate) fn nothing_runnable(&self) -> bool {
        self.run_queue
            .try_borrow()
            .is_ok_and(|queue| queue.is_empty())
    }

    /// A driver armed a wake-up at a time. If greenlets are runnable and
    /// their turns are slow (the last check was long ago), the hub checks by
    /// elapsed time too (see [`ticker`]); fast turns reach the next check
    /// by count soon enough, and a server arming a timeout per request must
    /// not keep the ticker waking its thread.
    /// `now` is the time if the caller has just read it.
    pub(crate) fn deadline_armed(&self, now: Option<Instant>) {
        if !self.run_queue.borrow().is_empty()
            && (self.slow_turns.get() || now.unwrap_or_else(Instant::now) >= self.slow_after.get())
        {
            ticker::want();
        }
    }

    // ---- spawning -------------------------------------------------------

    /// Adopts a new greenlet: runnable now, or at `start_at`.
    pub(crate) fn spawn(&self, task: TaskRef, start_at: Option<Instant>) {
        let header = task.header();
        let key = self.tasks.borrow_mut().insert(task.clone());
        header.slab_key.set(key);
        match start_at {
            None => self.run_queue.borrow_mut().push_back(task),
            Some(deadline) => {
                header.schedule.delay();
                let key = (deadline, self.next_delayed.get());
                self.next_delayed.set(key.1 + 1);
                header.start_at.set(Some(key));
                self.delayed.borrow_mut().insert(key, task);
                self.deadline_armed(None);
            }
        }
    }

    // ---- the current task ----------------------------------------------

    /// The greenlet that is running, or the root context.
    pub(crate) fn current_task(&self) -> TaskRef {
        with_current(|current| match current {
            Some(current) => self.tasks.borrow()[current.header().slab_key.get()].clone(),
            None => self.root.clone(),
        })
    }

    // ---- switching ------------------------------------------------------

    /// Blocks the current task until a [`Waker`] for it fires or it is
    /// interrupted, in which case this unwinds (see [`raise_pending`]).
    ///
    /// Whoever may wake the task must hold its waker before this is called.
    /// It may also return without either (an interrupt that cannot be raised
    /// yet), so every caller checks what it waits for and parks again.
    ///
    /// The free function [`park`] is the fast way in for a greenlet.
    pub(crate) fn park(&self, what: WaitOn) {
        with_current(|current| match current {
            Some(current) => park_greenlet(&current, what),
            None => {
                let root = self.root.header();
                raise_pending(root, None);
                root.wait_on.set(what);
                root.schedule.park();
                self.run_until_root_runs();
                raise_pending(root, None);
            }
        });
    }

    /// How many tasks other than `me` are known to be unwinding.
    fn unwinding_besides(&self, me: &Header) -> usize {
        let root = self.root.header();
        let tasks = self.tasks.borrow();
        std::iter::once(root)
            .chain(tasks.iter().map(|(_, task)| task.header()))
            .filter(|header| !std::ptr::eq(*header, me) && header.interruption.is_unwinding())
            .count()
    }

    /// The root context's `yield_now`: runs every runnable greenlet once.
    fn yield_root(&self) {
        self.root.header().schedule.yielded();
        self.run_queue.borrow_mut().push_back(self.root.clone());
        self.run_until_root_runs();
        raise_pending(self.root.header(), None);
    }

    /// Makes the parked task runnable, if `waker` is still for its current park.
    pub(crate) fn wake(&self, waker: &Waker) {
        let task: TaskRef = if waker.id == ROOT_ID {
            self.root.clone()
        } else {
            match self.tasks.borrow().get(waker.key) {
                Some(task) if task.header().id() == waker.id => task.clone(),
                _ => return, // it has finished
            }
        };
        if task.header().schedule.wake(Some(waker.park)) {
            self.run_queue.borrow_mut().push_back(task);
        }
    }

    /// Reads what waking these tasks will read (their table slots, then
    /// their headers), changing nothing: [`Hub::wake`] each of them after.
    ///
    /// A driver that wakes many tasks at once calls this first. A wake reads
    /// two cold lines one after the other (the slot names the task, the task
    /// says whether it still waits), and a hub waking thousands of greenlets
    /// whose timers fall due together spends most of each wake waiting for
    /// memory. Here each pass is a run of loads that do not depend on one
    /// another, so their cache misses overlap. Only the first [`WAKE_BATCH`]
    /// wakers are read.
    pub(crate) fn prepare_wakes<'w>(&self, wakers: impl IntoIterator<Item = &'w Waker>) {
        let tasks = self.tasks.borrow();
        let mut found = [None; WAKE_BATCH];
        for (slot, waker) in found.iter_mut().zip(wakers) {
            *slot = tasks.get(waker.key);
        }
        for task in found.iter().flatten() {
            let header = task.header();
            std::hint::black_box((header.id(), header.state()));
        }
    }

    /// Makes a parked or pending task runnable, whatever waker it waits for.
    fn make_runnable(&self, task: TaskRef) {
        if task.header().schedule.wake(None) {
            self.run_queue.borrow_mut().push_back(task);
        }
    }

    /// Asks `task` to unwind from its blocking call; it does at its next
    /// switch point, at once if it is parked.
    pub(crate) fn interrupt(&self, task: &TaskRef, interrupt: Interrupt) {
        let header = task.header();
        if header.state() == State::Finished {
            return;
        }
        header.interruption.post(interrupt);
        // Only greenlets that never started wait for a stack, and `kill`
        // retires those itself, so a parked task here waits on a waker. It is
        // woken even if it cannot raise the interrupt yet (it is unwinding):
        // it finds out at its switch point and parks again.
        if header.state() == State::Parked {
            self.make_runnable(task.clone());
        }
    }

    /// `Greenlet::kill`: see its docs for what happens in each state.
    pub(crate) fn kill(&self, task: &TaskRef) {
        let header = task.header();
        match header.state() {
            State::Finished => {}
            _ if !header.started.get() => {
                if let Some(key) = header.start_at.take() {
                    let delayed = self.delayed.borrow_mut().remove(&key);
                    drop(delayed);
                }
                task.body.cancel();
                self.retire(task);
            }
            State::Running => {
                // Only the running greenlet itself can be Running here (the
                // root is never killed): it unwinds at once.
                header.interruption.post(Interrupt::Kill);
                with_current(|current| raise_pending(header, current.as_ref()));
            }
            _ => self.interrupt(task, Interrupt::Kill),
        }
    }

    // ---- delayed starts ----------------------------------------------------

    /// Makes runnable the `spawn_later` greenlets whose time has come.
    fn start_delayed(&self, now: Instant) {
        loop {
            let due = {
                let mut delayed = self.delayed.borrow_mut();
                match delayed.first_entry() {
                    Some(entry) if entry.key().0 <= now => Some(entry.remove()),
                    _ => None,
                }
            };
            let Some(task) = due else { break };
            task.header().start_at.set(None);
            self.make_runnable(task);
        }
    }

    // ---- the loop ---------------------------------------------------------

    /// Runs greenlets until the root context is at the front of the run queue.
    fn run_until_root_runs(&self) {
        if self.looping.replace(true) {
            self.root.header().schedule.wake(None);
            self.root.header().schedule.run();
            panic!(
                "greenlet: a blocking call was made from inside the hub (in a destructor or \
                 callback the hub was running); make it from a greenlet instead"
            );
        }
        let _looping = ResetOnDrop(&self.looping);
        loop {
            let next = self.run_queue.borrow_mut().pop_front();
            let Some(task) = next else {
                self.check_events(true);
                continue;
            };
            // Every turn counts, the root's too: a root that keeps yielding
            // must still let timers fire. So does every millisecond, for
            // greenlets that compute long between their switches.
            let until_check = self.until_check.get() - 1;
            let tick = ticker::now();
            if until_check == 0 || tick != self.last_tick.get() {
                if tick != self.last_tick.get() {
                    // Fewer switches than the count in a tick: slow turns.
                    let switches = self.switches.get();
                    let in_tick = switches - self.switches_at_tick.replace(switches);
                    self.slow_turns.set(in_tick < u64::from(CHECK_INTERVAL));
                }
                self.until_check.set(CHECK_INTERVAL);
                self.last_tick.set(tick);
                self.check_events(false);
            } else {
                self.until_check.set(until_check);
            }
            if task.header().is_root() {
                break;
            }
            self.run(task);
        }
        self.root.header().schedule.run();
    }

    /// Resumes `task` until it switches out, then files it by what it asked for.
    fn run(&self, task: TaskRef) {
        let header = task.header();
        if header.state() == State::Finished {
            return; // killed before it started: a stale queue entry
        }
        if !header.started.get() && !self.start(&task) {
            return;
        }
        header.schedule.run();
        self.switches.set(self.switches.get() + 1);
        let resumed = {
            // `task` stays in this frame while the greenlet runs; the table
            // keeps it alive beyond that (see CURRENT).
            let _current = Current::enter(&task);
            header.resume()
        };
        header.interruption.switched_out();
        match resumed {
            Resumed::Suspended(Suspend::Yield) => {
                header.schedule.yielded();
                self.run_queue.borrow_mut().push_back(task);
            }
            Resumed::Suspended(Suspend::Park) => {} // its wakers hold it
            Resumed::Finished(stack) => {
                task.body.recycle(header, stack);
                self.finish(task);
            }
        }
    }

    /// Builds a greenlet's coroutine; false if it cannot run (yet).
    ///
    /// Without a stack it waits while other greenlets of this hub hold one
    /// (one is handed on when it finishes); with none held here, waiting
    /// could last for ever, so it fails.
    fn start(&self, task: &TaskRef) -> bool {
        let header = task.header();
        match task.body.start(header) {
            Ok((coroutine, slot)) => {
                header.install(coroutine, slot);
                header.started.set(true);
                self.stacks_in_use.set(self.stacks_in_use.get() + 1);
                true
            }
            Err(error) if self.stacks_in_use.get() > 0 => {
                log::debug!(target: "greenlet", "{} waits for a stack: {error}", header.describe());
                header.wait_on.set(WaitOn::Stack);
                header.schedule.wait_for_stack();
                self.waiting_for_stack.borrow_mut().push_back(task.clone());
                false
            }
            Err(error) => {
                log::error!(target: "greenlet", "{} cannot start: no stack of {} bytes: {error}",
                    header.describe(), header.owner.stack_size);
                task.body.fail_to_start(header, error);
                self.retire(task);
                false
            }
        }
    }

    /// A started greenlet has finished (and given its stack back): retire it
    /// and let the longest waiter for a stack try again.
    fn finish(&self, task: TaskRef) {
        self.stacks_in_use.set(self.stacks_in_use.get() - 1);
        self.retire(&task);
        loop {
            let waiting = self.waiting_for_stack.borrow_mut().pop_front();
            match waiting {
                Some(next) if next.header().state() == State::Parked => {
                    self.make_runnable(next);
                    break;
                }
                Some(_) => continue, // killed while it waited
                None => break,
            }
        }
    }

    /// Marks a greenlet finished, drops the hub's hold on it and wakes its joiners.
    fn retire(&self, task: &TaskRef) {
        let header = task.header();
        header.schedule.finish();
        header.interruption.end_unwind();
        let removed = self.tasks.borrow_mut().try_remove(header.slab_key.get());
        header.joiners.grant_all(|| ());
        drop(removed);
        // The cheap test first: this runs on every greenlet's end.
        if let Some(waker) = self.idle_waiter.get()
            && self.tasks.borrow().is_empty()
        {
            self.idle_waiter.set(None);
            self.wake(&waker);
        }
    }

    /// Wakes what is due (delayed starts, the drivers' timers) and polls IO.
    /// With `block`, and nothing runnable, waits for the nearest deadline or
    /// IO event first.
    fn check_events(&self, block: bool) {
        let now = Instant::now();
        let slow_turn = now >= self.slow_after.replace(now + SLOW_CHECKS);
        self.fire(now);
        let idle = block && self.run_queue.borrow().is_empty();
        if idle {
            let deadline = self.next_deadline();
            if deadline.is_none() && !self.can_wake() {
                // The root waits for the greenlets to end, and they never
                // will: that wait is over.
                if let Some(waker) = self.idle_waiter.take() {
                    self.idle_stuck.set(true);
                    self.wake(&waker);
                    return;
                }
                self.deadlock();
            }
            // Only after waking another thread: a reply is then likely. A hub
            // that only takes from others (a consumer of a stream of items)
            // does better asleep, as items gather meanwhile.
            if self.woke_another_thread.take()
                && self.external_pending.get() > 0
                && self.spin_for_remote(deadline)
            {
                // Caught awake: take it without a system call. IO waits
                // for the next check (by count or by tick, as when busy).
                self.take_remote();
                return;
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            self.poll_io(timeout);
            let now = Instant::now();
            self.slow_after.set(now + SLOW_CHECKS); // waiting idle is not a slow turn
            self.fire(now);
        } else {
            let io = self.wants_poll();
            // Turns are slow (greenlets compute between switches): ask the
            // ticker for a check every millisecond, however long turns take.
            // Fast turns reach the next check by count soon enough, and a
            // ticker waking the thread a thousand times a second would only
            // cost them (it shares their core when the process is pinned).
            let slow = self.slow_turns.get() || slow_turn;
            if slow && (io || self.next_deadline().is_some()) {
                ticker::want();
            }
            if io {
                self.poll_io(Some(Duration::ZERO));
            }
        }
    }

    /// Calls `f` with each driver, none under the list's borrow (a driver
    /// may plug in another), without allocating.
    fn each_driver(&self, mut f: impl FnMut(&dyn Driver)) {
        let mut index = 0;
        loop {
            let driver = self.drivers.borrow().get(index).map(|(_, d)| d.clone());
            let Some(driver) = driver else { break };
            f(&*driver);
            index += 1;
        }
    }

    fn fire(&self, now: Instant) {
        self.start_delayed(now);
        self.each_driver(|driver| driver.fire(self, now));
    }

    fn next_deadline(&self) -> Option<Instant> {
        let delayed = self
            .delayed
            .borrow()
            .first_key_value()
            .map(|(key, _)| key.0);
        self.drivers
            .borrow()
            .iter()
            .filter_map(|(_, driver)| driver.next_deadline())
            .chain(delayed)
            .min()
    }

    fn wants_poll(&self) -> bool {
        self.external_pending.get() > 0
            || self.drivers.borrow().iter().any(|(_, d)| d.wants_poll())
            || self.remote.may_bring_work()
    }

    /// Watches for a wake-up from another thread for up to
    /// [`SPIN_FOR_REMOTE`] (or until `deadline`), so that one that comes
    /// soon finds the hub awake. True if one came.
    ///
    /// No more hubs watch at once than this thread may use processors, and
    /// each yields its processor between looks, so that a thread with work
    /// (perhaps the one whose reply is awaited) is not kept off it: pinned
    /// to one processor, a watch without the yield held it while the
    /// replier waited, and a round trip went from ~4 to ~35 µs.
    fn spin_for_remote(&self, deadline: Option<Instant>) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        static SPINNING: AtomicUsize = AtomicUsize::new(0);
        static PROCESSORS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let processors = *PROCESSORS.get_or_init(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        if SPINNING.fetch_add(1, Relaxed) >= processors {
            SPINNING.fetch_sub(1, Relaxed);
            return false;
        }
        let start = Instant::now();
        let until = deadline.map_or(start + SPIN_FOR_REMOTE, |deadline| {
            deadline.min(start + SPIN_FOR_REMOTE)
        });
        let mut came = true;
        while self.remote.state.load(Relaxed) != NOTIFIED {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            // Gives the processor to any thread waiting for it here.
            std::thread::yield_now();
            if Instant::now() >= until {
                came = false;
                break;
            }
        }
        SPINNING.fetch_sub(1, Relaxed);
        came
    }

    /// Polls IO, waiting up to `timeout` (`None`: without limit) if nothing
    /// is ready, and takes what other threads have left (see
    /// [`Remote::state`]).
    fn poll_io(&self, timeout: Option<Duration>) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        let timeout = if timeout == Some(Duration::ZERO)
            || self
                .remote
                .state
                .compare_exchange(AWAKE, SLEEPING, AcqRel, Acquire)
                .is_ok()
        {
            timeout
        } else {
            Some(Duration::ZERO) // notified: take it, and what IO is ready
        };
        let mut events = self.events.borrow_mut();
        let polled = self.poll.borrow_mut().poll(&mut events, timeout);
        match polled {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("greenlet: the hub's poll failed: {e}"),
        }
        // The waker's own events need nothing more: the state says whether
        // there is anything to take.
        self.take_remote();
        self.each_driver(|driver| driver.on_events(self, &events));
    }

    // ---- IO and other threads ----------------------------------------------

    /// Marks the hub awake, and takes what other threads have left if they
    /// notified it since it last looked (see [`Remote::state`]).
    fn take_remote(&self) {
        if self
            .remote
            .state
            .swap(AWAKE, std::sync::atomic::Ordering::AcqRel)
            == NOTIFIED
        {
            self.receive_remote_wakeups();
        }
    }

    fn receive_remote_wakeups(&self) {
        let wakers = std::mem::take(
            &mut *self
                .remote
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.external_pending
            .set(self.external_pending.get() - wakers.len());
        for waker in wakers.iter().flatten() {
            self.wake(waker);
        }
        // Jobs run with no borrow of the hub held: they spawn greenlets.
        let jobs = std::mem::take(
            &mut *self
                .remote
                .jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for job in jobs {
            job();
        }
    }

    /// Runs the hub in the root context until no greenlet is left, or until
    /// those left can never be woken (the thread's exit unwinds them): the
    /// end of a [`spawn_thread`] thread.
    pub(crate) fn run_until_idle(&self) {
        loop {
            if self.tasks.borrow().is_empty() || self.idle_stuck.take() {
                return;
            }
            self.idle_waiter.set(Some(current_waker()));
            park(WaitOn::Named("hub::spawn_thread"));
        }
    }

    /// Panics in the root context with the list of parked greenlets.
    fn deadlock(&self) -> ! {
        let root = self.root.header();
        root.schedule.wake(None);
        root.schedule.run();
        let mut message = String::from("greenlet: deadlock: this operation would block forever\n");
        let _ = writeln!(
            message,
            "  the root context waits on {}",
            root.wait_on.get()
        );
        let mut parked: Vec<TaskRef> = self
            .tasks
            .borrow()
            .iter()
            .filter(|(_, t)| t.header().state() == State::Parked)
            .map(|(_, t)| t.clone())
            .collect();
        parked.sort_by_key(|t| t.header().id());
        for task in &parked {
            let header = task.header();
            let _ = writeln!(
                message,
                "  {} waits on {}",
                header.describe(),
                header.wait_on.get()
            );
        }
        drop(parked);
        panic!("{}", message.trim_end());
    }

    // ---- thread exit ---------------------------------------------------------

    /// Ends what the thread leaves behind as it exits, while the hub can
    /// still run greenlets: the root context's greenlet-locals are dropped
    /// (their destructors may block), then every greenlet is killed and the
    /// hub runs until all have finished, so their destructors run and their
    /// stacks, sockets and closures are freed. Greenlets that can never
    /// finish (parked on something nobody will ever provide, after
    /// swallowing the kill) are left, leaking their stacks; that is logged.
    /// Nothing here may unwind: a panic in a thread-local destructor aborts.
    fn shut_down(&self) {
        // No more work from other threads: what is queued is dropped (a
        // greenlet spawned through a handle is reported killed), and handles
        // no longer keep the loop waiting.
        let jobs = {
            let mut jobs = self
                .remote
                .jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.remote
                .open
                .store(false, std::sync::atomic::Ordering::Release);
            std::mem::take(&mut *jobs)
        };
        let last_handle = self
            .remote
            .on_last_handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let dropped = panic::catch_unwind(panic::AssertUnwindSafe(|| {
            drop(jobs);
            drop(last_handle);
        }));
        if dropped.is_err() {
            log::error!(target: "greenlet",
                "dropping work handed to a hub panicked as its thread exited");
        }
        let dropped = panic::catch_unwind(panic::AssertUnwindSafe(|| {
            self.root.header().drop_locals();
        }));
        if dropped.is_err() {
            log::error!(target: "greenlet",
                "a greenlet-local's destructor panicked as its thread exited");
        }
        let ended = panic::catch_unwind(panic::AssertUnwindSafe(|| self.kill_all_and_wait()));
        if ended.is_err() {
            log::error!(target: "greenlet", "a panic while ending greenlets at thread exit");
        }
        let left = self.tasks.borrow().len();
        if left > 0 {
            log::warn!(target: "greenlet",
                "{left} greenlets could not be ended as their thread exited; their stacks are leaked");
        }
        self.delayed.borrow_mut().clear();
        self.each_driver(|driver| driver.shut_down());
    }

    /// Kills every greenlet (those spawned meanwhile too) and runs the hub
    /// until none is left or none of those left can ever run again.
    fn kill_all_and_wait(&self) {
        loop {
            let tasks: Vec<TaskRef> = self
                .tasks
                .borrow()
                .iter()
                .map(|(_, task)| task.clone())
                .filter(|task| !task.header().interruption.is_killed())
                .collect();
            for task in &tasks {
                self.kill(task);
            }
            drop(tasks);
            if self.tasks.borrow().is_empty() {
                return;
            }
            if !self.run_queue.borrow().is_empty() {
                self.yield_root();
            } else if self.can_wake() {
                self.check_events(true);
            } else {
                return;
            }
        }
    }

    /// Whether something other than a runnable greenlet can still wake a
    /// task: a delayed start, a driver, or work on another thread.
    fn can_wake(&self) -> bool {
        !self.delayed.borrow().is_empty()
            || self.external_pending.get() > 0
            || self.drivers.borrow().iter().any(|(_, d)| d.can_wake())
            || self.remote.may_bring_work()
    }

    // ---- diagnostics -------------------------------------------------------

    pub(crate) fn stats(&self) -> HubStats {
        let tasks = self.tasks.borrow();
        let count = |state| {
            tasks
                .iter()
                .filter(|(_, t)| t.header().state() == state)
                .count()
        };
        HubStats {
            alive: tasks.len(),
            parked: count(State::Parked),
            runnable: count(State::Runnable),
            switches: self.switches.get(),
            started: self.stacks_in_use.get(),
        }
    }
}

/// The hub's counts for `greenlet::stats`.
pub(crate) struct HubStats {
    pub(crate) alive: usize,
    pub(crate) parked: usize,
    pub(crate) runnable: usize,
    pub(crate) switches: u64,
    /// Greenlets started and not finished (each holds a stack or a slot on one).
    pub(crate) started: usize,
}

/// Lets every other runnable greenlet run once, then returns.
///
/// The hot path of a switch: no thread-local initialisation check, no
/// reference count, no `RefCell`. It is inlined into the caller on purpose:
/// every call frame that stays open across a switch costs the CPU mispredicted
/// returns on the way back (about 20 ns a frame here, against 4 ns for the
/// switch itself).
#[inline(always)]
pub(crate) fn yield_now() {
    with_current(|current| match current {
        Some(current) => {
            current.suspend(Suspend::Yield);
            raise_pending(current.header(), Some(&current));
        }
        None => with_hub(Hub::yield_root),
    });
}

/// Parks the current task: [`Hub::park`], with a greenlet's case inlined into
/// the caller without touching the hub, since every frame open across a
/// switch costs (see [`yield_now`]).
#[inline(always)]
pub(crate) fn park(what: WaitOn) {
    with_current(|current| match current {
        Some(current) => park_greenlet(&current, what),
        None => with_hub(|hub| hub.park(what)),
    });
}

#[inline(always)]
fn park_greenlet(current: &CurrentGreenlet<'_>, what: WaitOn) {
    let header = current.header();
    raise_pending(header, Some(current));
    header.wait_on.set(what);
    header.schedule.park();
    current.suspend(Suspend::Park);
    raise_pending(header, Some(current));
}

/// A task of this thread's hub has woken a plain thread (one without a
/// hub) or handed one work: a reply may come soon, as after waking another
/// hub (see [`SPIN_FOR_REMOTE`]).
pub(crate) fn note_woke_another_thread() {
    try_with_hub(|hub| hub.woke_another_thread.set(true));
}

/// Whether a greenlet (not the root context) is running on this thread.
#[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
#[inline(always)]
pub(crate) fn in_greenlet() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

/// A wait cancelled by a kill or a `with_timeout` (see [`park_cancellable`]).
#[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cancelled;

/// [`park`] for code called from foreign frames (a hooked libc function),
/// through which unwinding is undefined behaviour: where `park` would unwind
/// with a kill or a timeout, this returns `Err(Cancelled)` instead, before
/// or after parking (see [`task::Interruption::take_cancelling`]). In the
/// root context it is `park`.
#[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
#[inline(always)]
pub(crate) fn park_cancellable(what: WaitOn) -> Result<(), Cancelled> {
    with_current(|current| match current {
        Some(current) => {
            let header = current.header();
            cancel_pending(header, &current)?;
            header.wait_on.set(what);
            header.schedule.park();
            current.suspend(Suspend::Park);
            cancel_pending(header, &current)
        }
        None => {
            with_hub(|hub| hub.park(what));
            Ok(())
        }
    })
}

#[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
#[inline(always)]
fn cancel_pending(header: &Header, current: &CurrentGreenlet<'_>) -> Result<(), Cancelled> {
    if header.interruption.is_pending() {
        cancel(header, current)
    } else {
        Ok(())
    }
}

/// [`raise`] for a foreign call: cancels it instead of unwinding.
#[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
#[cold]
#[inline(never)]
fn cancel(header: &Header, current: &CurrentGreenlet<'_>) -> Result<(), Cancelled> {
    loop {
        refresh_unwinding(header);
        match header.interruption.take_cancelling() {
            Raise::Nothing => return Ok(()),
            Raise::Now(_) => return Err(Cancelled),
            Raise::SwitchFirst => current.suspend(Suspend::Yield),
        }
    }
}

/// A waker for the current task's next park; for a greenlet, without
/// touching the hub.
#[inline]
pub(crate) fn current_waker() -> Waker {
    with_current_header(Header::waker)
}

/// The id of the running greenlet; `None` in the root context.
pub(crate) fn current_id() -> Option<u64> {
    with_current(|current| current.map(|current| current.header().id()))
}

/// Runs `f` with the header of the running greenlet, or of the root context.
pub(crate) fn with_current_header<R>(f: impl FnOnce(&Header) -> R) -> R {
    with_current(|current| match current {
        Some(current) => f(current.header()),
        None => with_hub(|hub| f(hub.root.header())),
    })
}

/// Marks a greenlet as the running one (for CURRENT and the fault handler)
/// until dropped. It borrows the greenlet's task, so the task outlives it.
struct Current<'a> {
    _running: sys::RunningGuard<'a>,
    _task: PhantomData<&'a TaskRef>,
}

impl<'a> Current<'a> {
    fn enter(task: &'a TaskRef) -> Current<'a> {
        let header = task.header();
        CURRENT.with(|c| c.set(header));
        Current {
            _running: sys::RunningGuard::enter(&header.owner),
            _task: PhantomData,
        }
    }
}

impl Drop for Current<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null()));
    }
}

/// Unwinds the current task if an interrupt is pending for it and may be
/// raised now (see [`task::Interruption`]): not while it is unwinding, unless
/// the interrupt is a timeout whose scope is inside that unwind, since a
/// second unwind out of a destructor aborts the process. A kill stays pending
/// and is raised again at the next switch point (after switching out once, if
/// the last one was caught); a timeout is raised once.
///
/// `current` is the running greenlet whose `header` this is, or `None` for
/// the root context.
#[inline(always)]
fn raise_pending(header: &Header, current: Option<&CurrentGreenlet<'_>>) {
    if header.interruption.is_pending() {
        raise(header, current);
    }
}

#[cold]
#[inline(never)]
fn raise(header: &Header, current: Option<&CurrentGreenlet<'_>>) {
    loop {
        refresh_unwinding(header);
        match header.interruption.take_raisable() {
            Raise::Nothing => return,
            Raise::Now(interrupt) => panic::resume_unwind(Box::new(Interrupted(interrupt))),
            Raise::SwitchFirst => match current {
                Some(current) => current.suspend(Suspend::Yield),
                // Only greenlets are killed; the root has nothing to wait for.
                None => return,
            },
        }
    }
}

/// Brings the task's unwinding flag up to date at a switch point (see
/// [`task::Interruption::refresh`]).
fn refresh_unwinding(header: &Header) {
    let panicking = std::thread::panicking();
    let others = if panicking && !header.interruption.is_unwinding() {
        with_hub(|hub| hub.unwinding_besides(header))
    } else {
        0
    };
    header.interruption.refresh(panicking, others);
}

/// Installs (once per process) a panic hook that marks the task a panic
/// starts in as unwinding, then calls the hook that was there before. The
/// hub cannot learn it otherwise: `thread::panicking()` is per thread, and
/// true for every greenlet while one of them is parked mid-unwind.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    if std::thread::panicking() {
        return; // the hook cannot be changed now; the next hub tries again
    }
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            note_panic();
            previous(info);
        }));
    });
}

/// Marks the task running on this thread as unwinding, if the thread has a hub.
fn note_panic() {
    with_current(|current| match current {
        Some(current) => {
            current.header().interruption.begin_unwind();
        }
        None => {
            let _ = try_with_hub(|hub| hub.root.header().interruption.begin_unwind());
        }
    });
}

struct ResetOnDrop<'a>(&'a Cell<bool>);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_signal_is_reused_and_starts_again_not_done() {
        let (waker, wait) = external_signal();
        let first = Arc::as_ptr(&wait.signal);
        waker.wake();
        assert!(wait.is_done());
        drop(wait);
        let (waker, wait) = external_signal();
        assert_eq!(Arc::as_ptr(&wait.signal), first, "the spare was not reused");
        assert!(!wait.is_done(), "a reused signal must not start done");
        waker.wake();
        assert!(wait.is_done());
    }

    #[test]
    fn a_signal_whose_waker_is_still_held_is_not_reused() {
        let (waker, wait) = external_signal();
        let first = Arc::as_ptr(&wait.signal);
        drop(wait);
        let (other_waker, other) = external_signal();
        assert_ne!(Arc::as_ptr(&other.signal), first);
        // The waker of a wait that is gone still fires harmlessly.
        waker.wake();
        other_waker.wake();
        assert!(other.is_done());
    }
}
