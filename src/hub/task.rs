//! What the hub knows about a greenlet, independent of its closure and result types.
//!
//! A greenlet is one `Rc` allocation that holds a [`Header`] (scheduling state
//! the hub reads and writes) and the typed body (closure, then result) that
//! only `crate::greenlet` knows. The hub sees it as a [`TaskRef`].

#![forbid(unsafe_code)]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::rc::Rc;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::wait_list::WaitList;
use crate::sys::{GreenletStack, SharedSlot, StackOwner};

/// What a greenlet hands the hub when it switches out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// Still runnable: put it at the back of the run queue.
    Yield,
    /// Parked: whoever holds its [`Waker`] makes it runnable again.
    Park,
}

/// What a greenlet's coroutine body switches out with.
pub(crate) type GreenletYielder = Yielder<(), Suspend>;

/// A greenlet's coroutine. Its type is fixed (the closure is inside it), so
/// the hub resumes it directly, without a virtual call.
pub(crate) type GreenletCoroutine = Coroutine<(), Suspend, (), GreenletStack>;

/// The hub's handle on a greenlet (or on the root context).
pub(crate) type TaskRef = Rc<TaskCell<dyn Task>>;

/// One task's allocation: the [`Header`] the hub schedules by, then the
/// body only its owner knows. The header comes first and is sized, so the
/// hub reaches it at a fixed offset, without a virtual call.
pub(crate) struct TaskCell<B: ?Sized> {
    header: Header,
    pub(crate) body: B,
}

impl<B> TaskCell<B> {
    pub(crate) fn new(header: Header, body: B) -> TaskCell<B> {
        TaskCell { header, body }
    }
}

impl<B: ?Sized> TaskCell<B> {
    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }
}

/// The type-erased side of a greenlet: what the hub asks of its body.
/// Resuming is not among it: the hub resumes the coroutine that `start`
/// made, kept in the header ([`Header::resume`]).
pub(crate) trait Task {
    /// Builds the coroutine that will run the greenlet's closure, taking a
    /// stack for it; fails if no stack can be had now.
    /// A greenlet on a shared stack also gets the slot that keeps its
    /// bytes while it is switched out.
    fn start(&self, header: &Header) -> io::Result<(GreenletCoroutine, Option<SharedSlot>)>;
    /// Takes back the stack of the greenlet's coroutine, which has finished.
    fn recycle(&self, header: &Header, stack: GreenletStack);
    /// Drops the closure of a greenlet that never ran and records it as killed.
    fn cancel(&self);
    /// Records that the greenlet could not start because no stack could be had.
    fn fail_to_start(&self, header: &Header, error: io::Error);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Spawned with a delay; a timer makes it runnable.
    Pending,
    /// In the run queue.
    Runnable,
    /// On the CPU (at most one greenlet, or the root, per hub).
    Running,
    /// Waiting for a [`Waker`], an interrupt or a free stack.
    Parked,
    /// Ran to the end, panicked, or was killed.
    Finished,
}

/// A reason to unwind a greenlet out of the blocking call it is parked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// `Greenlet::kill` (gevent's `GreenletExit`). Sticky: raised again at every
    /// switch point until the greenlet ends.
    Kill,
    /// A `with_timeout` scope ran out of time.
    Timeout(TimeoutScope),
}

/// Which `with_timeout` scope a timeout belongs to, and whether that scope was
/// entered while its task was already unwinding (inside a destructor that runs
/// during an unwind): only such a scope may be unwound to mid-unwind, since
/// its `catch_unwind` sits inside the destructor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeoutScope {
    pub(crate) id: u64,
    /// The task's unwind sequence number at entry, if it was unwinding then.
    pub(crate) inside_unwind: Option<u32>,
}

/// What a task should do about its pending interrupt at a switch point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raise {
    /// Nothing pending, or nothing that may be raised now.
    Nothing,
    /// The kill was raised and caught since this task last switched out:
    /// switch out first, so that a task that swallows kills still lets the
    /// others run.
    SwitchFirst,
    /// Unwind with this interrupt now.
    Now(Interrupt),
}

/// How an interrupt taken at a switch point reaches the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// It unwinds the task (a switch point in Rust code).
    Unwind,
    /// It cancels a foreign call, which returns `ECANCELED`.
    Cancel,
}

