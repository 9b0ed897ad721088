//! Channels between threads: [`unbounded`] and [`bounded`], multi-producer
//! and multi-consumer, with crossbeam-channel's methods and error types.
//!
//! The handles are `Send + Sync` (for `T: Send`) and `Clone`: any number of
//! threads and greenlets may send and receive on one channel. A call that
//! must wait blocks only its caller:
//!
//! - in a greenlet, it parks the greenlet and the hub runs the others; a
//!   kill or [`with_timeout`](crate::with_timeout) unwinds out of the wait,
//!   as from any other;
//! - in the root context of a thread that runs a hub, it parks the root
//!   context, and the hub runs the thread's greenlets meanwhile;
//! - in a thread that has never used greenlets, it blocks the thread.
//!
//! A sender on another thread wakes the waiting hub through its poller, so a
//! hub whose greenlets all wait on channels sleeps in the kernel until an item
//! comes. Waiting calls are woken first come, first served, and no item is
//! lost or received twice, kills and timeouts included:
//!
//! - A channel with room (`unbounded`, or `bounded` above 0) keeps its items
//!   in a queue of their own until they are taken: a call that finds an item
//!   or room takes no lock of the waiters, and a sender and a receiver on two
//!   threads do not take turns for every item. A woken receiver takes the
//!   next item when it runs; a receiver that asks in between may take it
//!   first (the woken one then waits again). A woken call that is killed or times out wakes the next
//!   waiter in its place.
//! - A rendezvous channel (`bounded(0)`) hands each item to a waiting
//!   receiver, to which it belongs even before it runs. A receiver that is
//!   killed or times out after an item was handed to it passes the item to
//!   the next waiting receiver, or back to the head of the channel (whose
//!   `len` is then 1 until it is taken).
//!
//! A channel is disconnected when every [`Sender`] or every [`Receiver`] is
//! dropped. Receivers then take what is left and get [`RecvError`]; senders
//! get their item back in a [`SendError`], and what was left in the channel
//! is dropped with the last receiver. Every waiting call of the side that
//! is still there wakes to see it.
//!
//! Greenlets never move between threads: to hand work to a greenlet of
//! another hub, send it through a channel. A greenlet that waits on a
//! channel counts as work that another thread may still wake, so a hub whose
//! greenlets wait only on channels that nothing will ever send on waits for
//! ever rather than reporting a deadlock.
//!
//! No lock is held while a greenlet switches, and no user code (an item's
//! `Drop`) runs under the channel's lock.
//!
//! # Examples
//!
//! Work from a plain thread to greenlets, and results back:
//!
//! ```
//! use greenlet::channel;
//!
//! let (jobs, inbox) = channel::bounded::<u64>(16);
//! let (results, outbox) = channel::unbounded();
//! let producer = std::thread::spawn(move || {
//!     for n in 1..=100 {
//!         jobs.send(n).unwrap();
//!     }
//!     // Dropping `jobs` disconnects the channel: the workers' loops end.
//! });
//! let workers: Vec<_> = (0..4)
//!     .map(|_| {
//!         let inbox = inbox.clone();
//!         let results = results.clone();
//!         greenlet::spawn(move || {
//!             for n in inbox.iter() {
//!                 results.send(n * n).unwrap();
//!             }
//!         })
//!     })
//!     .collect();
//! drop(results);
//! greenlet::joinall(workers);
//! producer.join().unwrap();
//! let total: u64 = outbox.iter().sum();
//! assert_eq!(total, (1..=100).map(|n| n * n).sum());
//! ```

// Layer: coordination. Owns the channels; uses the hub (its cross-thread
// wake-ups) and time (timers for the timed waits).

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use slab::Slab;

use crate::hub::{ExternalWait, ExternalWaker, Hub, external_signal, try_with_hub};
use crate::time::{CancelTimer, deadline_after};

/// Makes a channel with no bound: `send` never waits.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::unbounded();
/// for n in 0..1000 {
///     tx.send(n).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.capacity(), None);
/// assert_eq!(rx.recv(), Ok(0));
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    with_capacity(None)
}

/// Makes a channel that holds at most `cap` items: `send` waits while it is
/// full. With `cap` 0 it is a rendezvous channel: each `send` waits until a
/// receiver takes its item.
///
/// # Examples
///
/// ```
/// use greenlet::channel::{self, TrySendError};
///
/// let (tx, rx) = channel::bounded(1);
/// tx.send('a').unwrap();
/// assert_eq!(tx.try_send('b'), Err(TrySendError::Full('b')));
/// assert_eq!(rx.recv(), Ok('a'));
///
/// // A rendezvous: the sender waits for the receiver.
/// let (tx, rx) = channel::bounded(0);
/// let sender = std::thread::spawn(move || tx.send("hello").unwrap());
/// assert_eq!(rx.recv(), Ok("hello"));
/// sender.join().unwrap();
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    with_capacity(Some(cap))
}

fn with_capacity<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(match cap {
        Some(0) => Flavor::Handoff(Chan {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                cap,
                senders: 1,
                receivers: 1,
                waiting: Slab::new(),
                receivers_waiting: VecDeque::new(),
                senders_waiting: VecDeque::new(),
            }),
        }),
        _ => Flavor::Queue(Queue::new(cap)),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

// ---- the shared state ----------------------------------------------------

/// The two ways a channel keeps its items.
///
/// A rendezvous channel (`bounded(0)`) passes each item from hand to hand
/// under one lock ([`Chan`]). Every other channel keeps its items apart
/// from its waiters ([`Queue`]): a call that finds an item (or room) takes
/// no lock of the waiters, a producer and a consumer on two threads do not
/// take turns for every item, and only calls that must wait (and the calls
/// that wake them) take the lock of the waiters.
#[allow(clippy::large_enum_variant)] // one per channel, behind its `Arc`
enum Flavor<T> {
    Handoff(Chan<T>),
    Queue(Queue<T>),
}

/// A rendezvous channel: items, waiters and handle counts under one lock.
struct Chan<T> {
    inner: Mutex<Inner<T>>,
}

