//! Greenlets: `spawn`, [`Builder`], the [`Greenlet`] handle, [`JoinError`],
//! and the stack pool they run on.
//!
//! This module owns a greenlet's typed side (its closure, then its result);
//! the hub owns the scheduling side (`crate::hub::Header`). Both live in one
//! allocation, so spawning costs one `malloc`.
//!
//! Layer: greenlets. Owns a greenlet's typed side and the stack pool; uses the hub and `sys`.

#![forbid(unsafe_code)]

mod stack_pool;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::num::NonZeroU64;
use std::panic::{self, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corosensei::Coroutine;

use crate::hub::{
    GreenletCoroutine, GreenletYielder, Header, Interrupted, State, Task, TaskCell, TaskRef,
    WaitOn, Waker, with_hub,
};
use crate::sys::{GreenletStack, SharedSlot, SharedStack};

/// The stack size of a greenlet made without [`Builder::stack_size`]: 256 KiB.
///
/// A stack costs address space, not memory: it is mapped once, reused through
/// a per-thread pool, and only the pages a greenlet touches become resident
/// (one 4 KiB page for a greenlet parked in `sleep`). So the default is sized
/// for what users run in a greenlet rather than kept small: unoptimised
/// builds, formatting and logging, panics with backtraces, and TLS or HTTP
/// libraries all want tens of KiB, and an overflow stops the process (with a
/// message naming the greenlet). The cost is virtual: 30,000 live greenlets
/// reserve about 8 GiB of address space. Lower it with [`Builder::stack_size`]
/// for greenlets known to run shallow code; raise it for deep recursion.
///
/// # Examples
///
/// ```
/// let big = greenlet::Builder::new()
///     .stack_size(4 * greenlet::DEFAULT_STACK_SIZE)
///     .spawn(|| "deep work")
///     .unwrap();
/// assert_eq!(big.join().unwrap(), "deep work");
/// ```
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The largest stack a [`Builder`] accepts: 1 GiB.
const MAX_STACK_SIZE: usize = 1 << 30;

/// The first id no thread has taken yet. Threads take ids in blocks of
/// [`ID_BLOCK`], so that a spawn takes its id from its own thread's block
/// with no atomic read-modify-write (a locked instruction on every spawn,
/// ~2% of a burst of spawns).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
const ID_BLOCK: u64 = 1024;

thread_local! {
    /// This thread's block of ids: the next one to give, and the end.
    static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A greenlet's identity: unique among all greenlets of the process, never reused.
///
/// # Examples
///
/// ```
/// let a = greenlet::spawn(|| ());
/// let b = greenlet::spawn(|| ());
/// assert_ne!(a.id(), b.id());
/// println!("spawned greenlet {}", a.id());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GreenletId(NonZeroU64);

impl GreenletId {
    fn next() -> GreenletId {
        let id = IDS.with(|ids| {
            let (mut next, mut end) = ids.get();
            if next == end {
                next = NEXT_ID.fetch_add(ID_BLOCK, Ordering::Relaxed);
                end = next + ID_BLOCK;
            }
            ids.set((next + 1, end));
            next
        });
        GreenletId(NonZeroU64::new(id).expect("greenlet ids start at 1"))
    }

    /// The id as a number, for logs and metrics.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| ());
    /// assert!(g.id().as_u64() > 0);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for GreenletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for GreenletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GreenletId({})", self.0)
    }
}

/// Why [`Greenlet::join`] has no value: the greenlet panicked or was killed.
///
/// # Examples
///
/// ```
/// let g = greenlet::spawn(|| -> u32 { panic!("boom") });
/// let err = g.join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "greenlet panicked: boom");
/// ```
pub enum JoinError {
    /// The greenlet panicked; this is the payload, as `std::thread` returns it.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The greenlet was killed with [`Greenlet::kill`] or [`killall`](crate::killall).
    Killed,
}

impl JoinError {
    /// True if the greenlet panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| panic!("boom"));
    /// assert!(g.join().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// True if the greenlet was killed.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| greenlet::sleep(std::time::Duration::from_secs(60)));
    /// g.kill();
    /// assert!(g.join().unwrap_err().is_killed());
    /// ```
    pub fn is_killed(&self) -> bool {
        matches!(self, JoinError::Killed)
    }

    /// The panic payload, to pass on with [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the greenlet was killed rather than panicking.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| panic!("boom"));
    /// let payload = g.join().unwrap_err().into_panic();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self {
            JoinError::Panicked(payload) => payload,
            JoinError::Killed => panic!("JoinError::into_panic called on a killed greenlet"),
        }
    }
}