/// A task's pending interrupts and whether it is unwinding.
///
/// A kill and timeouts are kept apart, so that one that cannot be raised yet
/// does not hide one that can. Of several timeouts of one kind the outer one
/// (the oldest scope) is kept: unwinding to it passes the inner ones.
///
/// # Invariant
/// `unwinding` is true from the start of an unwind in this task (a panic, as
/// seen by the hub's panic hook, or an interrupt the hub raised) until a
/// switch point of this task finds `thread::panicking()` false, or the unwind
/// is caught by the `with_timeout` it was raised for, or the task finishes.
/// While it is true only a timeout whose scope was entered during the current
/// unwind (`inside_unwind == Some(unwind_seq)`) is raised: any other unwind
/// would leave a destructor that runs during an unwind, which aborts.
/// `any` is true exactly when `kill` is set or a timeout slot is full.
#[derive(Debug, Default)]
pub(crate) struct Interruption {
    any: Cell<bool>,
    kill: Cell<bool>,
    /// A timeout of a scope entered while the task was not unwinding.
    outer: Cell<Option<TimeoutScope>>,
    /// A timeout of a scope entered during an unwind (inside a destructor).
    inner: Cell<Option<TimeoutScope>>,
    unwinding: Cell<bool>,
    /// Bumped each time an unwind starts.
    unwind_seq: Cell<u32>,
    /// A kill was raised since the task last switched out.
    kill_raised: Cell<bool>,
    /// A kill cancelled a foreign call (see [`Interruption::take_cancelling`]):
    /// the task counts as killed however it ends.
    kill_cancelled: Cell<bool>,
    /// The outermost `with_timeout` scope whose timeout cancelled a foreign
    /// call instead of unwinding: that scope reports `Elapsed` however its
    /// closure ends.
    timeout_cancelled: Cell<Option<u64>>,
}

impl Interruption {
    /// Whether an interrupt waits to be raised (the switch points' fast check).
    #[inline(always)]
    pub(crate) fn is_pending(&self) -> bool {
        self.any.get()
    }

    /// Records `interrupt` beside any already pending.
    pub(crate) fn post(&self, interrupt: Interrupt) {
        match interrupt {
            Interrupt::Kill => self.kill.set(true),
            Interrupt::Timeout(scope) => {
                let slot = match scope.inside_unwind {
                    None => &self.outer,
                    Some(_) => &self.inner,
                };
                let kept = match slot.get() {
                    Some(pending) if pending.id < scope.id => pending,
                    _ => scope,
                };
                slot.set(Some(kept));
            }
        }
        self.any.set(true);
    }

    /// Forgets a timeout of scope `id` that was never raised (its scope ended first).
    pub(crate) fn forget_timeout(&self, id: u64) {
        for slot in [&self.outer, &self.inner] {
            if slot.get().is_some_and(|scope| scope.id == id) {
                slot.set(None);
            }
        }
        self.update_any();
    }

    fn update_any(&self) {
        self.any
            .set(self.kill.get() || self.outer.get().is_some() || self.inner.get().is_some());
    }

    pub(crate) fn is_unwinding(&self) -> bool {
        self.unwinding.get()
    }

    /// Whether the task has been killed (the kill is kept until it ends).
    pub(crate) fn is_killed(&self) -> bool {
        self.kill.get()
    }

    /// The scope a `with_timeout` entered now belongs to.
    pub(crate) fn timeout_scope(&self, id: u64) -> TimeoutScope {
        TimeoutScope {
            id,
            inside_unwind: self.unwinding.get().then(|| self.unwind_seq.get()),
        }
    }

    /// An unwind starts in this task; true if it was not unwinding before.
    pub(crate) fn begin_unwind(&self) -> bool {
        if self.unwinding.replace(true) {
            return false;
        }
        self.unwind_seq.set(self.unwind_seq.get().wrapping_add(1));
        true
    }

    /// The unwind is over (caught, or the task finished); true if it was unwinding.
    pub(crate) fn end_unwind(&self) -> bool {
        self.unwinding.replace(false)
    }