impl<T> Chan<T> {
    /// The state, whatever a panic elsewhere left: no user code runs under
    /// the lock, so it is consistent at every unlock.
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// # Invariant
/// Every key in `receivers_waiting` and `senders_waiting` is a `waiting`
/// entry in state [`State::Waiting`], in arrival order; an entry leaves
/// those queues when it is granted or disconnected, and leaves `waiting`
/// only when its own caller takes it out. While receivers wait, `queue` is
/// empty (an item for a waiting receiver goes to it, not to the queue).
struct Inner<T> {
    queue: VecDeque<T>,
    /// `None`: unbounded.
    cap: Option<usize>,
    senders: usize,
    receivers: usize,
    /// The blocked calls of both sides.
    waiting: Slab<Entry<T>>,
    receivers_waiting: VecDeque<usize>,
    senders_waiting: VecDeque<usize>,
}

/// One blocked call.
struct Entry<T> {
    /// A waiting sender's item until a receiver takes it; a waiting
    /// receiver's once a sender hands one over.
    item: Option<T>,
    state: State,
    /// Taken by whoever changes `state` from `Waiting`, and fired after the
    /// lock is released.
    wake: Option<Wake>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    /// A receiver was handed an item, or a sender's item was taken.
    Granted,
    /// The other side is gone.
    Disconnected,
}

/// How a blocked call is woken.
enum Wake {
    /// A thread without a hub, blocked in `thread::park`.
    Thread(Thread),
    /// A greenlet, or the root context of a hub, parked on an
    /// [`ExternalWait`].
    Hub(ExternalWaker),
}

impl Wake {
    fn fire(self) {
        WOKE_ANOTHER.with(|woke| woke.set(true));
        match self {
            Wake::Thread(thread) => {
                crate::hub::note_woke_another_thread();
                thread.unpark();
            }
            Wake::Hub(waker) => waker.wake(),
        }
    }
}

thread_local! {
    /// This thread woke a blocked call since it last blocked itself: a
    /// reply is likely soon, so a plain thread watches for it before it
    /// parks (see [`park_until`]).
    static WOKE_ANOTHER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long a plain thread that has just woken someone watches for its own
/// wake-up before it parks, yielding between looks.
const WATCH: Duration = Duration::from_micros(20);

/// [`Queue::room_soon`]'s looks: the first `ROOM_SPINS + 1` after spinning
/// 1, 2, 4, … times, the rest (to `ROOM_YIELDS`) after yielding the
/// processor (crossbeam-utils' `Backoff` has the same steps).
const ROOM_SPINS: u32 = 6;
const ROOM_YIELDS: u32 = 10;

/// The waking half of [`Wake`], kept by the blocked call.
enum Blocker {
    Thread,
    Hub(ExternalWait),
}

impl Blocker {
    /// A blocker for this thread, and its wake for the channel to keep.
    fn new() -> (Blocker, Wake) {
        if try_with_hub(|_| ()).is_some() {
            let (waker, wait) = external_signal();
            (Blocker::Hub(wait), Wake::Hub(waker))
        } else {
            (Blocker::Thread, Wake::Thread(thread::current()))
        }
    }
}

/// Which queue of blocked calls an entry is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Send,
    Recv,
}

impl<T> Inner<T> {
    fn is_full(&self) -> bool {
        self.cap.is_some_and(|cap| self.queue.len() >= cap)
    }

    /// Hands `item` to the first waiting receiver (whose wake is returned),
    /// or gives it back if none waits.
    fn hand_to_receiver(&mut self, item: T) -> Result<Wake, T> {
        let Some(key) = self.receivers_waiting.pop_front() else {
            return Err(item);
        };
        let entry = &mut self.waiting[key];
        entry.item = Some(item);
        entry.state = State::Granted;
        Ok(entry.wake.take().expect("a waiting entry has its wake"))
    }

    /// Takes the first waiting sender's item (and returns its wake).
    fn take_from_sender(&mut self) -> Option<(T, Wake)> {
        let key = self.senders_waiting.pop_front()?;
        let entry = &mut self.waiting[key];
        entry.state = State::Granted;
        let item = entry.item.take().expect("a waiting sender has its item");
        Some((
            item,
            entry.wake.take().expect("a waiting entry has its wake"),
        ))
    }

    /// What a receiver gets without waiting, and the sender to wake if an
    /// item or a slot passed from a waiting sender.
    fn try_recv(&mut self) -> (Result<T, TryRecvError>, Option<Wake>) {
        if let Some(item) = self.queue.pop_front() {
            // An item handed back by a receiver that left: it goes first.
            // A sender waiting meanwhile keeps waiting for a receiver of
            // its own unless that made room.
            let woken = if self.is_full() {
                None
            } else {
                self.take_from_sender().map(|(next, wake)| {
                    self.queue.push_back(next);
                    wake
                })
            };
            return (Ok(item), woken);
        }
        // A rendezvous (or a sender waiting for any other reason): take its
        // item directly.
        if let Some((item, wake)) = self.take_from_sender() {
            return (Ok(item), Some(wake));
        }
        if self.senders == 0 {
            (Err(TryRecvError::Disconnected), None)
        } else {
            (Err(TryRecvError::Empty), None)
        }
    }

    /// What a sender gets without waiting, and the receiver to wake.
    fn try_send(&mut self, item: T) -> (Result<(), TrySendError<T>>, Option<Wake>) {
        if self.receivers == 0 {
            return (Err(TrySendError::Disconnected(item)), None);
        }
        match self.hand_to_receiver(item) {
            Ok(wake) => (Ok(()), Some(wake)),
            Err(item) if self.is_full() => (Err(TrySendError::Full(item)), None),
            Err(item) => {
                self.queue.push_back(item);
                (Ok(()), None)
            }
        }
    }

    /// Adds a blocked call; returns its key.
    fn block(&mut self, side: Side, item: Option<T>, wake: Wake) -> usize {
        let key = self.waiting.insert(Entry {
            item,
            state: State::Waiting,
            wake: Some(wake),
        });
        match side {
            Side::Send => self.senders_waiting.push_back(key),
            Side::Recv => self.receivers_waiting.push_back(key),
        }
        key
    }

    fn state(&self, key: usize) -> State {
        self.waiting[key].state
    }

    /// Takes a blocked call's entry out, whatever its state (a waiting one
    /// leaves its queue).
    fn unblock(&mut self, side: Side, key: usize) -> Entry<T> {
        let entry = self.waiting.remove(key);
        if entry.state == State::Waiting {
            let queue = match side {
                Side::Send => &mut self.senders_waiting,
                Side::Recv => &mut self.receivers_waiting,
            };
            queue.retain(|&k| k != key);
        }
        entry
    }

