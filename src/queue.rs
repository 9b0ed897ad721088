//! Queues between greenlets: [`Queue`], [`PriorityQueue`], [`LifoQueue`],
//! [`JoinableQueue`] and the rendezvous [`Channel`] (gevent's `gevent.queue`).
//!
//! Every queue is a cheap `Clone` handle onto one shared queue, usable from
//! greenlets and from the root context of the thread that made it. `get`
//! parks while the queue is empty and `put` while a bounded queue is full;
//! waiters are served first come, first served, and an item or a free slot
//! handed to a waiter belongs to it even before it runs, so a greenlet that
//! asks in between cannot take it. A waiter that is killed or times out hands
//! what it was given to the next one: no item is lost or delivered twice. (An
//! item handed back when no getter is left returns to the head of the queue,
//! even if the queue has filled up meanwhile: `len` may then exceed the
//! capacity until it is taken.)
//!
//! # Examples
//!
//! ```
//! use greenlet::queue::Queue;
//!
//! let tasks = Queue::new();
//! let worker = {
//!     let tasks = tasks.clone();
//!     greenlet::spawn(move || {
//!         let mut done = Vec::new();
//!         loop {
//!             match tasks.get() {
//!                 0 => return done,
//!                 n => done.push(n * 10),
//!             }
//!         }
//!     })
//! };
//! for n in [1, 2, 3, 0] {
//!     tasks.put(n);
//! }
//! assert_eq!(worker.join().unwrap(), [10, 20, 30]);
//! ```

// Layer: coordination. Owns the queues; uses the wait-list (`crate::wait_list`, the hub's).

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::wait_list::{WaitList, deadline_after, try_or_wait};

/// How a queue keeps its items, and so the order it hands them out in.
trait Order<T> {
    type Buffer: Default;
    fn push(buffer: &mut Self::Buffer, item: T);
    fn pop(buffer: &mut Self::Buffer) -> Option<T>;
    /// Puts back an item that was popped but not delivered, so it comes next.
    fn put_back(buffer: &mut Self::Buffer, item: T);
    fn len(buffer: &Self::Buffer) -> usize;
}

/// First in, first out.
struct Fifo;
/// Last in, first out.
struct Lifo;
/// Smallest first.
struct Priority;

impl<T> Order<T> for Fifo {
    type Buffer = VecDeque<T>;
    fn push(buffer: &mut VecDeque<T>, item: T) {
        buffer.push_back(item);
    }
    fn pop(buffer: &mut VecDeque<T>) -> Option<T> {
        buffer.pop_front()
    }
    fn put_back(buffer: &mut VecDeque<T>, item: T) {
        buffer.push_front(item);
    }
    fn len(buffer: &VecDeque<T>) -> usize {
        buffer.len()
    }
}

impl<T> Order<T> for Lifo {
    type Buffer = Vec<T>;
    fn push(buffer: &mut Vec<T>, item: T) {
        buffer.push(item);
    }
    fn pop(buffer: &mut Vec<T>) -> Option<T> {
        buffer.pop()
    }
    fn put_back(buffer: &mut Vec<T>, item: T) {
        buffer.push(item);
    }
    fn len(buffer: &Vec<T>) -> usize {
        buffer.len()
    }
}

impl<T: Ord> Order<T> for Priority {
    type Buffer = BinaryHeap<Reverse<T>>;
    fn push(buffer: &mut BinaryHeap<Reverse<T>>, item: T) {
        buffer.push(Reverse(item));
    }
    fn pop(buffer: &mut BinaryHeap<Reverse<T>>) -> Option<T> {
        buffer.pop().map(|Reverse(item)| item)
    }
    fn put_back(buffer: &mut BinaryHeap<Reverse<T>>, item: T) {
        buffer.push(Reverse(item));
    }
    fn len(buffer: &BinaryHeap<Reverse<T>>) -> usize {
        buffer.len()
    }
}