    /// Brings `unwinding` up to date at a switch point of the running task:
    /// `panicking` is `thread::panicking()`, `others_unwinding` how many other
    /// tasks of the thread the hub knows to be unwinding.
    pub(crate) fn refresh(&self, panicking: bool, others_unwinding: usize) {
        if !panicking {
            // Nobody on the thread unwinds, so neither does this task.
            self.end_unwind();
        } else if !self.unwinding.get() && others_unwinding == 0 {
            // Someone unwinds and it is nobody else: a panic the hook did
            // not see (a panic hook set after the hub's replaced it).
            self.begin_unwind();
        }
    }

    /// Decides what to raise at a switch point; `unwinding` must be fresh
    /// (see [`Interruption::refresh`]). Taking a timeout clears it; a kill
    /// stays pending until the task ends.
    pub(crate) fn take_raisable(&self) -> Raise {
        self.take(Delivery::Unwind)
    }

    /// [`Interruption::take_raisable`] for a switch point in a foreign call
    /// (a hooked libc function), which must not unwind: `Now` means "cancel
    /// the call" (it returns `ECANCELED`), and is recorded, so that the task
    /// still counts as killed ([`Interruption::was_cancelled_by_kill`]) or
    /// its `with_timeout` as elapsed ([`Interruption::take_cancelled_timeout`])
    /// however the caller goes on. Nothing starts unwinding.
    #[cfg_attr(not(all(feature = "hook", target_os = "linux")), allow(dead_code))] // for `monkey`
    pub(crate) fn take_cancelling(&self) -> Raise {
        self.take(Delivery::Cancel)
    }

    fn take(&self, delivery: Delivery) -> Raise {
        if !self.any.get() {
            return Raise::Nothing;
        }
        if self.unwinding.get() {
            let Some(scope) = self.inner.get() else {
                return Raise::Nothing;
            };
            if scope.inside_unwind != Some(self.unwind_seq.get()) {
                return Raise::Nothing;
            }
            self.inner.set(None);
            self.update_any();
            if delivery == Delivery::Cancel {
                self.note_cancelled_timeout(scope.id);
            }
            return Raise::Now(Interrupt::Timeout(scope));
        }
        if self.kill.get() {
            if self.kill_raised.get() {
                return Raise::SwitchFirst;
            }
            self.kill_raised.set(true);
            match delivery {
                Delivery::Unwind => {
                    self.begin_unwind();
                }
                Delivery::Cancel => self.kill_cancelled.set(true),
            }
            return Raise::Now(Interrupt::Kill);
        }
        let scope = self.outer.take().or_else(|| self.inner.take());
        self.update_any();
        let Some(scope) = scope else {
            return Raise::Nothing;
        };
        match delivery {
            Delivery::Unwind => {
                self.begin_unwind();
            }
            Delivery::Cancel => self.note_cancelled_timeout(scope.id),
        }
        Raise::Now(Interrupt::Timeout(scope))
    }

    fn note_cancelled_timeout(&self, id: u64) {
        let outermost = match self.timeout_cancelled.get() {
            Some(earlier) => earlier.min(id),
            None => id,
        };
        self.timeout_cancelled.set(Some(outermost));
    }

    /// Whether a kill cancelled a foreign call of this task.
    pub(crate) fn was_cancelled_by_kill(&self) -> bool {
        self.kill_cancelled.get()
    }

    /// Whether the timeout of scope `id` cancelled a foreign call (and
    /// forgets it): that scope has elapsed.
    pub(crate) fn take_cancelled_timeout(&self, id: u64) -> bool {
        if self.timeout_cancelled.get() == Some(id) {
            self.timeout_cancelled.set(None);
            return true;
        }
        false
    }

    /// The task switched out: a kill it swallowed may be raised again.
    #[inline(always)]
    pub(crate) fn switched_out(&self) {
        self.kill_raised.set(false);
    }
}

/// The panic payload that carries an [`Interrupt`] up the stack.
#[derive(Debug)]
pub(crate) struct Interrupted(pub(crate) Interrupt);

/// What a parked greenlet waits on, for the deadlock message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitOn {
    Nothing,
    Sleep,
    Join(u64),
    /// A free stack: too many greenlets hold one and the kernel gives no more.
    Stack,
    /// A primitive, named as the user called it (`"Queue::get"`).
    #[allow(dead_code)] // used by the coordination primitives
    Named(&'static str),
}