    /// Marks every blocked call of `side` disconnected; returns their wakes.
    fn disconnect(&mut self, side: Side) -> Vec<Wake> {
        let keys = match side {
            Side::Send => std::mem::take(&mut self.senders_waiting),
            Side::Recv => std::mem::take(&mut self.receivers_waiting),
        };
        keys.into_iter()
            .filter_map(|key| {
                let entry = &mut self.waiting[key];
                entry.state = State::Disconnected;
                entry.wake.take()
            })
            .collect()
    }
}

// ---- channels with room: items apart from the waiters ----------------------

/// A channel with room (bounded above 0, or unbounded): the items in a queue
/// of their own (a bounded channel's lock-free, crossbeam's `ArrayQueue`; an
/// unbounded one's in two halves, [`Unbounded`]), and only the calls that
/// wait under a lock.
///
/// A call that must wait counts itself in `recv_waiting` or `send_waiting`
/// (under the lock), then looks at the queue once more before it parks; a
/// call that pushes an item (or frees room) reads that count after it did
/// so, and wakes the first waiter if there is one. For the unbounded queue
/// the read is a plain load under its lock (see [`Unbounded`]); otherwise
/// both the count and the read are read-modify-writes of the counter
/// (`AcqRel`; the read adds 0), so one of the two comes first in the
/// counter's order: if the pusher's comes first, the waiter's acquires it
/// and sees the item; if the waiter's does, the pusher sees the count. No
/// wake-up is lost. (A locked add, cheaper than the `SeqCst` fence and load
/// it replaced.) A woken call tries again; a call that was woken but leaves
/// without trying (killed, timed out) passes the wake-up on to the next
/// waiter.
struct Queue<T> {
    items: Items<T>,
    /// `None`: unbounded.
    cap: Option<usize>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// The last sender is gone: receivers take what is left.
    senders_gone: AtomicBool,
    /// The last receiver is gone: sends fail.
    receivers_gone: AtomicBool,
    waiters: Mutex<Waiters>,
    /// Entries of `waiters.receivers` (under the lock; read without it).
    recv_waiting: AtomicUsize,
    /// Entries of `waiters.senders` (under the lock; read without it).
    send_waiting: AtomicUsize,
}

enum Items<T> {
    Bounded(ArrayQueue<T>),
    Unbounded(Unbounded<T>),
}

/// An unbounded channel's items, in two halves: senders append to `back`;
/// receivers take from `front`, and a receiver that finds `front` empty
/// swaps the two (under both locks: `front`'s first, always), so it takes a
/// whole batch at once and hands the senders its emptied buffer back.
///
/// A sender's call is one uncontended lock, an append into memory already
/// there, and an unlock: no allocation once the buffers have grown to the
/// largest batch, and the receivers touch `back` once a batch, not once an
/// item. (crossbeam-queue's `SegQueue`, used here before, allocates a
/// block every 31 items, freed on the receiving thread, and needed a
/// locked add after each push to see a waiting receiver: 1.1–1.2× the
/// time of crossbeam-channel for 10 million items from a thread to a hub.)
/// No user code runs under either lock, and no lock is held across a switch.
/// The price of the locks: a thread that takes one while another holds it
/// waits (a hub's thread too, with all its greenlets) — for an append, a
/// swap, or a buffer's growth (a copy of the backlog; amortized), or longer
/// if the holder is preempted in that moment. A receiver takes `back` once
/// a batch, and a sender only for its own append.
///
/// The receivers' waiting count is read under `back`'s lock ([`push`]);
/// a receiver about to park counts itself, then looks at both halves under
/// their locks. The two critical sections on `back` come in one order: if
/// the receiver's comes first, its count happened before the sender's read;
/// if the sender's does, its item happened before the receiver's look. So
/// either the sender sees the waiter, or the waiter sees the item.
///
/// [`push`]: Unbounded::push
struct Unbounded<T> {
    front: Padded<Mutex<Front<T>>>,
    back: Padded<Mutex<VecDeque<T>>>,
}

/// The receivers' half of [`Unbounded`].
struct Front<T> {
    items: VecDeque<T>,
    /// How many items the last swap brought; `usize::MAX` once a receiver
    /// has found both halves empty since.
    last_batch: usize,
}

/// Receivers swapping fewer items than this twice in a row, with no look
/// that found the channel empty between, are at the senders' heels (see
/// [`Unbounded::pop`]).
const HEELS_BATCH: usize = 256;
/// How long receivers at the senders' heels let items gather before they
/// swap.
const HEELS_PAUSE: Duration = Duration::from_micros(1);

/// Lets [`HEELS_PAUSE`] pass, spinning (see [`Unbounded::pop`]).
#[cold]
#[inline(never)]
fn pause_at_heels() {
    let until = Instant::now() + HEELS_PAUSE;
    while Instant::now() < until {
        for _ in 0..8 {
            std::hint::spin_loop();
        }
    }
}

/// On a cache line (pair) of its own: the two halves are taken by different
/// threads.
#[repr(align(128))]
struct Padded<T>(T);

/// A buffer given back to the senders keeps its memory unless it holds more
/// than this many bytes (a burst long past).
const KEEP_BYTES: usize = 1 << 20;

impl<T> Unbounded<T> {
    fn new() -> Unbounded<T> {
        Unbounded {
            front: Padded(Mutex::new(Front {
                items: VecDeque::new(),
                last_batch: usize::MAX,
            })),
            back: Padded(Mutex::new(VecDeque::new())),
        }
    }