/// The message of a panic payload, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(payload) => f
                .debug_tuple("Panicked")
                .field(&panic_message(&**payload))
                .finish(),
            JoinError::Killed => f.write_str("Killed"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(payload) => {
                write!(f, "greenlet panicked: {}", panic_message(&**payload))
            }
            JoinError::Killed => f.write_str("greenlet was killed"),
        }
    }
}

impl std::error::Error for JoinError {}

/// A handle to a greenlet: join it, wait for it, or kill it.
///
/// Dropping the handle detaches the greenlet, which runs on (as with
/// `std::thread::JoinHandle`). A greenlet stays on the thread that spawned it,
/// so the handle is neither `Send` nor `Sync`:
///
/// ```compile_fail
/// let g = greenlet::spawn(|| 1);
/// std::thread::spawn(move || g.join());
/// ```
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let g = greenlet::spawn(|| {
///     greenlet::sleep(Duration::from_millis(10));
///     6 * 7
/// });
/// assert!(!g.is_finished()); // greenlets run only while someone blocks
/// assert_eq!(g.join().unwrap(), 42);
/// ```
pub struct Greenlet<T> {
    cell: Rc<TaskCell<dyn Outcome<T>>>,
}

/// A task whose result has type `T`.
trait Outcome<T>: Task {
    /// The result, once the greenlet has finished; `None` before, or if taken.
    fn take_result(&self) -> Option<Result<T, JoinError>>;
}

impl<T> Greenlet<T> {
    fn header(&self) -> &Header {
        self.cell.header()
    }

    /// The greenlet's id.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| ());
    /// println!("{}", g.id());
    /// ```
    pub fn id(&self) -> GreenletId {
        GreenletId(NonZeroU64::new(self.header().id()).expect("greenlets have nonzero ids"))
    }

    /// The name given with [`Builder::name`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().name("worker").spawn(|| ()).unwrap();
    /// assert_eq!(g.name(), Some("worker"));
    /// assert_eq!(greenlet::spawn(|| ()).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.header().name()
    }

    /// True once the greenlet has run to the end, panicked, or been killed.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| ());
    /// assert!(!g.is_finished());
    /// greenlet::yield_now();
    /// assert!(g.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state() == State::Finished
    }

    /// Kills the greenlet (gevent's `kill(block=False)`): it does not wait.
    ///
    /// - A greenlet parked in a blocking call unwinds from that call the next
    ///   time the hub runs, so its destructors run (sockets close, guards
    ///   release). A greenlet that is runnable unwinds at its next switch point.
    /// - A greenlet that has not started never runs; its closure is dropped now.
    /// - A finished greenlet is left as it is.
    /// - A greenlet that kills itself unwinds at once.
    /// - A greenlet that is already unwinding (parked in a destructor during
    ///   a panic) finishes that unwind first: unwinding out of a destructor
    ///   would abort the process.
    /// - A greenlet that catches the kill (`catch_unwind`) and goes on is
    ///   killed again at its next switch point, after letting the others run.
    ///
    /// [`join`](Greenlet::join) then returns `Err(JoinError::Killed)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// greenlet::yield_now(); // let it start and park in sleep
    /// g.kill();
    /// assert!(g.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) {
        with_hub(|hub| hub.kill(&self.task()));
    }

    /// The hub's handle on this greenlet.
    pub(crate) fn task(&self) -> TaskRef {
        self.cell.clone()
    }

    /// Parks the caller as one of this greenlet's joiners until it finishes
    /// (true) or, after a wake-up before that, `over()` says to stop waiting
    /// (false); `arm` gets the waker of each park and returns a guard (a
    /// timer for it) kept while parked. See `WaitList`.
    pub(crate) fn park_as_joiner<G>(
        &self,
        arm: impl FnMut(Waker) -> G,
        over: impl FnMut() -> bool,
    ) -> bool {
        self.check_not_self();
        let waiter = self.header().joiners.enqueue(drop);
        waiter
            .park_with(WaitOn::Join(self.header().id()), arm, over)
            .is_some()
    }

    /// Blocks until the greenlet finishes and returns what its closure
    /// returned, or why it has no value.
    ///
    /// In the root context this runs the hub (every runnable greenlet) until
    /// the greenlet is done; in a greenlet it parks the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| "done");
    /// assert_eq!(g.join().unwrap(), "done");
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        if !self.is_finished() {
            self.park_as_joiner(|_| (), || false);
        }
        self.cell
            .body
            .take_result()
            .expect("a finished greenlet has its result until joined")
    }

    pub(crate) fn check_not_self(&self) {
        if crate::hub::current_id() == Some(self.header().id()) {
            panic!("greenlet: a greenlet cannot wait for itself to finish");
        }
    }
}