impl fmt::Display for WaitOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitOn::Nothing => f.write_str("nothing"),
            WaitOn::Sleep => f.write_str("sleep"),
            WaitOn::Join(id) => write!(f, "join of greenlet {id}"),
            WaitOn::Stack => f.write_str("a free stack"),
            WaitOn::Named(what) => f.write_str(what),
        }
    }
}

/// A task's run state and park generation, changed only by the transitions
/// below, each of which checks (in debug builds) that it starts where it may.
///
/// # Invariant
/// `park_gen` changes exactly when a parked task becomes runnable, so a
/// [`Waker`] made for one park cannot wake the task from a later one.
#[derive(Debug)]
pub(crate) struct Schedule {
    state: Cell<State>,
    park_gen: Cell<u32>,
}

impl Schedule {
    fn new() -> Schedule {
        Schedule {
            state: Cell::new(State::Runnable),
            park_gen: Cell::new(0),
        }
    }

    #[inline(always)]
    pub(crate) fn state(&self) -> State {
        self.state.get()
    }

    #[inline(always)]
    pub(crate) fn park_gen(&self) -> u32 {
        self.park_gen.get()
    }

    /// Runnable -> Running: the hub resumes it (or the root's wait returns).
    #[inline(always)]
    pub(crate) fn run(&self) {
        debug_assert!(matches!(self.state.get(), State::Runnable | State::Running));
        self.state.set(State::Running);
    }

    /// Running -> Parked: it waits for a waker or an interrupt.
    #[inline(always)]
    pub(crate) fn park(&self) {
        debug_assert_eq!(self.state.get(), State::Running);
        self.state.set(State::Parked);
    }

    /// Running -> Runnable: it yielded.
    #[inline(always)]
    pub(crate) fn yielded(&self) {
        debug_assert_eq!(self.state.get(), State::Running);
        self.state.set(State::Runnable);
    }

    /// Runnable -> Parked: a greenlet that has not started waits for a stack.
    pub(crate) fn wait_for_stack(&self) {
        debug_assert_eq!(self.state.get(), State::Runnable);
        self.state.set(State::Parked);
    }

    /// Runnable -> Pending: spawned with a delay.
    pub(crate) fn delay(&self) {
        debug_assert_eq!(self.state.get(), State::Runnable);
        self.state.set(State::Pending);
    }

    /// Parked or Pending -> Runnable, if `park_gen` is the current
    /// generation (any, if `None`). True if the caller must queue the task.
    #[inline]
    pub(crate) fn wake(&self, park_gen: Option<u32>) -> bool {
        let state = self.state.get();
        if !matches!(state, State::Parked | State::Pending)
            || park_gen.is_some_and(|park_gen| park_gen != self.park_gen.get())
        {
            return false;
        }
        self.park_gen.set(self.park_gen.get().wrapping_add(1));
        self.state.set(State::Runnable);
        true
    }

    /// Any -> Finished (ran to the end, failed to start, or was killed unstarted).
    pub(crate) fn finish(&self) {
        self.state.set(State::Finished);
    }
}

/// A task's `greenlet_local!` values, keyed by their key's address.
pub(crate) type Locals = Vec<(usize, Rc<dyn Any>)>;

/// The scheduling state of one greenlet. Only the hub's thread touches it.
pub(crate) struct Header {
    /// Identity and guard page, read by the stack-overflow handler.
    pub(crate) owner: StackOwner,
    pub(super) schedule: Schedule,
    /// Whether a coroutine was ever built (the closure has been handed to it).
    pub(super) started: Cell<bool>,
    /// The coroutine, from the start until it has finished.
    coroutine: Running,
    pub(crate) interruption: Interruption,
    /// A `spawn_later` greenlet's key in the hub's delayed starts, until it starts.
    pub(super) start_at: Cell<Option<(std::time::Instant, u64)>>,
    pub(super) wait_on: Cell<WaitOn>,
    /// The running coroutine's yielder, while its body runs (see [`Header::yielder`]).
    ///
    /// # Invariant
    /// Null, or the address of the `Yielder` that corosensei passed to this
    /// task's coroutine body, set by the body when it starts and cleared by
    /// it before it returns: so while non-null it points into the live
    /// frame of that body, on the task's own stack.
    yielder: Cell<*const GreenletYielder>,
    /// Whether it runs on a shared stack (it then marks its switch point):
    /// whether its `Started` has a slot, kept apart because the greenlet
    /// reads it while the hub holds the coroutine borrowed.
    pub(super) on_shared_stack: Cell<bool>,
    /// A shared-stack greenlet's last switch point (`sys::mark_switch_point`).
    pub(super) switched_out_at: Cell<usize>,
    /// This greenlet's key in the hub's table of live greenlets.
    pub(super) slab_key: Cell<usize>,
    /// Tasks waiting for this one to finish; granted when it does. Inline:
    /// boxed on first join it saved 64 bytes a parked greenlet but cost a
    /// `malloc` and a `free` (~180 instructions) in every spawn+join that
    /// waits.
    pub(crate) joiners: WaitList<()>,
    /// This task's `greenlet_local!` values, keyed by their key's address.
    /// Boxed, and made on first use: most greenlets have none.
    pub(crate) locals: RefCell<Option<Box<Locals>>>,
}