    fn front(&self) -> MutexGuard<'_, Front<T>> {
        self.front.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn back(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.back.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `item`; true if `waiting` (the receivers' waiting count,
    /// read under the lock) says a receiver waits.
    fn push(&self, item: T, waiting: &AtomicUsize) -> bool {
        let mut back = self.back();
        back.push_back(item);
        waiting.load(Ordering::Relaxed) != 0
    }

    /// Takes the first item; if `front` is empty, swaps the halves first.
    ///
    /// Receivers that have caught up with the senders would swap every few
    /// items, taking `back`'s lock about as often as the senders do. The
    /// lock's line then crosses between the threads every few items. A
    /// stream of 10 million items from a thread to a hub took 2–5× as long
    /// as one whose receiver lags, as soon as the sender did a few
    /// nanoseconds of work of its own for each item. So a receiver that
    /// finds only a few items in `back`, right after a swap that brought
    /// only a few (with no look between that found the channel empty), lets
    /// [`HEELS_PAUSE`] pass with no lock held before it swaps. It does so
    /// only if nothing else can use the time: on a plain thread, or on a hub
    /// with no other greenlet to run (the sender may be one of them). A
    /// receiver woken for each item (a reply, a slow stream) finds the
    /// channel empty between items, and never pauses.
    fn pop(&self) -> Option<T> {
        let mut front = self.front();
        if let Some(item) = front.items.pop_front() {
            return Some(item);
        }
        let mut back = self.back();
        if front.last_batch < HEELS_BATCH
            && (1..HEELS_BATCH).contains(&back.len())
            && try_with_hub(Hub::nothing_runnable).unwrap_or(true)
        {
            drop(back);
            drop(front);
            pause_at_heels();
            front = self.front();
            if let Some(item) = front.items.pop_front() {
                return Some(item);
            }
            back = self.back();
        }
        if back.is_empty() {
            front.last_batch = usize::MAX;
            return None;
        }
        let spent = if front.items.capacity().saturating_mul(size_of::<T>()) > KEEP_BYTES {
            std::mem::take(&mut front.items)
        } else {
            VecDeque::new()
        };
        std::mem::swap(&mut front.items, &mut *back);
        drop(back);
        front.last_batch = front.items.len();
        let item = front.items.pop_front();
        drop(front);
        // Freed out of the locks: it holds no items, but may be large.
        drop(spent);
        item
    }

    fn len(&self) -> usize {
        let front = self.front();
        front.items.len() + self.back().len()
    }

    fn is_empty(&self) -> bool {
        let front = self.front();
        front.items.is_empty() && self.back().is_empty()
    }

    /// Everything left, out of the locks (its items are dropped by the
    /// caller, with no lock held).
    fn take_all(&self) -> [VecDeque<T>; 2] {
        let mut front = self.front();
        let front_items = std::mem::take(&mut front.items);
        let back_items = std::mem::take(&mut *self.back());
        [front_items, back_items]
    }
}

/// The calls waiting on a [`Queue`], in arrival order per side.
///
/// # Invariant
/// A key is in `receivers` or `senders` exactly while its entry is
/// `Waiting`; the side's counter in the [`Queue`] is that queue's length.
#[derive(Default)]
struct Waiters {
    entries: Slab<Notice>,
    receivers: VecDeque<usize>,
    senders: VecDeque<usize>,
}

/// One waiting call: `Granted` once it is woken to try again.
struct Notice {
    state: State,
    wake: Option<Wake>,
}

impl<T> Queue<T> {
    fn new(cap: Option<usize>) -> Queue<T> {
        Queue {
            items: match cap {
                Some(cap) => Items::Bounded(ArrayQueue::new(cap)),
                None => Items::Unbounded(Unbounded::new()),
            },
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            senders_gone: AtomicBool::new(false),
            receivers_gone: AtomicBool::new(false),
            waiters: Mutex::new(Waiters::default()),
            recv_waiting: AtomicUsize::new(0),
            send_waiting: AtomicUsize::new(0),
        }
    }

    /// The waiters, whatever a panic elsewhere left (no user code runs
    /// under this lock).
    fn lock(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        match &self.items {
            Items::Bounded(items) => items.len(),
            Items::Unbounded(items) => items.len(),
        }
    }

    fn is_empty(&self) -> bool {
        match &self.items {
            Items::Bounded(items) => items.is_empty(),
            Items::Unbounded(items) => items.is_empty(),
        }
    }

    fn is_full(&self) -> bool {
        match &self.items {
            Items::Bounded(items) => items.is_full(),
            Items::Unbounded(_) => false,
        }
    }

    fn waiting(&self, side: Side) -> &AtomicUsize {
        match side {
            Side::Send => &self.send_waiting,
            Side::Recv => &self.recv_waiting,
        }
    }

    /// Wakes the first waiting call of `side`, if there is one: after an
    /// item came (`Recv`) or room was made (`Send`).
    fn notify(&self, side: Side) {
        // A read-modify-write, not a load: see the type's docs.
        if self.waiting(side).fetch_add(0, Ordering::AcqRel) != 0 {
            self.wake_first(side);
        }
    }

    /// Wakes the first waiting call of `side`, if one is still there.
    fn wake_first(&self, side: Side) {
        let woken = {
            let mut waiters = self.lock();
            let order = match side {
                Side::Send => &mut waiters.senders,
                Side::Recv => &mut waiters.receivers,
            };
            order.pop_front().map(|key| {
                self.waiting(side).fetch_sub(1, Ordering::Relaxed);
                let notice = &mut waiters.entries[key];
                notice.state = State::Granted;
                notice.wake.take().expect("a waiting entry has its wake")
            })
        };
        fire(woken);
    }

    fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        if self.receivers_gone.load(Ordering::Acquire) {
            return Err(TrySendError::Disconnected(item));
        }
        let pushed = match &self.items {
            Items::Bounded(items) => items.push(item),
            Items::Unbounded(items) => {
                // The count is read under the items' lock: see `Unbounded`.
                if items.push(item, &self.recv_waiting) {
                    self.wake_first(Side::Recv);
                }
                return Ok(());
            }
        };
        match pushed {
            Ok(()) => {
                self.notify(Side::Recv);
                Ok(())
            }
            Err(item) => Err(TrySendError::Full(item)),
        }
    }

    fn pop(&self) -> Option<T> {
        let item = match &self.items {
            Items::Bounded(items) => items.pop(),
            Items::Unbounded(items) => items.pop(),
        }?;
        if self.cap.is_some() {
            self.notify(Side::Send);
        }
        Some(item)
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(item) = self.pop() {
            return Ok(item);
        }
        // Gone senders' items are still taken: they were pushed before the
        // flag was set.
        if self.senders_gone.load(Ordering::Acquire) {
            return self.pop().ok_or(TryRecvError::Disconnected);
        }
        Err(TryRecvError::Empty)
    }

    fn send_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut item = item;
        loop {
            item = match self.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(item)) => {
                    return Err(SendTimeoutError::Disconnected(item));
                }
                Err(TrySendError::Full(item)) => item,
            };
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(SendTimeoutError::Timeout(item));
            }
            if self.room_soon() {
                continue;
            }
            // The item stays with its sender while it waits: a killed
            // sender sent nothing.
            self.wait(Side::Send, deadline, "channel::Sender::send", || {
                !self.is_full() || self.receivers_gone.load(Ordering::Acquire)
            });
        }
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.try_recv() {
                Ok(item) => return Ok(item),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
            self.wait(Side::Recv, deadline, "channel::Receiver::recv", || {
                !self.is_empty() || self.senders_gone.load(Ordering::Acquire)
            });
        }
    }

    /// Before a plain thread's sender sleeps for room: looks again a few
    /// times, spinning and then yielding the processor between looks, as
    /// crossbeam-channel's senders do. True if room came (or every receiver
    /// went). A greenlet's sender does not look: its hub has others to run.
    ///
    /// Without it, senders on several threads feeding one bounded channel
    /// slept and were woken once every ~140 items (10 million items, four
    /// threads: 91,000 futex calls against crossbeam's 139).
    fn room_soon(&self) -> bool {
        if try_with_hub(|_| ()).is_some() {
            return false;
        }
        for step in 0..=ROOM_YIELDS {
            if step <= ROOM_SPINS {
                for _ in 0..1u32 << step {
                    std::hint::spin_loop();
                }
            } else {
                thread::yield_now();
            }
            if !self.is_full() || self.receivers_gone.load(Ordering::Acquire) {
                return true;
            }
        }
        false
    }

    /// Counts the caller among `side`'s waiters, then parks it unless
    /// `ready()` (asked after counting) says to try again now, until it is
    /// woken or `deadline` passes.
    fn wait(
        &self,
        side: Side,
        deadline: Option<Instant>,
        what: &'static str,
        ready: impl Fn() -> bool,
    ) {
        let (blocker, wake) = Blocker::new();
        let key = {
            let mut waiters = self.lock();
            let key = waiters.entries.insert(Notice {
                state: State::Waiting,
                wake: Some(wake),
            });
            match side {
                Side::Send => waiters.senders.push_back(key),
                Side::Recv => waiters.receivers.push_back(key),
            }
            // Acquire: a push whose count read came first is seen below.
            self.waiting(side).fetch_add(1, Ordering::AcqRel);
            key
        };
        let leave = Waiting {
            queue: self,
            side,
            key,
        };
        if ready() {
            return; // `leave` passes on a wake-up that came meanwhile
        }
        park_until(&blocker, deadline, what, side == Side::Recv, || {
            self.lock().entries[key].state == State::Waiting
        });
        leave.take();
    }

    /// Takes a waiting call's entry out: returns its state; one still
    /// waiting leaves its side's queue.
    fn unwait(&self, side: Side, key: usize) -> Notice {
        let mut waiters = self.lock();
        let notice = waiters.entries.remove(key);
        if notice.state == State::Waiting {
            let order = match side {
                Side::Send => &mut waiters.senders,
                Side::Recv => &mut waiters.receivers,
            };
            order.retain(|&k| k != key);
            self.waiting(side).fetch_sub(1, Ordering::Relaxed);
        }
        notice
    }

    /// The last handle of `side` going disconnects the channel: every
    /// waiting call of the other side wakes to see it.
    fn drop_handle(&self, side: Side) {
        let (handles, gone, other) = match side {
            Side::Send => (&self.senders, &self.senders_gone, Side::Recv),
            Side::Recv => (&self.receivers, &self.receivers_gone, Side::Send),
        };
        if handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        gone.store(true, Ordering::Release);
        let woken: Vec<Wake> = {
            let mut waiters = self.lock();
            let keys = std::mem::take(match other {
                Side::Send => &mut waiters.senders,
                Side::Recv => &mut waiters.receivers,
            });
            // A read-modify-write too, like every change of the count.
            self.waiting(other).fetch_sub(keys.len(), Ordering::AcqRel);
            keys.into_iter()
                .filter_map(|key| {
                    let notice = &mut waiters.entries[key];
                    notice.state = State::Disconnected;
                    notice.wake.take()
                })
                .collect()
        };
        fire(woken);
        if side == Side::Recv {
            // Nobody can take what is left: drop it now (as crossbeam does),
            // so that what the items hold (a socket, a buffer) goes too.
            match &self.items {
                Items::Bounded(items) => while items.pop().is_some() {},
                Items::Unbounded(items) => drop(items.take_all()),
            }
        }
    }
}