impl<T> fmt::Debug for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Greenlet")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Configures a greenlet before spawning it, as `std::thread::Builder` does a thread.
///
/// # Examples
///
/// ```
/// let g = greenlet::Builder::new()
///     .name("parser")
///     .stack_size(64 * 1024)
///     .spawn(|| 2 + 2)?;
/// assert_eq!(g.join().unwrap(), 4);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    stack_kind: Option<StackKind>,
}

/// Which kind of stack a greenlet runs on (see [`Builder::stack_kind`]).
///
/// A *private* stack is a guard-paged mapping of the greenlet's own: a
/// switch costs nothing beyond the switch itself, but each one is two of the
/// process's kernel mappings (`vm.max_map_count`, 65,530 by default, so
/// about 29,000 private stacks at once) and at least one resident 4 KiB page.
///
/// A *shared* stack is one guard-paged mapping that many greenlets of a hub
/// run on, one at a time. A greenlet on it that switches out copies the
/// bytes of stack it uses into a heap buffer of that size, and they are
/// copied back before it runs again: a parked greenlet costs about as much
/// memory as its stack is deep, and no mapping, so a million can be parked
/// at once; but every switch copies its used bytes both ways, so a deep
/// stack makes its switches slower.
///
/// Without a pinned kind, a greenlet gets a private stack while fewer than
/// 256 of its thread's greenlets run on private stacks and the process holds
/// fewer than three quarters of its stack budget, and a shared one beyond.
/// Past a few hundred running greenlets, the switches of shallow ones are
/// no slower on a shared stack (each private stack is a page and a TLB entry
/// of its own to touch), and bursts start without a system call. Pin
/// [`StackKind::Private`] for a greenlet whose stack is deep across its
/// switches (tens of KiB of frames or locals). Shared stacks are supported
/// on x86-64; elsewhere every greenlet gets a private stack, and pinning
/// [`StackKind::Shared`] fails.
///
/// A shared stack's greenlet copies out everything live on its stack,
/// locals included: a greenlet that switches often with a large buffer in a
/// local copies the buffer each time. Keep such buffers on the heap
/// (`vec![0; n]`), or pin [`StackKind::Private`].
///
/// # The rule for `unsafe` code
///
/// While a greenlet on a shared stack is switched out, its stack's addresses
/// hold another greenlet's bytes: nothing may read or write through a
/// pointer into it. Safe code cannot break this (`spawn` takes `'static`
/// closures, so no other greenlet can borrow a greenlet's locals); unsafe
/// code that hands a pointer to a local to another greenlet, thread or
/// callback must pin [`StackKind::Private`], or keep the pointee on the heap.
///
/// # Examples
///
/// ```
/// use greenlet::{Builder, StackKind};
///
/// let g = Builder::new().stack_kind(StackKind::Shared).spawn(|| {
///     let local = [7u8; 512]; // copied out and back across the sleep
///     greenlet::sleep(std::time::Duration::from_millis(1));
///     local.iter().map(|&b| u32::from(b)).sum::<u32>()
/// })?;
/// assert_eq!(g.join().unwrap(), 7 * 512);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StackKind {
    /// A guard-paged stack of the greenlet's own.
    Private,
    /// A slot on a stack the hub's greenlets share, saved to the heap at each switch.
    Shared,
}