impl Header {
    pub(crate) fn new(id: u64, name: Option<String>, stack_size: usize) -> Header {
        Header {
            owner: StackOwner {
                id,
                name: name.map(String::into_boxed_str),
                stack_size,
                guard_start: Cell::new(0),
            },
            schedule: Schedule::new(),
            started: Cell::new(false),
            coroutine: Running(RefCell::new(None)),
            interruption: Interruption::default(),
            start_at: Cell::new(None),
            wait_on: Cell::new(WaitOn::Nothing),
            yielder: Cell::new(std::ptr::null()),
            on_shared_stack: Cell::new(false),
            switched_out_at: Cell::new(0),
            slab_key: Cell::new(usize::MAX),
            joiners: WaitList::new(),
            locals: RefCell::new(None),
        }
    }

    /// Keeps the coroutine its [`Task::start`] made, to be resumed.
    pub(super) fn install(&self, coroutine: GreenletCoroutine, slot: Option<SharedSlot>) {
        self.on_shared_stack.set(slot.is_some());
        *self.coroutine.0.borrow_mut() = Some(Started { coroutine, slot });
    }

    /// Runs the started greenlet until it switches out, or until it ends:
    /// then its coroutine is gone, and its stack is returned.
    #[inline(always)]
    pub(super) fn resume(&self) -> Resumed {
        let result = match &mut *self.coroutine.0.borrow_mut() {
            Some(Started {
                coroutine,
                slot: None,
            }) => coroutine.resume(()),
            // A shared-stack greenlet's bytes go back on the stack before it
            // runs, and off it once it has switched out.
            Some(Started {
                coroutine,
                slot: Some(slot),
            }) => {
                slot.swap_in();
                let result = coroutine.resume(());
                if let CoroutineResult::Yield(_) = result {
                    slot.swap_out(self.switched_out_at.get());
                }
                result
            }
            None => unreachable!("the hub resumes only started greenlets"),
        };
        match result {
            CoroutineResult::Yield(why) => Resumed::Suspended(why),
            CoroutineResult::Return(()) => self.finished(),
        }
    }

    #[cold]
    fn finished(&self) -> Resumed {
        let started = self.coroutine.0.borrow_mut().take();
        let Started { coroutine, slot } = started.expect("it just returned");
        if let Some(slot) = slot {
            slot.ended();
        }
        Resumed::Finished(coroutine.into_stack())
    }

    /// Runs `body` as this task's coroutine body: the yielder is known to the
    /// hub exactly while `body` runs, and forgotten however it ends.
    /// Inlined into the coroutine's closure: each frame open across a
    /// switch is saved with a shared-stack greenlet.
    #[inline(always)]
    pub(crate) fn run_body<R>(&self, yielder: &GreenletYielder, body: impl FnOnce() -> R) -> R {
        struct Clear<'a>(&'a Cell<*const GreenletYielder>);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.set(std::ptr::null());
            }
        }
        self.yielder.set(yielder);
        let _clear = Clear(&self.yielder);
        body()
    }

    /// Drops this task's `greenlet_local!` values. A destructor that makes a
    /// new local gets it dropped too, a few rounds deep; the rest go with
    /// the task. No borrow is held while they drop (their destructors may
    /// use other locals).
    pub(crate) fn drop_locals(&self) {
        for _ in 0..4 {
            match self.locals.take() {
                Some(locals) if !locals.is_empty() => drop(locals),
                _ => return,
            }
        }
    }

    /// The yielder of this task's running coroutine body; null outside it.
    #[inline(always)]
    pub(crate) fn yielder(&self) -> *const GreenletYielder {
        self.yielder.get()
    }

    pub(crate) fn state(&self) -> State {
        self.schedule.state()
    }

    pub(crate) fn id(&self) -> u64 {
        self.owner.id
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.owner.name.as_deref()
    }

    pub(crate) fn is_root(&self) -> bool {
        self.owner.id == ROOT_ID
    }

    /// A waker for this task's next park.
    #[inline(always)]
    pub(crate) fn waker(&self) -> Waker {
        Waker {
            key: self.slab_key.get(),
            id: self.id(),
            park: self.schedule.park_gen(),
        }
    }

    /// `greenlet 7 "worker"` or `greenlet 7`.
    pub(crate) fn describe(&self) -> String {
        match self.name() {
            Some(name) => format!("greenlet {} {:?}", self.id(), name),
            None => format!("greenlet {}", self.id()),
        }
    }
}