/// A call counted among a [`Queue`]'s waiters: takes its entry out however
/// the wait ends. A call woken that leaves without trying again (a kill or
/// `with_timeout` unwinding out of the wait, or `ready()` before it parked)
/// wakes the next waiter in its place.
struct Waiting<'a, T> {
    queue: &'a Queue<T>,
    side: Side,
    key: usize,
}

impl<T> Waiting<'_, T> {
    /// The wait ended normally: the caller tries again.
    fn take(self) {
        let notice = self.queue.unwait(self.side, self.key);
        std::mem::forget(self);
        drop(notice.wake); // a wake never fired is dropped here, not fired
    }
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        let notice = self.queue.unwait(self.side, self.key);
        drop(notice.wake);
        if notice.state == State::Granted {
            self.queue.notify(self.side);
        }
    }
}

/// Fires the wake-ups a call collected, after its lock is released.
fn fire(wakes: impl IntoIterator<Item = Wake>) {
    wakes.into_iter().for_each(Wake::fire);
}

/// Takes a blocked call out of the channel if its caller leaves the wait
/// without doing so itself (a kill or `with_timeout` unwinding out of it): a
/// receiver passes on an item it was handed, and a sender's item not taken
/// goes with the unwinding.
struct Leave<'a, T> {
    chan: &'a Chan<T>,
    side: Side,
    key: usize,
}

impl<T> Leave<'_, T> {
    /// The caller takes its entry out itself.
    fn take(self) -> Entry<T> {
        let entry = self.chan.lock().unblock(self.side, self.key);
        std::mem::forget(self);
        entry
    }
}

impl<T> Drop for Leave<'_, T> {
    fn drop(&mut self) {
        let mut inner = self.chan.lock();
        let entry = inner.unblock(self.side, self.key);
        let mut woken = None;
        let mut dropped = None;
        match (self.side, entry.state, entry.item) {
            // Handed an item it will not take: the next receiver gets it, or
            // it goes back to the head of the queue.
            (Side::Recv, State::Granted, Some(item)) => match inner.hand_to_receiver(item) {
                Ok(wake) => woken = Some(wake),
                Err(item) => inner.queue.push_front(item),
            },
            (_, _, item) => dropped = item,
        }
        drop(inner);
        drop(dropped); // outside the lock: an item's `Drop` is user code
        drop(entry.wake); // a wake never fired is dropped here, not fired
        fire(woken);
    }
}

/// Parks the caller (a greenlet, a root context or a thread) until its
/// entry's state is no longer `Waiting`, or until `deadline`.
fn wait_for<T>(
    chan: &Chan<T>,
    key: usize,
    side: Side,
    blocker: &Blocker,
    deadline: Option<Instant>,
    what: &'static str,
) {
    park_until(blocker, deadline, what, side == Side::Recv, || {
        chan.lock().state(key) == State::Waiting
    });
}

/// Parks the caller until its wake fires (`still_waiting()` turns false,
/// for a thread, which may wake spuriously) or until `deadline`.
///
/// A plain thread waiting to receive (`watch`) that has woken a blocked
/// call since it last blocked (it sent a request, and the reply may come
/// soon) watches for its wake-up for [`WATCH`] before it parks. A thread
/// waiting for room never does: a producer that sleeps while the consumer
/// drains does better than one on its heels (bounded throughput was 7%
/// slower with the watch there).
fn park_until(
    blocker: &Blocker,
    deadline: Option<Instant>,
    what: &'static str,
    watch: bool,
    still_waiting: impl Fn() -> bool,
) {
    let passed = || deadline.is_some_and(|deadline| Instant::now() >= deadline);
    match blocker {
        Blocker::Hub(wait) => {
            wait.wait_with(
                what,
                |waker| deadline.map(|deadline| CancelTimer::wake_at(deadline, waker)),
                passed,
            );
        }
        Blocker::Thread => {
            if WOKE_ANOTHER.with(|woke| woke.replace(false)) && watch {
                let until = Instant::now() + WATCH;
                while still_waiting() {
                    thread::yield_now();
                    if Instant::now() >= until || passed() {
                        break;
                    }
                }
            }
            while still_waiting() {
                match deadline {
                    None => thread::park(),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return;
                        }
                        thread::park_timeout(deadline - now);
                    }
                }
            }
        }
    }
}

