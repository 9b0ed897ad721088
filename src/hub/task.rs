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

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};

use crate::sys::StackOwner;
use crate::time::timers::TimerKey;

/// What a greenlet hands the hub when it switches out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// Still runnable: put it at the back of the run queue.
    Yield,
    /// Parked: whoever holds its [`Waker`] makes it runnable again.
    Park,
}

pub(crate) type Coro = Coroutine<(), Suspend, (), DefaultStack>;
pub(crate) type GreenletYielder = Yielder<(), Suspend>;

/// The hub's handle on a greenlet (or on the root context).
pub(crate) type TaskRef = Rc<dyn Task>;

/// The type-erased side of a greenlet.
pub(crate) trait Task {
    fn header(&self) -> &Header;
    /// Builds the coroutine that runs the greenlet's closure on `stack`.
    fn start(self: Rc<Self>, stack: DefaultStack) -> Coro;
    /// Drops the closure of a greenlet that never ran and records it as killed.
    fn cancel(&self);
    /// Records that the greenlet could not start because no stack could be had.
    fn fail_to_start(&self, error: io::Error);
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
    /// The `with_timeout` scope with this id ran out of time.
    Timeout(u64),
}

impl Interrupt {
    /// Two interrupts pending at once: a kill wins; of two timeouts the outer
    /// one (the older id) wins, since unwinding to it passes the inner one.
    pub(crate) fn merge(self, other: Interrupt) -> Interrupt {
        match (self, other) {
            (Interrupt::Timeout(a), Interrupt::Timeout(b)) => Interrupt::Timeout(a.min(b)),
            _ => Interrupt::Kill,
        }
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

/// The scheduling state of one greenlet. Only the hub's thread touches it.
pub(crate) struct Header {
    /// Identity and guard page, read by the stack-overflow handler.
    pub(crate) owner: StackOwner,
    pub(crate) state: Cell<State>,
    /// Whether a coroutine was ever built (the closure has been handed to it).
    pub(crate) started: Cell<bool>,
    /// Bumped on every wake-up, so a [`Waker`] from an earlier park is inert.
    pub(crate) park_gen: Cell<u32>,
    pub(crate) interrupt: Cell<Option<Interrupt>>,
    /// The hub raised an interrupt in this task and the unwind may still be
    /// going on (cleared once `thread::panicking()` is false again).
    pub(crate) unwinding: Cell<bool>,
    /// The timer that starts a `spawn_later` greenlet, until it fires.
    pub(crate) start_timer: Cell<Option<TimerKey>>,
    pub(crate) wait_on: Cell<WaitOn>,
    pub(crate) coroutine: RefCell<Option<Coro>>,
    /// Set when the coroutine starts; valid while it runs (see `Hub::suspend`).
    pub(crate) yielder: Cell<*const GreenletYielder>,
    /// This greenlet's key in the hub's table of live greenlets.
    pub(crate) slab_key: Cell<usize>,
    pub(crate) joiners: RefCell<Joiners>,
    /// This task's `greenlet_local!` values, keyed by their key's address.
    pub(crate) locals: RefCell<Vec<(usize, Rc<dyn Any>)>>,
}

impl Header {
    pub(crate) fn new(id: u64, name: Option<String>, stack_size: usize) -> Header {
        Header {
            owner: StackOwner {
                id,
                name,
                stack_size,
                guard_start: Cell::new(0),
            },
            state: Cell::new(State::Runnable),
            started: Cell::new(false),
            park_gen: Cell::new(0),
            interrupt: Cell::new(None),
            unwinding: Cell::new(false),
            start_timer: Cell::new(None),
            wait_on: Cell::new(WaitOn::Nothing),
            coroutine: RefCell::new(None),
            yielder: Cell::new(std::ptr::null()),
            slab_key: Cell::new(usize::MAX),
            joiners: RefCell::new(Joiners::default()),
            locals: RefCell::new(Vec::new()),
        }
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
    pub(crate) fn waker(&self) -> Waker {
        Waker {
            key: self.slab_key.get(),
            id: self.id(),
            park: self.park_gen.get(),
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

/// The greenlets waiting for one greenlet to finish: almost always one, so
/// the first needs no allocation.
#[derive(Default)]
pub(crate) struct Joiners {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Joiners {
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    pub(crate) fn remove(&mut self, waker: &Waker) {
        if self.first == Some(*waker) {
            self.first = self.rest.pop();
        } else if !self.rest.is_empty() {
            self.rest.retain(|w| w != waker);
        }
    }

    pub(crate) fn wake_all(self, mut wake: impl FnMut(Waker)) {
        if let Some(first) = self.first {
            wake(first);
        }
        if !self.rest.is_empty() {
            self.rest.into_iter().for_each(wake);
        }
    }
}

/// The root context as a task: it parks and wakes like a greenlet, but runs
/// on the thread's own stack and never starts or ends.
pub(crate) struct RootTask {
    pub(crate) header: Header,
}

impl Task for RootTask {
    fn header(&self) -> &Header {
        &self.header
    }

    fn start(self: Rc<Self>, _stack: DefaultStack) -> Coro {
        unreachable!("the root context runs on the thread's own stack")
    }

    fn cancel(&self) {
        unreachable!("the root context cannot be killed")
    }

    fn fail_to_start(&self, _error: io::Error) {
        unreachable!("the root context runs on the thread's own stack")
    }
}