/// How a resumed greenlet came back to the hub.
pub(crate) enum Resumed {
    /// It switched out, still alive.
    Suspended(Suspend),
    /// It ran to its end; this was its stack.
    Finished(GreenletStack),
}

/// A greenlet's coroutine, from its start until it has finished.
///
/// Dropping a suspended corosensei coroutine unwinds its stack from wherever
/// the drop happens (a table being cleared, a thread-local destructor),
/// running the greenlet's destructors outside the hub. This type never does:
/// dropped unfinished, it leaks the coroutine and its stack instead (the
/// stack's memory must stay valid for anything on it that was pinned). The
/// hub ends greenlets only by running them to their end (a kill unwinds them
/// from inside).
struct Running(RefCell<Option<Started>>);

/// A started greenlet's coroutine, and its slot if it runs on a shared stack.
struct Started {
    coroutine: GreenletCoroutine,
    slot: Option<SharedSlot>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(Started { coroutine, slot }) = self.0.get_mut().take()
            && coroutine.started()
            && !coroutine.done()
        {
            log::debug!(target: "greenlet", "a suspended greenlet's stack is leaked");
            std::mem::forget(coroutine);
            // Its saved bytes (a shared-stack greenlet's) are never read again.
            drop(slot);
        }
    }
}

/// The root context's id; greenlet ids start at 1.
pub(crate) const ROOT_ID: u64 = 0;

/// Permission to make one parked greenlet (or the root) runnable again.
///
/// It names the task by its key in the hub's table of live greenlets and by
/// its id (a key is reused once its greenlet ends, an id never is), so it
/// holds no reference: making and dropping one costs nothing. It is bound to
/// one park: once its task has been woken (by this waker, another one or an
/// interrupt), or has finished, waking it again does nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waker {
    pub(crate) key: usize,
    pub(crate) id: u64,
    pub(crate) park: u32,
}

/// The root context as a task: it parks and wakes like a greenlet, but runs
/// on the thread's own stack and never starts or ends.
pub(crate) type RootTask = TaskCell<RootBody>;

/// The root context has no body of its own.
pub(crate) struct RootBody;

impl Task for RootBody {
    fn start(&self, _header: &Header) -> io::Result<(GreenletCoroutine, Option<SharedSlot>)> {
        unreachable!("the root context runs on the thread's own stack")
    }

    fn recycle(&self, _header: &Header, _stack: GreenletStack) {
        unreachable!("the root context runs on the thread's own stack")
    }

    fn cancel(&self) {
        unreachable!("the root context cannot be killed")
    }