impl<T> Flavor<T> {
    /// A handle of `side` was cloned.
    fn add_handle(&self, side: Side) {
        match self {
            Flavor::Handoff(chan) => match side {
                Side::Send => chan.lock().senders += 1,
                Side::Recv => chan.lock().receivers += 1,
            },
            Flavor::Queue(queue) => {
                let handles = match side {
                    Side::Send => &queue.senders,
                    Side::Recv => &queue.receivers,
                };
                handles.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A handle of `side` was dropped: the last one disconnects the channel.
    fn drop_handle(&self, side: Side) {
        match self {
            Flavor::Handoff(chan) => chan.drop_handle(side),
            Flavor::Queue(queue) => queue.drop_handle(side),
        }
    }

    fn len(&self) -> usize {
        match self {
            Flavor::Handoff(chan) => chan.lock().queue.len(),
            Flavor::Queue(queue) => queue.len(),
        }
    }

    fn is_full(&self) -> bool {
        match self {
            Flavor::Handoff(chan) => chan.lock().is_full(),
            Flavor::Queue(queue) => queue.is_full(),
        }
    }

    fn capacity(&self) -> Option<usize> {
        match self {
            Flavor::Handoff(_) => Some(0),
            Flavor::Queue(queue) => queue.cap,
        }
    }
}

impl<T> Chan<T> {
    fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let (result, woken) = self.lock().try_send(item);
        fire(woken);
        result
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        let (result, woken) = self.lock().try_recv();
        fire(woken);
        result
    }

    fn send_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut inner = self.lock();
        let item = match inner.try_send(item) {
            (Ok(()), woken) => {
                drop(inner);
                fire(woken);
                return Ok(());
            }
            (Err(TrySendError::Disconnected(item)), _) => {
                return Err(SendTimeoutError::Disconnected(item));
            }
            (Err(TrySendError::Full(item)), _) => item,
        };
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(SendTimeoutError::Timeout(item));
        }
        let (blocker, wake) = Blocker::new();
        let key = inner.block(Side::Send, Some(item), wake);
        drop(inner);
        let leave = Leave {
            chan: self,
            side: Side::Send,
            key,
        };
        wait_for(
            self,
            key,
            Side::Send,
            &blocker,
            deadline,
            "channel::Sender::send",
        );
        let entry = leave.take();
        drop(entry.wake);
        match (entry.state, entry.item) {
            (State::Granted, _) => Ok(()),
            (State::Disconnected, Some(item)) => Err(SendTimeoutError::Disconnected(item)),
            (State::Waiting, Some(item)) => Err(SendTimeoutError::Timeout(item)),
            (_, None) => unreachable!("a sender's item is taken only when it is granted"),
        }
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut inner = self.lock();
        match inner.try_recv() {
            (Ok(item), woken) => {
                drop(inner);
                fire(woken);
                return Ok(item);
            }
            (Err(TryRecvError::Disconnected), _) => return Err(RecvTimeoutError::Disconnected),
            (Err(TryRecvError::Empty), _) => {}
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(RecvTimeoutError::Timeout);
        }
        let (blocker, wake) = Blocker::new();
        let key = inner.block(Side::Recv, None, wake);
        drop(inner);
        let leave = Leave {
            chan: self,
            side: Side::Recv,
            key,
        };
        wait_for(
            self,
            key,
            Side::Recv,
            &blocker,
            deadline,
            "channel::Receiver::recv",
        );
        let entry = leave.take();
        drop(entry.wake);
        match (entry.state, entry.item) {
            (State::Granted, Some(item)) => Ok(item),
            (State::Disconnected, _) => Err(RecvTimeoutError::Disconnected),
            (State::Waiting, _) => Err(RecvTimeoutError::Timeout),
            (State::Granted, None) => unreachable!("a granted receiver has its item"),
        }
    }

    /// The last handle of `side` going disconnects the channel.
    fn drop_handle(&self, side: Side) {
        let mut inner = self.lock();
        let left = match side {
            Side::Send => {
                inner.senders -= 1;
                inner.senders
            }
            Side::Recv => {
                inner.receivers -= 1;
                inner.receivers
            }
        };
        let other = match side {
            Side::Send => Side::Recv,
            Side::Recv => Side::Send,
        };
        let woken = if left == 0 {
            inner.disconnect(other)
        } else {
            Vec::new()
        };
        // The last receiver gone: what is left is dropped now, outside the lock.
        let left_over = if left == 0 && side == Side::Recv {
            std::mem::take(&mut inner.queue)
        } else {
            VecDeque::new()
        };
        drop(inner);
        fire(woken);
        drop(left_over);
    }
}

// ---- the sending side --------------------------------------------------------

/// The sending side of a channel: `Clone`, `Send` and `Sync` for `T: Send`.
///
/// When the last `Sender` is dropped the channel is disconnected: receivers
/// take what is left, then get [`RecvError`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::unbounded();
/// let senders: Vec<_> = (0..3)
///     .map(|n| {
///         let tx = tx.clone();
///         std::thread::spawn(move || tx.send(n).unwrap())
///     })
///     .collect();
/// drop(tx);
/// senders.into_iter().for_each(|s| s.join().unwrap());
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub struct Sender<T> {
    chan: Arc<Flavor<T>>,
}

impl<T> Sender<T> {
    /// Sends `item`, waiting while a bounded channel is full (a rendezvous
    /// channel: until a receiver takes it). Fails, giving the item back, if
    /// every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::bounded(0);
    /// let receiver = greenlet::spawn(move || rx.recv().unwrap());
    /// tx.send(7).unwrap(); // parks the root until the greenlet takes it
    /// assert_eq!(receiver.join().unwrap(), 7);
    /// ```
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        self.send_until(item, None).map_err(|e| match e {
            SendTimeoutError::Disconnected(item) | SendTimeoutError::Timeout(item) => {
                SendError(item)
            }
        })
    }

    /// Sends `item` if that needs no wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::channel::{self, TrySendError};
    ///
    /// let (tx, rx) = channel::bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    /// ```
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        match &*self.chan {
            Flavor::Handoff(chan) => chan.try_send(item),
            Flavor::Queue(queue) => queue.try_send(item),
        }
    }

    /// [`send`](Self::send), waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::channel::{self, SendTimeoutError};
    ///
    /// let (tx, _rx) = channel::bounded(0);
    /// let sent = tx.send_timeout('x', Duration::from_millis(10));
    /// assert_eq!(sent, Err(SendTimeoutError::Timeout('x')));
    /// ```
    pub fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match deadline_after(timeout) {
            Some(deadline) => self.send_until(item, Some(deadline)),
            None => self.send_until(item, None),
        }
    }

    /// [`send`](Self::send), waiting at most until `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let (tx, rx) = greenlet::channel::bounded(1);
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(tx.send_deadline(5, deadline), Ok(()));
    /// assert_eq!(rx.recv(), Ok(5));
    /// ```
    pub fn send_deadline(&self, item: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(item, Some(deadline))
    }

    fn send_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        match &*self.chan {
            Flavor::Handoff(chan) => chan.send_until(item, deadline),
            Flavor::Queue(queue) => queue.send_until(item, deadline),
        }
    }

    /// Items in the channel (not counting those of waiting senders).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = greenlet::channel::unbounded();
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the channel holds no item.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = greenlet::channel::unbounded::<()>();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a bounded channel holds as many items as it can (a
    /// rendezvous channel always does; an unbounded one never).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = greenlet::channel::bounded(1);
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.is_full()
    }

    /// The bound: `None` for an unbounded channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = greenlet::channel::bounded::<u8>(4);
    /// assert_eq!(tx.capacity(), Some(4));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.add_handle(Side::Send);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_handle(Side::Send);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