impl Builder {
    /// A builder with no name and the [`DEFAULT_STACK_SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(g.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the greenlet; the name shows in logs, panics, the deadlock
    /// message and the stack-overflow message.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().name("poller").spawn(|| ()).unwrap();
    /// assert_eq!(g.name(), Some("poller"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Sets the usable stack size in bytes (rounded up to whole pages; a
    /// guard page is added below it). See [`DEFAULT_STACK_SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// fn depth(n: u64) -> u64 { if n == 0 { 0 } else { 1 + depth(std::hint::black_box(n - 1)) } }
    ///
    /// let g = greenlet::Builder::new().stack_size(8 << 20).spawn(|| depth(50_000)).unwrap();
    /// assert_eq!(g.join().unwrap(), 50_000);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Pins the kind of stack the greenlet runs on; see [`StackKind`] for
    /// the trade-off. Without it, the hub chooses: private stacks for a
    /// thread's first 256 running greenlets (within the process's mapping
    /// budget), shared ones beyond.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Builder, StackKind};
    ///
    /// let g = Builder::new().stack_kind(StackKind::Private).spawn(|| 1)?;
    /// assert_eq!(g.join().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_kind(mut self, kind: StackKind) -> Builder {
        self.stack_kind = Some(kind);
        self
    }

    /// Spawns a greenlet with this configuration. It runs once the spawning
    /// context blocks (see [`spawn`](crate::spawn)).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the stack size is above 1 GiB; `Unsupported` for
    /// [`StackKind::Shared`] where shared stacks are not supported (they are
    /// on x86-64). The stack itself is
    /// mapped when the greenlet first runs; if that fails while other
    /// greenlets hold stacks, the greenlet waits for one of them to finish,
    /// and otherwise it finishes with a [`JoinError::Panicked`] that says why.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = greenlet::Builder::new().stack_size(usize::MAX).spawn(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.spawn_at(None, f)
    }

    /// As [`spawn`](Builder::spawn), but the greenlet becomes runnable only
    /// after `delay` (see [`spawn_later`](crate::spawn_later)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let start = Instant::now();
    /// let g = greenlet::Builder::new()
    ///     .name("later")
    ///     .spawn_later(Duration::from_millis(20), Instant::now)
    ///     .unwrap();
    /// assert!(g.join().unwrap() >= start + Duration::from_millis(20));
    /// ```
    pub fn spawn_later<F, T>(self, delay: Duration, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        // A delay too long to represent never comes: the greenlet stays pending.
        let start_at = Instant::now().checked_add(delay);
        match start_at {
            Some(at) => self.spawn_at(Some(at), f),
            None => self.spawn_at(Some(far_future()), f),
        }
    }

    fn spawn_at<F, T>(self, start_at: Option<Instant>, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let stack_size = self.stack_size.unwrap_or(DEFAULT_STACK_SIZE);
        if self.stack_kind == Some(StackKind::Shared) {
            SharedStack::supported()?;
        }
        if stack_size > MAX_STACK_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("greenlet stack size {stack_size} is above the 1 GiB limit"),
            ));
        }
        let header = Header::new(GreenletId::next().as_u64(), self.name, stack_size);
        let cell: Rc<GreenletCell<F, T>> = Rc::new_cyclic(|this| {
            TaskCell::new(
                header,
                GreenletBody {
                    this: this.clone(),
                    stack_kind: self.stack_kind,
                    body: RefCell::new(Body::Pending(f)),
                },
            )
        });
        let task: TaskRef = cell.clone();
        with_hub(|hub| hub.spawn(task, start_at));
        Ok(Greenlet { cell })
    }
}