/// The queue itself, shared by every handle.
struct Shared<T, O: Order<T>> {
    items: RefCell<O::Buffer>,
    /// `usize::MAX` when unbounded; 0 for a rendezvous [`Channel`].
    capacity: usize,
    /// Free slots granted to woken putters that have not filled them yet.
    reserved: Cell<usize>,
    getters: WaitList<T>,
    putters: WaitList<()>,
    /// Items put and not yet marked done (for [`JoinableQueue::join`]).
    unfinished: Cell<usize>,
    /// Items taken and not yet marked done (to catch a `task_done` too many).
    taken: Cell<usize>,
    joiners: WaitList<()>,
    waits: WaitNames,
    _order: PhantomData<O>,
}

/// What a parked getter or putter waits on, for the deadlock message.
struct WaitNames {
    get: &'static str,
    put: &'static str,
}

/// The [`WaitNames`] of the queue type `$Queue`.
macro_rules! wait_names {
    ($Queue:ident) => {
        WaitNames {
            get: concat!(stringify!($Queue), "::get"),
            put: concat!(stringify!($Queue), "::put"),
        }
    };
}

fn checked_capacity(capacity: usize) -> usize {
    assert!(
        capacity > 0,
        "greenlet: a queue bounded to 0 items can never take one; use queue::Channel for a rendezvous"
    );
    capacity
}

/// Writes the method family every queue type has, with its docs.
macro_rules! queue_methods {
    ($Queue:ident, $Order:ty $(, $bound:path)?) => {
        impl<T $(: $bound)?> $Queue<T> {
            #[doc = concat!("An unbounded `", stringify!($Queue), "`: `put` never blocks.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::new();")]
            /// queue.put(1);
            /// assert_eq!(queue.get(), 1);
            /// ```
            pub fn new() -> $Queue<T> {
                $Queue { shared: Rc::new(Shared::new(usize::MAX, wait_names!($Queue))) }
            }

            #[doc = concat!("A `", stringify!($Queue), "` holding at most `capacity` items: `put` parks while it is full.")]
            ///
            /// # Panics
            ///
            /// If `capacity` is 0; a queue that holds nothing is a [`Channel`].
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::bounded(1);")]
            /// queue.put(1);
            /// assert_eq!(queue.try_put(2), Err(2));
            /// ```
            pub fn bounded(capacity: usize) -> $Queue<T> {
                $Queue { shared: Rc::new(Shared::new(checked_capacity(capacity), wait_names!($Queue))) }
            }

            /// Adds `item`, parking while the queue is full. A greenlet
            /// waiting in `get` receives it directly.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::bounded(1);")]
            /// queue.put(1);
            /// let producer = {
            ///     let queue = queue.clone();
            ///     greenlet::spawn(move || queue.put(2)) // parks: the queue is full
            /// };
            /// assert_eq!(queue.get(), 1); // frees the slot for the producer
            /// producer.join().unwrap();
            /// assert_eq!(queue.get(), 2);
            /// ```
            pub fn put(&self, item: T) {
                self.shared.put(item)
            }

            /// Adds `item` if there is room now; otherwise hands it back.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::bounded(1);")]
            /// assert_eq!(queue.try_put(1), Ok(()));
            /// assert_eq!(queue.try_put(2), Err(2));
            /// ```
            pub fn try_put(&self, item: T) -> Result<(), T> {
                self.shared.try_put(item)
            }

            /// Adds `item`, parking at most `timeout` for room; hands it back
            /// if there was none in time.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            ///
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::bounded(1);")]
            /// queue.put(1);
            /// assert_eq!(queue.put_timeout(2, Duration::from_millis(10)), Err(2));
            /// ```
            pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), T> {
                self.shared.put_timeout(item, timeout)
            }

            /// Removes and returns the next item, parking while the queue is empty.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::new();")]
            /// let consumer = {
            ///     let queue = queue.clone();
            ///     greenlet::spawn(move || queue.get()) // parks until an item comes
            /// };
            /// greenlet::yield_now();
            /// queue.put(7);
            /// assert_eq!(consumer.join().unwrap(), 7);
            /// ```
            #[inline]
            pub fn get(&self) -> T {
                self.shared.get()
            }

            /// Removes and returns the next item if there is one now.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::new();")]
            /// assert_eq!(queue.try_get(), None);
            /// queue.put(1);
            /// assert_eq!(queue.try_get(), Some(1));
            /// ```
            pub fn try_get(&self) -> Option<T> {
                self.shared.try_get()
            }

            /// Removes and returns the next item, parking at most `timeout` for one.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            ///
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::<u32>::new();")]
            /// assert_eq!(queue.get_timeout(Duration::from_millis(10)), None);
            /// ```
            pub fn get_timeout(&self, timeout: Duration) -> Option<T> {
                self.shared.get_timeout(timeout)
            }

            /// The number of items in the queue (not counting those already
            /// handed to a waiter that has yet to run).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::new();")]
            /// queue.put(1);
            /// queue.put(2);
            /// assert_eq!(queue.len(), 2);
            /// ```
            pub fn len(&self) -> usize {
                self.shared.len()
            }

            /// True if the queue holds no items.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::<u8>::new();")]
            /// assert!(queue.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.shared.len() == 0
            }

            /// True if a `put` would park: a bounded queue at its capacity.
            /// An unbounded queue is never full.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::bounded(1);")]
            /// assert!(!queue.is_full());
            /// queue.put(1);
            /// assert!(queue.is_full());
            /// ```
            pub fn is_full(&self) -> bool {
                self.shared.is_full()
            }

            /// The most items the queue holds; `None` if unbounded.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("assert_eq!(greenlet::queue::", stringify!($Queue), "::<u8>::bounded(4).capacity(), Some(4));")]
            #[doc = concat!("assert_eq!(greenlet::queue::", stringify!($Queue), "::<u8>::new().capacity(), None);")]
            /// ```
            pub fn capacity(&self) -> Option<usize> {
                self.shared.capacity()
            }

            /// An iterator that removes and yields the items queued now,
            /// without parking; it ends when the queue is empty.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = greenlet::queue::", stringify!($Queue), "::new();")]
            /// queue.put(1);
            /// assert_eq!(queue.drain().collect::<Vec<_>>(), [1]);
            /// assert!(queue.is_empty());
            /// ```
            pub fn drain(&self) -> Drain<'_, T> {
                Drain { queue: &*self.shared }
            }
        }

        impl<T $(: $bound)?> Clone for $Queue<T> {
            fn clone(&self) -> Self {
                $Queue { shared: self.shared.clone() }
            }
        }

        impl<T $(: $bound)?> Default for $Queue<T> {
            fn default() -> Self {
                $Queue::new()
            }
        }

        impl<T $(: $bound)?> fmt::Debug for $Queue<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.shared.debug(stringify!($Queue), f)
            }
        }
    };
}