// ---- the receiving side ------------------------------------------------------

/// The receiving side of a channel: `Clone`, `Send` and `Sync` for `T: Send`.
///
/// When the last `Receiver` is dropped the channel is disconnected: senders
/// get their items back in [`SendError`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::unbounded();
/// let worker = greenlet::spawn(move || rx.iter().map(|n: u32| n * 2).collect::<Vec<_>>());
/// for n in 1..=3 {
///     tx.send(n).unwrap();
/// }
/// drop(tx);
/// assert_eq!(worker.join().unwrap(), [2, 4, 6]);
/// ```
pub struct Receiver<T> {
    chan: Arc<Flavor<T>>,
}

impl<T> Receiver<T> {
    /// Takes the next item, waiting while the channel is empty. Fails once
    /// every sender is gone and the channel is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::unbounded();
    /// std::thread::spawn(move || tx.send("from a thread").unwrap());
    /// assert_eq!(rx.recv(), Ok("from a thread"));
    /// assert!(rx.recv().is_err()); // the sender is gone
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Takes the next item if that needs no wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::channel::{self, TryRecvError};
    ///
    /// let (tx, rx) = channel::unbounded();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &*self.chan {
            Flavor::Handoff(chan) => chan.try_recv(),
            Flavor::Queue(queue) => queue.try_recv(),
        }
    }

    /// [`recv`](Self::recv), waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::channel::{self, RecvTimeoutError};
    ///
    /// let (_tx, rx) = channel::unbounded::<u8>();
    /// let got = rx.recv_timeout(Duration::from_millis(10));
    /// assert_eq!(got, Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match deadline_after(timeout) {
            Some(deadline) => self.recv_until(Some(deadline)),
            None => self.recv_until(None),
        }
    }

    /// [`recv`](Self::recv), waiting at most until `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use greenlet::channel::{self, RecvTimeoutError};
    ///
    /// let (_tx, rx) = channel::bounded::<u8>(1);
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// assert_eq!(rx.recv_deadline(deadline), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match &*self.chan {
            Flavor::Handoff(chan) => chan.recv_until(deadline),
            Flavor::Queue(queue) => queue.recv_until(deadline),
        }
    }

    /// A blocking iterator: [`recv`](Self::recv) until the channel is
    /// disconnected and empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::unbounded();
    /// std::thread::spawn(move || (1..=4).for_each(|n| tx.send(n).unwrap()));
    /// assert_eq!(rx.iter().sum::<i32>(), 10);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// An iterator over what is there now: [`try_recv`](Self::try_recv)
    /// until it would wait.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// Items in the channel (not counting those of waiting senders).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::bounded(2);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the channel holds no item.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = greenlet::channel::unbounded::<()>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a bounded channel holds as many items as it can.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::bounded(1);
    /// tx.send(()).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.is_full()
    }

    /// The bound: `None` for an unbounded channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = greenlet::channel::unbounded::<u8>();
    /// assert_eq!(rx.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        self.chan.add_handle(Side::Recv);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_handle(Side::Recv);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

/// [`Receiver::iter`]'s iterator: each `next` waits for an item, and the
/// iteration ends once every sender is gone and the channel is empty.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::bounded(2);
/// let producer = greenlet::spawn(move || {
///     for i in 1..=5 {
///         tx.send(i).unwrap(); // waits for room while the root sums
///     }
/// });
/// let sum: i32 = rx.iter().sum();
/// assert_eq!(sum, 15);
/// producer.join().unwrap();
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

/// [`Receiver::try_iter`]'s iterator: the items there are now, without
/// waiting; it ends at the first empty look.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::unbounded();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
/// assert_eq!(rx.try_iter().next(), None); // empty, though `tx` lives
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

/// A receiver as a blocking iterator, by value ([`Receiver`]'s
/// `into_iter`): like [`Iter`], and the receiver is dropped with it.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::unbounded();
/// let consumer = greenlet::spawn(move || rx.into_iter().map(|s: &str| s.len()).sum::<usize>());
/// tx.send("ab").unwrap();
/// tx.send("cde").unwrap();
/// drop(tx); // ends the consumer's iteration
/// assert_eq!(consumer.join().unwrap(), 5);
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::unbounded();
    /// tx.send('a').unwrap();
    /// drop(tx);
    /// assert_eq!(rx.into_iter().collect::<String>(), "a");
    /// ```
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { receiver: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::channel::unbounded();
    /// tx.send(3).unwrap();
    /// drop(tx);
    /// for item in &rx {
    ///     assert_eq!(item, 3);
    /// }
    /// ```
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

// ---- errors -------------------------------------------------------------------

/// [`Sender::send`] failed: every receiver is gone. Holds the item.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::unbounded();
/// drop(rx);
/// assert_eq!(tx.send(1).unwrap_err().into_inner(), 1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The item that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = greenlet::channel::SendError("item");
    /// assert_eq!(err.into_inner(), "item");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// [`Sender::try_send`] failed. Holds the item.
///
/// # Examples
///
/// ```
/// use greenlet::channel::TrySendError;
///
/// let err = TrySendError::Full(3);
/// assert!(err.is_full() && !err.is_disconnected());
/// assert_eq!(err.into_inner(), 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is full (a rendezvous channel: no receiver waits).
    Full(T),
    /// Every receiver is gone.
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The item that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = greenlet::channel::TrySendError::Disconnected('x');
    /// assert_eq!(err.into_inner(), 'x');
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(item) | TrySendError::Disconnected(item) => item,
        }
    }

    /// Whether the channel was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::channel::TrySendError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether every receiver was gone.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::channel::TrySendError::Disconnected(()).is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

/// [`Sender::send_timeout`] failed. Holds the item.
///
/// # Examples
///
/// ```
/// use greenlet::channel::SendTimeoutError;
///
/// let err = SendTimeoutError::Timeout(1);
/// assert!(err.is_timeout());
/// assert_eq!(err.into_inner(), 1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// The time ran out while the channel was full.
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
}