/// An instant so far ahead that it stands for "never" (about 30 years).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// Stacks this thread keeps for greenlets yet to start.
pub(crate) fn stacks_pooled() -> usize {
    stack_pool::len()
}

/// This thread's shared stacks, the greenlets on them, and the heap bytes
/// their switched-out greenlets hold.
pub(crate) fn shared_usage() -> (usize, usize, usize) {
    stack_pool::shared_usage()
}

/// A greenlet's allocation: the hub's header, then the typed body.
type GreenletCell<F, T> = TaskCell<GreenletBody<F, T>>;

/// What only this module knows of a greenlet: its closure, then its
/// result, and its coroutine once it has started.
struct GreenletBody<F, T> {
    /// The allocation this body is part of, for the coroutine to hold.
    this: Weak<GreenletCell<F, T>>,
    /// The kind of stack asked for, if any.
    stack_kind: Option<StackKind>,
    body: RefCell<Body<F, T>>,
}

enum Body<F, T> {
    /// Not started: the closure to run.
    Pending(F),
    Running,
    Done(Result<T, JoinError>),
    /// The result was taken by `join`.
    Taken,
}

impl<F, T> Task for GreenletBody<F, T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    fn start(&self, header: &Header) -> io::Result<(GreenletCoroutine, Option<SharedSlot>)> {
        let (stack, slot) = stack_pool::take(header.owner.stack_size, self.stack_kind)?;
        header.owner.guard_start.set(stack.guard_start());
        let owned = self.this.upgrade().expect("the hub starts a task it holds");
        let coroutine = Coroutine::with_stack(stack, move |yielder: &GreenletYielder, ()| {
            let this = &owned.body;
            let header = owned.header();
            let Body::Pending(f) = this.body.replace(Body::Running) else {
                unreachable!("a greenlet starts once")
            };
            let outcome = header.run_body(yielder, || {
                panic::catch_unwind(AssertUnwindSafe(|| {
                    // Greenlet-locals end with the greenlet's closure, in the
                    // greenlet: after a kill while it still unwinds, so their
                    // destructors may block as any other destructor may.
                    let _locals = DropLocalsOnExit(header);
                    f()
                }))
            });
            let result = match outcome {
                // A kill that cancelled a foreign call (a hooked libc
                // function, which cannot unwind) is a kill all the same,
                // however the greenlet went on: returning, or panicking
                // (an `unwrap` of the `ECANCELED` it got).
                _ if header.interruption.was_cancelled_by_kill() => Err(JoinError::Killed),
                outcome => outcome.map_err(|payload| header.join_error(payload)),
            };
            this.body.replace(Body::Done(result));
        });
        Ok((coroutine, slot))
    }

    fn recycle(&self, header: &Header, stack: GreenletStack) {
        stack_pool::give(header.owner.stack_size, stack);
    }

    fn cancel(&self) {
        let closure = self.body.replace(Body::Done(Err(JoinError::Killed)));
        drop(closure); // outside the borrow: its destructors may use the hub
    }

    fn fail_to_start(&self, header: &Header, error: io::Error) {
        let message = format!(
            "greenlet: cannot start {}: no stack of {} bytes could be mapped: {error}",
            header.describe(),
            header.owner.stack_size
        );
        let closure = self
            .body
            .replace(Body::Done(Err(JoinError::Panicked(Box::new(message)))));
        drop(closure);
    }
}