    fn fail_to_start(&self, _header: &Header, _error: io::Error) {
        unreachable!("the root context runs on the thread's own stack")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(id: u64, inside_unwind: Option<u32>) -> TimeoutScope {
        TimeoutScope { id, inside_unwind }
    }

    #[test]
    fn a_waker_of_an_earlier_park_does_not_wake_the_task() {
        let schedule = Schedule::new();
        schedule.run();
        let first = schedule.park_gen();
        schedule.park();
        assert!(schedule.wake(Some(first)));
        assert_eq!(schedule.state(), State::Runnable);
        schedule.run();
        schedule.park();
        assert!(!schedule.wake(Some(first)), "a stale waker woke the task");
        assert_eq!(schedule.state(), State::Parked);
        assert!(schedule.wake(Some(schedule.park_gen())));
    }

    #[test]
    fn waking_a_task_that_is_not_parked_does_nothing() {
        let schedule = Schedule::new();
        assert!(!schedule.wake(None)); // runnable
        schedule.run();
        assert!(!schedule.wake(None)); // running
        schedule.finish();
        assert!(!schedule.wake(None));
        assert_eq!(schedule.state(), State::Finished);
    }

    #[test]
    fn a_pending_task_is_started_by_a_wake_of_any_generation() {
        let schedule = Schedule::new();
        schedule.delay();
        assert_eq!(schedule.state(), State::Pending);
        assert!(schedule.wake(None));
        assert_eq!(schedule.state(), State::Runnable);
    }

    #[test]
    fn a_kill_is_raised_then_waits_for_a_switch_before_it_is_raised_again() {
        let interruption = Interruption::default();
        interruption.post(Interrupt::Kill);
        assert!(interruption.is_pending());
        interruption.refresh(false, 0);
        assert_eq!(interruption.take_raisable(), Raise::Now(Interrupt::Kill));
        assert!(interruption.is_unwinding());
        // Caught: a later switch point sees nobody panicking.
        interruption.refresh(false, 0);
        assert_eq!(interruption.take_raisable(), Raise::SwitchFirst);
        interruption.switched_out();
        assert_eq!(interruption.take_raisable(), Raise::Now(Interrupt::Kill));
        assert!(interruption.is_pending(), "a kill is sticky");
    }

    #[test]
    fn nothing_is_raised_while_the_task_unwinds_from_its_own_panic() {
        let interruption = Interruption::default();
        interruption.begin_unwind(); // the panic hook saw its panic
        interruption.post(Interrupt::Kill);
        interruption.post(Interrupt::Timeout(scope(1, None)));
        interruption.refresh(true, 1);
        assert_eq!(interruption.take_raisable(), Raise::Nothing);
        assert!(interruption.is_pending());
    }

    #[test]
    fn a_timeout_of_a_scope_inside_the_current_unwind_is_raised_despite_a_pending_kill() {
        let interruption = Interruption::default();
        interruption.begin_unwind();
        let inner = interruption.timeout_scope(7);
        assert!(inner.inside_unwind.is_some());
        interruption.post(Interrupt::Kill);
        interruption.post(Interrupt::Timeout(inner));
        interruption.refresh(true, 0);
        assert_eq!(
            interruption.take_raisable(),
            Raise::Now(Interrupt::Timeout(inner))
        );
        assert!(interruption.is_unwinding(), "the outer unwind goes on");
        assert_eq!(interruption.take_raisable(), Raise::Nothing);
        interruption.refresh(false, 0);
        assert_eq!(interruption.take_raisable(), Raise::Now(Interrupt::Kill));
    }

    #[test]
    fn a_timeout_of_a_scope_from_an_earlier_unwind_is_not_raised() {
        let interruption = Interruption::default();
        interruption.begin_unwind();
        let old = interruption.timeout_scope(3);
        interruption.end_unwind();
        interruption.begin_unwind();
        interruption.post(Interrupt::Timeout(old));
        assert_eq!(interruption.take_raisable(), Raise::Nothing);
    }

    #[test]
    fn an_unwind_nobody_else_explains_is_this_tasks_own() {
        let interruption = Interruption::default();
        interruption.refresh(true, 1);
        assert!(!interruption.is_unwinding(), "another task explains it");
        interruption.refresh(true, 0);
        assert!(interruption.is_unwinding());
        interruption.refresh(false, 0);
        assert!(!interruption.is_unwinding());
    }

    #[test]
    fn of_two_timeouts_the_outer_one_is_raised_and_a_forgotten_one_never_is() {
        let interruption = Interruption::default();
        interruption.post(Interrupt::Timeout(scope(5, None)));
        interruption.post(Interrupt::Timeout(scope(2, None)));
        assert_eq!(
            interruption.take_raisable(),
            Raise::Now(Interrupt::Timeout(scope(2, None)))
        );
        interruption.end_unwind();
        interruption.post(Interrupt::Timeout(scope(9, None)));
        interruption.forget_timeout(9);
        assert!(!interruption.is_pending());
        assert_eq!(interruption.take_raisable(), Raise::Nothing);
    }
}