/// A FIFO queue between greenlets of one thread, unbounded or bounded.
///
/// See the [module docs](self) for how waiters are served. Greenlets never
/// leave their thread, and neither do queue handles (they are not `Send`):
///
/// ```compile_fail
/// let queue = greenlet::queue::Queue::<u32>::new();
/// std::thread::spawn(move || queue.put(1));
/// ```
///
/// # Examples
///
/// ```
/// use greenlet::queue::Queue;
///
/// let queue = Queue::bounded(2);
/// queue.put(1);
/// queue.put(2);
/// assert!(queue.is_full());
/// assert_eq!(queue.try_put(3), Err(3)); // full: the item comes back
/// assert_eq!(queue.get(), 1);
/// ```
pub struct Queue<T> {
    shared: Rc<Shared<T, Fifo>>,
}

queue_methods!(Queue, Fifo);

/// A queue that hands out its smallest item first (as Python's `heapq`).
///
/// # Examples
///
/// ```
/// let jobs = greenlet::queue::PriorityQueue::new();
/// jobs.put((2, "later"));
/// jobs.put((1, "sooner"));
/// jobs.put((3, "last"));
/// assert_eq!(jobs.get(), (1, "sooner"));
/// assert_eq!(jobs.drain().map(|(_, job)| job).collect::<Vec<_>>(), ["later", "last"]);
/// ```
pub struct PriorityQueue<T: Ord> {
    shared: Rc<Shared<T, Priority>>,
}

queue_methods!(PriorityQueue, Priority, Ord);

/// A queue that hands out its newest item first (a stack).
///
/// # Examples
///
/// ```
/// let stack = greenlet::queue::LifoQueue::new();
/// for n in 1..=3 {
///     stack.put(n);
/// }
/// assert_eq!(stack.drain().collect::<Vec<_>>(), [3, 2, 1]);
/// ```
pub struct LifoQueue<T> {
    shared: Rc<Shared<T, Lifo>>,
}