impl<T> SendTimeoutError<T> {
    /// The item that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = greenlet::channel::SendTimeoutError::Disconnected(2);
    /// assert_eq!(err.into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(item) | SendTimeoutError::Disconnected(item) => item,
        }
    }

    /// Whether the time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::channel::SendTimeoutError::Timeout(()).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether every receiver was gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::channel::SendTimeoutError;
    /// assert!(SendTimeoutError::Disconnected(()).is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

/// [`Receiver::recv`] failed: the channel is empty and every sender is gone.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::channel::unbounded::<()>();
/// drop(tx);
/// assert_eq!(rx.recv(), Err(greenlet::channel::RecvError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

/// [`Receiver::try_recv`] failed.
///
/// # Examples
///
/// ```
/// use greenlet::channel::TryRecvError;
///
/// assert!(TryRecvError::Empty.is_empty());
/// assert!(TryRecvError::Disconnected.is_disconnected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// The channel is empty.
    Empty,
    /// The channel is empty and every sender is gone.
    Disconnected,
}

impl TryRecvError {
    /// Whether the channel was empty (with senders left).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::channel::TryRecvError::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// Whether every sender was gone.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::channel::TryRecvError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }
}

/// [`Receiver::recv_timeout`] failed.
///
/// # Examples
///
/// ```
/// use greenlet::channel::RecvTimeoutError;
///
/// assert!(RecvTimeoutError::Timeout.is_timeout());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// The time ran out while the channel was empty.
    Timeout,
    /// The channel is empty and every sender is gone.
    Disconnected,
}

impl RecvTimeoutError {
    /// Whether the time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::channel::RecvTimeoutError::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }

    /// Whether every sender was gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::channel::RecvTimeoutError;
    /// assert!(RecvTimeoutError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvTimeoutError::Disconnected)
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SendError { .. }")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.pad("Full(..)"),
            TrySendError::Disconnected(_) => f.pad("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.pad("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.pad("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("sending on a disconnected channel")
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.pad("sending on a full channel"),
            TrySendError::Disconnected(_) => f.pad("sending on a disconnected channel"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.pad("timed out waiting on send operation"),
            SendTimeoutError::Disconnected(_) => f.pad("sending on a disconnected channel"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("receiving on an empty and disconnected channel")
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.pad("receiving on an empty channel"),
            TryRecvError::Disconnected => f.pad("receiving on an empty and disconnected channel"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.pad("timed out waiting on receive operation"),
            RecvTimeoutError::Disconnected => f.pad("channel is empty and disconnected"),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}
impl<T> std::error::Error for TrySendError<T> {}
impl<T> std::error::Error for SendTimeoutError<T> {}
impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(SendError(item): SendError<T>) -> TrySendError<T> {
        TrySendError::Disconnected(item)
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(SendError(item): SendError<T>) -> SendTimeoutError<T> {
        SendTimeoutError::Disconnected(item)
    }
}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> TryRecvError {
        TryRecvError::Disconnected
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> RecvTimeoutError {
        RecvTimeoutError::Disconnected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(items: &Unbounded<u64>) -> Vec<u64> {
        std::iter::from_fn(|| items.pop()).collect()
    }

    #[test]
    fn an_unbounded_queue_keeps_fifo_order_across_the_swap_of_its_halves() {
        let items = Unbounded::new();
        let waiting = AtomicUsize::new(0);
        for i in 0..10 {
            assert!(!items.push(i, &waiting));
        }
        assert_eq!([items.pop(), items.pop()], [Some(0), Some(1)]);
        // 2..10 now sit in `front`; new items go to `back` behind them.
        for i in 10..20 {
            items.push(i, &waiting);
        }
        assert_eq!(items.len(), 18);
        assert_eq!(drain(&items), (2..20).collect::<Vec<_>>());
        assert!(items.is_empty());
        assert_eq!(items.pop(), None);
    }

    #[test]
    fn a_push_reports_a_waiting_receiver() {
        let items = Unbounded::new();
        let waiting = AtomicUsize::new(1);
        assert!(items.push(7, &waiting));
        waiting.store(0, Ordering::Relaxed);
        assert!(!items.push(8, &waiting));
        assert_eq!(drain(&items), [7, 8]);
    }

    #[test]
    fn the_senders_get_the_emptied_buffer_back_unless_it_grew_past_the_limit() {
        let waiting = AtomicUsize::new(0);
        let small = Unbounded::new();
        for i in 0..100 {
            small.push(i, &waiting);
        }
        assert_eq!(small.pop(), Some(0)); // swaps: `back` has `front`'s empty buffer
        assert_eq!(drain(&small).len(), 99);
        small.push(100, &waiting);
        assert_eq!(small.pop(), Some(100)); // the 100-item buffer goes back
        assert!(small.back().capacity() >= 100);

        let big = Unbounded::new();
        let many = (KEEP_BYTES / size_of::<u64>() + 1) as u64;
        for i in 0..many {
            big.push(i, &waiting);
        }
        assert_eq!(drain(&big), (0..many).collect::<Vec<_>>());
        big.push(0, &waiting);
        assert_eq!(big.pop(), Some(0)); // the big buffer is freed, not given back
        assert_eq!(big.back().capacity(), 0);
        assert!(big.front().items.capacity() < 100);
    }

    #[test]
    fn a_receiver_counts_its_last_swap_and_forgets_it_when_it_finds_the_channel_empty() {
        let items = Unbounded::new();
        let waiting = AtomicUsize::new(0);
        assert_eq!(items.front().last_batch, usize::MAX);
        for i in 0..3 {
            items.push(i, &waiting);
        }
        assert_eq!(items.pop(), Some(0)); // a swap of three
        assert_eq!(items.front().last_batch, 3);
        // A small swap with a few items waiting in `back`: on a plain
        // thread the receiver lets items gather first, and still takes
        // them all, in order.
        items.push(3, &waiting);
        assert_eq!(drain(&items), [1, 2, 3]);
        // That last look found the channel empty: a receiver woken for each
        // item swaps at once.
        assert_eq!(items.front().last_batch, usize::MAX);
        items.push(4, &waiting);
        assert_eq!(items.pop(), Some(4));
        assert_eq!(items.front().last_batch, 1);
        assert_eq!(items.pop(), None);
        assert_eq!(items.front().last_batch, usize::MAX);
    }

    #[test]
    fn take_all_empties_both_halves_in_order() {
        let items = Unbounded::new();
        let waiting = AtomicUsize::new(0);
        for i in 0..4 {
            items.push(i, &waiting);
        }
        assert_eq!(items.pop(), Some(0));
        items.push(4, &waiting);
        let [front, back] = items.take_all();
        assert_eq!(
            (front, back),
            (VecDeque::from([1, 2, 3]), VecDeque::from([4]))
        );
        assert!(items.is_empty());
    }
}