impl<F, T> Outcome<T> for GreenletBody<F, T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    fn take_result(&self) -> Option<Result<T, JoinError>> {
        let mut body = self.body.borrow_mut();
        match std::mem::replace(&mut *body, Body::Taken) {
            Body::Done(result) => Some(result),
            other => {
                *body = other;
                None
            }
        }
    }
}

/// Drops a greenlet's locals when dropped: at the end of its closure, or
/// during its unwind.
struct DropLocalsOnExit<'a>(&'a Header);

impl Drop for DropLocalsOnExit<'_> {
    fn drop(&mut self) {
        self.0.drop_locals();
    }
}

/// Whether an unwind's payload is the hub's kill or timeout (not a panic),
/// for code that catches panics to report them but must let those pass.
pub(crate) fn is_interrupt(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Interrupted>()
}

impl Header {
    /// Turns what unwound out of a greenlet's closure into its `JoinError`,
    /// logging a real panic with the greenlet's id and name.
    fn join_error(&self, payload: Box<dyn Any + Send>) -> JoinError {
        if payload.is::<Interrupted>() {
            return JoinError::Killed;
        }
        log::error!(target: "greenlet", "{} panicked: {}", self.describe(), panic_message(&*payload));
        JoinError::Panicked(payload)
    }
}

/// Spawns a greenlet running `f` on this thread's hub and returns its handle.
///
/// The greenlet does not run yet: greenlets run while the spawning context
/// blocks (in `join`, `sleep`, a queue, a socket, ...), as in gevent. Dropping
/// the handle detaches it.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let tasks: Vec<_> = [30, 10, 20]
///     .into_iter()
///     .map(|ms| greenlet::spawn(move || greenlet::sleep(Duration::from_millis(ms))))
///     .collect();
/// greenlet::joinall(tasks);
/// assert!(start.elapsed() < Duration::from_millis(55)); // overlapped, not 60 ms
/// ```
pub fn spawn<F, T>(f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new()
        .spawn(f)
        .expect("the default stack size is valid")
}

/// Spawns a greenlet that becomes runnable only after `delay`.
///
/// Until then it holds no stack. Killing it before then means it never runs.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let g = greenlet::spawn_later(Duration::from_millis(30), move || start.elapsed());
/// assert!(g.join().unwrap() >= Duration::from_millis(30));
/// ```
pub fn spawn_later<F, T>(delay: Duration, f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new()
        .spawn_later(delay, f)
        .expect("the default stack size is valid")
}

/// Joins every greenlet, in order, and returns their results in that order.
///
/// # Examples
///
/// ```
/// let gs = (1..=3).map(|i| greenlet::spawn(move || i * 10));
/// let results: Vec<i32> = greenlet::joinall(gs).into_iter().map(Result::unwrap).collect();
/// assert_eq!(results, [10, 20, 30]);
/// ```
pub fn joinall<T, I>(greenlets: I) -> Vec<Result<T, JoinError>>
where
    I: IntoIterator<Item = Greenlet<T>>,
{
    greenlets.into_iter().map(Greenlet::join).collect()
}

/// Kills every greenlet, then waits until all of them have finished.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = (0..3)
///     .map(|_| greenlet::spawn(|| greenlet::sleep(Duration::from_secs(3600))))
///     .collect();
/// greenlet::yield_now();
/// greenlet::killall(gs); // returns at once, not in an hour
/// ```
pub fn killall<T, I>(greenlets: I)
where
    I: IntoIterator<Item = Greenlet<T>>,
{
    let greenlets: Vec<Greenlet<T>> = greenlets.into_iter().collect();
    for g in &greenlets {
        g.kill();
    }
    for g in greenlets {
        let _ = g.join();
    }
}