queue_methods!(LifoQueue, Lifo);

/// A FIFO [`Queue`] that also counts work done: each item taken is marked
/// done with [`task_done`](JoinableQueue::task_done), and
/// [`join`](JoinableQueue::join) waits until every item put has been.
///
/// # Examples
///
/// ```
/// use greenlet::queue::JoinableQueue;
///
/// let jobs = JoinableQueue::new();
/// for _ in 0..3 {
///     let jobs = jobs.clone();
///     greenlet::spawn(move || loop {
///         let job: u64 = jobs.get();
///         greenlet::sleep(std::time::Duration::from_millis(job));
///         jobs.task_done();
///     });
/// }
/// for job in [3, 1, 2, 5] {
///     jobs.put(job);
/// }
/// jobs.join(); // every job was taken and marked done
/// assert!(jobs.is_empty());
/// ```
pub struct JoinableQueue<T> {
    shared: Rc<Shared<T, Fifo>>,
}

queue_methods!(JoinableQueue, Fifo);

impl<T> JoinableQueue<T> {
    /// Marks one taken item as handled. When every item put has been,
    /// greenlets waiting in [`join`](JoinableQueue::join) return.
    ///
    /// # Panics
    ///
    /// If called more times than items were taken from the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::queue::JoinableQueue::new();
    /// queue.put(1);
    /// queue.get();
    /// queue.task_done();
    /// queue.join(); // returns at once: nothing is unfinished
    /// ```
    pub fn task_done(&self) {
        let shared = &self.shared;
        let taken = shared.taken.get();
        assert!(
            taken > 0,
            "greenlet: JoinableQueue::task_done called more times than items were taken"
        );
        shared.taken.set(taken - 1);
        let unfinished = shared.unfinished.get() - 1;
        shared.unfinished.set(unfinished);
        if unfinished == 0 {
            shared.joiners.grant_all(|| ());
        }
    }

    /// Parks until every item put has been taken and marked done.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::queue::JoinableQueue::new();
    /// let worker = {
    ///     let queue = queue.clone();
    ///     greenlet::spawn(move || {
    ///         while let Some(_job) = queue.try_get() {
    ///             queue.task_done();
    ///         }
    ///     })
    /// };
    /// queue.put("a");
    /// queue.put("b");
    /// queue.join();
    /// assert!(worker.is_finished());
    /// ```
    pub fn join(&self) {
        while self.shared.unfinished.get() > 0 {
            self.shared.joiners.wait("JoinableQueue::join", None);
        }
    }

    /// The number of items put and not yet marked done.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::queue::JoinableQueue::new();
    /// queue.put(1);
    /// assert_eq!(queue.unfinished(), 1);
    /// queue.get();
    /// queue.task_done();
    /// assert_eq!(queue.unfinished(), 0);
    /// ```
    pub fn unfinished(&self) -> usize {
        self.shared.unfinished.get()
    }
}

/// The iterator of `drain` on every queue type.
///
/// # Examples
///
/// ```
/// let queue = greenlet::queue::Queue::new();
/// queue.put(1);
/// let mut drain = queue.drain();
/// assert_eq!(drain.next(), Some(1));
/// assert_eq!(drain.next(), None);
/// ```
pub struct Drain<'a, T> {
    queue: &'a dyn TryGet<T>,
}

/// What [`Drain`] needs of a queue, whatever its order.
trait TryGet<T> {
    fn try_get(&self) -> Option<T>;
}

impl<T, O: Order<T>> TryGet<T> for Shared<T, O> {
    fn try_get(&self) -> Option<T> {
        Shared::try_get(self)
    }
}

impl<T> Iterator for Drain<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.queue.try_get()
    }
}

impl<T> fmt::Debug for Drain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").finish_non_exhaustive()
    }
}

impl<T, O: Order<T>> Shared<T, O> {
    fn new(capacity: usize, waits: WaitNames) -> Shared<T, O> {
        Shared {
            waits,
            items: RefCell::new(O::Buffer::default()),
            capacity,
            reserved: Cell::new(0),
            getters: WaitList::new(),
            putters: WaitList::new(),
            unfinished: Cell::new(0),
            taken: Cell::new(0),
            joiners: WaitList::new(),
            _order: PhantomData,
        }
    }

    fn len(&self) -> usize {
        O::len(&self.items.borrow())
    }

    fn capacity(&self) -> Option<usize> {
        (self.capacity != usize::MAX).then_some(self.capacity)
    }

    fn is_full(&self) -> bool {
        self.free_slots() == 0 && !self.getters.has_waiters()
    }

    fn put(&self, item: T) {
        if let Err(item) = self.try_put(item) {
            let put = self.put_slow(item, None);
            debug_assert!(
                put.is_ok(),
                "a put without deadline waits until it succeeds"
            );
        }
    }

    #[inline(always)]
    fn get(&self) -> T {
        match self.try_get() {
            Some(item) => item,
            None => self
                .get_slow(None)
                .expect("a get without deadline waits until it has an item"),
        }
    }

    fn get_timeout(&self, timeout: Duration) -> Option<T> {
        try_or_wait(
            timeout,
            || self.try_get(),
            |deadline| self.get_slow(deadline),
        )
    }

    fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), T> {
        match self.try_put(item) {
            Ok(()) => Ok(()),
            Err(item) if timeout.is_zero() => Err(item),
            Err(item) => self.put_slow(item, deadline_after(timeout)),
        }
    }

    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("getters", &self.getters.waiting())
            .field("putters", &self.putters.waiting())
            .finish()
    }

    /// Slots a putter may fill now. A rendezvous queue has a slot for each
    /// getter waiting for an item.
    fn free_slots(&self) -> usize {
        let room = if self.capacity == 0 {
            self.getters.waiting()
        } else {
            self.capacity
        };
        room.saturating_sub(O::len(&self.items.borrow()) + self.reserved.get())
    }

    fn try_put(&self, item: T) -> Result<(), T> {
        // In a rendezvous each woken putter needs a getter of its own: a
        // newcomer may take only a getter that none of them is promised.
        let item = if self.capacity != 0 || self.getters.waiting() > self.reserved.get() {
            match self.getters.grant(item) {
                Ok(()) => return self.accepted(),
                Err(item) => item,
            }
        } else {
            item
        };
        if self.capacity != 0 && self.free_slots() > 0 {
            O::push(&mut self.items.borrow_mut(), item);
            return self.accepted();
        }
        Err(item)
    }

    fn put_slow(&self, mut item: T, deadline: Option<Instant>) -> Result<(), T> {
        loop {
            let waiter = self.putters.enqueue(|()| self.release_slot());
            if waiter.park(self.waits.put, deadline).is_none() {
                return Err(item);
            }
            self.reserved.set(self.reserved.get() - 1);
            item = match self.getters.grant(item) {
                Ok(()) => {
                    // Handed straight to a getter: the slot we were
                    // granted is still free, so it goes to the next putter.
                    self.offer_slot();
                    return self.accepted();
                }
                Err(item) => item,
            };
            if self.capacity != 0 {
                O::push(&mut self.items.borrow_mut(), item);
                return self.accepted();
            }
            // A rendezvous whose getter left before we ran: wait for the next.
        }
    }

    fn try_get(&self) -> Option<T> {
        let item = O::pop(&mut self.items.borrow_mut())?;
        self.offer_slot();
        Some(self.count_taken(item))
    }

    #[inline(always)]
    fn get_slow(&self, deadline: Option<Instant>) -> Option<T> {
        let waiter = self.getters.enqueue(|item| self.redeliver(item));
        if self.capacity == 0 {
            // A rendezvous putter may now come. (A bounded queue whose getter
            // waits is empty, so it has no putter waiting for a slot.)
            self.offer_slot();
        }
        let item = waiter.park(self.waits.get, deadline)?;
        Some(self.count_taken(item))
    }

    /// Grants a free slot to the longest-waiting putter, if there are both.
    fn offer_slot(&self) {
        if self.putters.has_waiters() && self.free_slots() > 0 {
            self.reserved.set(self.reserved.get() + 1);
            let granted = self.putters.grant(());
            debug_assert!(granted.is_ok());
        }
    }

    /// A putter granted a slot left without filling it.
    fn release_slot(&self) {
        self.reserved.set(self.reserved.get() - 1);
        self.offer_slot();
    }

    /// An item granted to a getter that left without it goes to the next
    /// getter, or back to the head of the queue.
    fn redeliver(&self, item: T) {
        if let Err(item) = self.getters.grant(item) {
            O::put_back(&mut self.items.borrow_mut(), item);
        }
    }

    /// Counts an item put, for `JoinableQueue::join`.
    fn accepted(&self) -> Result<(), T> {
        self.unfinished.set(self.unfinished.get() + 1);
        Ok(())
    }

    fn count_taken(&self, item: T) -> T {
        self.taken.set(self.taken.get() + 1);
        item
    }
}

/// A rendezvous: [`put`](Channel::put) parks until a greenlet in
/// [`get`](Channel::get) has taken the item (gevent's `Channel`).
///
/// # Examples
///
/// ```
/// use greenlet::queue::Channel;
///
/// let channel = Channel::new();
/// let receiver = {
///     let channel = channel.clone();
///     greenlet::spawn(move || channel.get())
/// };
/// channel.put("handed over"); // returns once the receiver has it
/// assert_eq!(receiver.join().unwrap(), "handed over");
/// ```
pub struct Channel<T> {
    shared: Rc<Shared<T, Fifo>>,
}

impl<T> Channel<T> {
    /// A new channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let channel = greenlet::queue::Channel::<String>::new();
    /// assert_eq!(channel.waiting_getters(), 0);
    /// ```
    pub fn new() -> Channel<T> {
        Channel {
            shared: Rc::new(Shared::new(0, wait_names!(Channel))),
        }
    }

    /// Hands `item` to a greenlet in [`get`](Channel::get), parking until
    /// one takes it.
    ///
    /// # Examples
    ///
    /// ```
    /// let channel = greenlet::queue::Channel::new();
    /// let sender = {
    ///     let channel = channel.clone();
    ///     greenlet::spawn(move || channel.put(1))
    /// };
    /// assert_eq!(channel.get(), 1);
    /// sender.join().unwrap();
    /// ```
    pub fn put(&self, item: T) {
        self.shared.put(item)
    }

    /// Hands `item` over only if a greenlet is waiting in `get` now;
    /// otherwise gives it back.
    ///
    /// # Examples
    ///
    /// ```
    /// let channel = greenlet::queue::Channel::new();
    /// assert_eq!(channel.try_put(1), Err(1)); // nobody is waiting
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), T> {
        self.shared.try_put(item)
    }

    /// Hands `item` over, parking at most `timeout` for a taker; gives it
    /// back if none came.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let channel = greenlet::queue::Channel::new();
    /// assert_eq!(channel.put_timeout(1, Duration::from_millis(5)), Err(1));
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), T> {
        self.shared.put_timeout(item, timeout)
    }

    /// Takes an item from a greenlet in [`put`](Channel::put), parking until
    /// one comes.
    ///
    /// # Examples
    ///
    /// ```
    /// let channel = greenlet::queue::Channel::new();
    /// let sender = {
    ///     let channel = channel.clone();
    ///     greenlet::spawn(move || channel.put("x"))
    /// };
    /// assert_eq!(channel.get(), "x");
    /// sender.join().unwrap();
    /// ```
    pub fn get(&self) -> T {
        self.shared.get()
    }

    /// Takes an item, parking at most `timeout` for a sender.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let channel = greenlet::queue::Channel::<u8>::new();
    /// assert_eq!(channel.get_timeout(Duration::from_millis(5)), None);
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Option<T> {
        self.shared.get_timeout(timeout)
    }

    /// The number of greenlets parked in `get`.
    ///
    /// # Examples
    ///
    /// ```
    /// let channel = greenlet::queue::Channel::<u8>::new();
    /// let getter = {
    ///     let channel = channel.clone();
    ///     greenlet::spawn(move || channel.get())
    /// };
    /// greenlet::yield_now();
    /// assert_eq!(channel.waiting_getters(), 1);
    /// channel.put(0);
    /// getter.join().unwrap();
    /// ```
    pub fn waiting_getters(&self) -> usize {
        self.shared.getters.waiting()
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Channel::new()
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("getters", &self.shared.getters.waiting())
            .field("putters", &self.shared.putters.waiting())
            .finish()
    }
}
