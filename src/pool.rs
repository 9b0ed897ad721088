//! Sets of greenlets managed together: [`Pool`], which caps how many run at
//! once, and [`Group`], which does not (gevent's `gevent.pool`).
//!
//! Both track the greenlets they spawned until those finish, so they can be
//! joined or killed as one, and both map a function over many items in
//! greenlets of the set. They are cheap `Clone` handles onto one shared
//! set, for the greenlets of one thread.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use greenlet::pool::Pool;
//!
//! let pool = Pool::new(3);
//! let squares = pool.map(1..=6, |n: u64| {
//!     greenlet::sleep(Duration::from_millis(n)); // at most 3 sleep at once
//!     n * n
//! });
//! assert_eq!(squares, [1, 4, 9, 16, 25, 36]); // input order
//! ```

// Layer: user-facing. Owns pools and groups; uses greenlets, the hub, queues, locks and the wait-list.

#![forbid(unsafe_code)]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use slab::Slab;

use crate::greenlet::{Greenlet, JoinError, is_interrupt, spawn};
use crate::hub::{TaskRef, current_id, with_hub};
use crate::lock::Semaphore;
use crate::queue::Queue;
use crate::wait_list::{WaitList, deadline_after};

/// A set of greenlets of which at most `size` run at once: [`spawn`](Pool::spawn)
/// parks the caller while the pool is full (gevent's `Pool`).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use greenlet::pool::Pool;
///
/// let pool = Pool::new(2);
/// let start = Instant::now();
/// for _ in 0..4 {
///     pool.spawn(|| greenlet::sleep(Duration::from_millis(20)));
/// }
/// pool.join();
/// // two rounds of two, not one round of four
/// assert!(start.elapsed() >= Duration::from_millis(40));
/// ```
#[derive(Clone)]
pub struct Pool {
    members: Rc<Members>,
}

/// A set of greenlets with no limit on how many run at once, to join or
/// kill together (gevent's `Group`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let group = greenlet::pool::Group::new();
/// for ms in [30, 10, 20] {
///     group.spawn(move || greenlet::sleep(Duration::from_millis(ms)));
/// }
/// assert_eq!(group.len(), 3);
/// group.join();
/// assert!(group.is_empty());
/// ```
#[derive(Clone)]
pub struct Group {
    members: Rc<Members>,
}

/// What Pool and Group share: the live greenlets and, for a pool, its slots.
struct Members {
    /// A pool's free places; `None` for a group.
    slots: Option<(usize, Semaphore)>,
    /// The greenlets spawned and not finished, each holding its entry.
    tasks: RefCell<Slab<TaskRef>>,
    /// Greenlets in `join`, woken when `tasks` becomes empty.
    joiners: WaitList<()>,
}

/// Writes the methods Pool and Group share, with their docs.
macro_rules! set_methods {
    ($Set:ident, $set:literal, $new:literal) => {
        impl $Set {
            #[doc = concat!("Parks until every greenlet of the ", $set, " has finished.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let set = ", $new, ";")]
            /// let g = set.spawn(|| greenlet::sleep(std::time::Duration::from_millis(5)));
            /// set.join();
            /// assert!(g.is_finished());
            /// ```
            pub fn join(&self) {
                self.members.join(concat!(stringify!($Set), "::join"))
            }

            #[doc = concat!("Kills every greenlet of the ", $set, " and waits until they have")]
            /// finished (their destructors have run).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let set = ", $new, ";")]
            /// let g = set.spawn(|| greenlet::sleep(std::time::Duration::from_secs(3600)));
            /// set.kill();
            /// assert!(g.join().unwrap_err().is_killed());
            /// assert!(set.is_empty());
            /// ```
            pub fn kill(&self) {
                self.members.kill(concat!(stringify!($Set), "::kill"))
            }

            #[doc = concat!("The number of greenlets in the ", $set, " (spawned and not finished).")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let set = ", $new, ";")]
            /// set.spawn(|| ());
            /// assert_eq!(set.len(), 1);
            /// set.join();
            /// assert_eq!(set.len(), 0);
            /// ```
            pub fn len(&self) -> usize {
                self.members.tasks.borrow().len()
            }

            #[doc = concat!("True if no greenlet is in the ", $set, ".")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("assert!(", $new, ".is_empty());")]
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }
        }
    };
}

set_methods!(Pool, "pool", "greenlet::pool::Pool::new(2)");
set_methods!(Group, "group", "greenlet::pool::Group::new()");

impl Pool {
    /// A pool running at most `size` greenlets at once.
    ///
    /// # Panics
    ///
    /// If `size` is 0: nothing could ever run in it.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(10);
    /// assert_eq!(pool.free_count(), 10);
    /// ```
    pub fn new(size: usize) -> Pool {
        assert!(
            size > 0,
            "greenlet: a Pool of size 0 could never run anything"
        );
        Pool {
            members: Rc::new(Members::new(Some(size))),
        }
    }

    /// Spawns `f` in a greenlet of the pool, first parking the caller until
    /// the pool has a free place. The place is freed when the greenlet
    /// finishes, however it finishes.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(1);
    /// let a = pool.spawn(|| 1);
    /// let b = pool.spawn(|| 2); // parks until `a` is done
    /// assert!(a.is_finished());
    /// assert_eq!(b.join().unwrap(), 2);
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.members.spawn(f)
    }

    /// The most greenlets the pool runs at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::pool::Pool::new(8).size(), 8);
    /// ```
    pub fn size(&self) -> usize {
        self.members.size().expect("a pool has a size")
    }

    /// How many more greenlets could be spawned now without parking.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(3);
    /// pool.spawn(|| ());
    /// assert_eq!(pool.free_count(), 2);
    /// ```
    pub fn free_count(&self) -> usize {
        self.members.free_count()
    }

    /// Calls `f` on every item, at most [`size`](Pool::size) calls at once,
    /// and returns the results in the order of the items.
    ///
    /// The calls run in worker greenlets of the pool (as many as there are
    /// free places, at least one), each taking the next item when its call
    /// returns, so a call that blocks lets the others go on, and a map over
    /// many small items costs no spawn per item. `items` is iterated in the
    /// caller, as the workers need more.
    ///
    /// A panic in `f` resumes in the caller: no further calls start, and the
    /// calls still running are killed first.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(4);
    /// let lengths = pool.map(["a", "bb", "ccc"], |s: &str| s.len());
    /// assert_eq!(lengths, [1, 2, 3]);
    /// ```
    pub fn map<I, F, U>(&self, items: I, f: F) -> Vec<U>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> U + Clone + 'static,
        U: 'static,
    {
        self.members.map(items, f)
    }

    /// Calls `f` on every item, each call in its own greenlet of the pool,
    /// and yields the results as the calls finish. Items are taken from
    /// `items` as places in the pool free up.
    ///
    /// A panic in `f` resumes at the `next()` that reaches its result.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenlet::pool::Pool::new(3);
    /// let done: Vec<u64> = pool
    ///     .imap_unordered([30, 10, 20], |ms: u64| {
    ///         greenlet::sleep(Duration::from_millis(ms));
    ///         ms
    ///     })
    ///     .collect();
    /// assert_eq!(done, [10, 20, 30]); // quickest first
    /// ```
    pub fn imap_unordered<I, F, U>(&self, items: I, f: F) -> impl Iterator<Item = U> + use<I, F, U>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> U + Clone + 'static,
        U: 'static,
    {
        ImapUnordered::new(self.members.clone(), items, f)
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size())
            .field("len", &self.len())
            .field("free", &self.free_count())
            .finish()
    }
}

impl Group {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::pool::Group::new().is_empty());
    /// ```
    pub fn new() -> Group {
        Group {
            members: Rc::new(Members::new(None)),
        }
    }

    /// Spawns `f` in a new greenlet of the group; never parks.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenlet::pool::Group::new();
    /// let g = group.spawn(|| "hi");
    /// assert_eq!(g.join().unwrap(), "hi");
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.members.spawn(f)
    }

    /// As [`Pool::map`], with every call running at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenlet::pool::Group::new();
    /// assert_eq!(group.map(1..=3, |n: i32| -n), [-1, -2, -3]);
    /// ```
    pub fn map<I, F, U>(&self, items: I, f: F) -> Vec<U>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> U + Clone + 'static,
        U: 'static,
    {
        self.members.map(items, f)
    }

    /// As [`Pool::imap_unordered`], with every call running at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenlet::pool::Group::new();
    /// let mut squares: Vec<u32> = group.imap_unordered(1..=3, |n: u32| n * n).collect();
    /// squares.sort();
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    pub fn imap_unordered<I, F, U>(&self, items: I, f: F) -> impl Iterator<Item = U> + use<I, F, U>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> U + Clone + 'static,
        U: 'static,
    {
        ImapUnordered::new(self.members.clone(), items, f)
    }
}

impl Default for Group {
    fn default() -> Self {
        Group::new()
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}

impl Group {
    /// Lets the members other than the caller finish for up to `grace`,
    /// then kills those still running and waits until they have finished.
    /// The caller, if a member, is left running (a server stopped from
    /// one of its own connections).
    /// `what` names the wait in the deadlock message.
    pub(crate) fn shut_down(&self, grace: Duration, what: &'static str) {
        let members = &self.members;
        let own = {
            let me = current_id();
            let tasks = members.tasks.borrow();
            usize::from(tasks.iter().any(|(_, t)| Some(t.header().id()) == me))
        };
        let deadline = deadline_after(grace);
        while members.tasks.borrow().len() > own {
            if !members.joiners.wait(what, deadline) {
                break;
            }
        }
        let tasks: Vec<TaskRef> = members
            .tasks
            .borrow()
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        drop(kill_all_but_current(tasks));
        while members.tasks.borrow().len() > own {
            members.joiners.wait("StreamServer::stop", None);
        }
    }
}

impl Members {
    fn new(size: Option<usize>) -> Members {
        Members {
            slots: size.map(|size| (size, Semaphore::new(size))),
            tasks: RefCell::new(Slab::new()),
            joiners: WaitList::new(),
        }
    }

    fn size(&self) -> Option<usize> {
        self.slots.as_ref().map(|(size, _)| *size)
    }

    fn free_count(&self) -> usize {
        self.slots
            .as_ref()
            .map_or(usize::MAX, |(_, slots)| slots.available())
    }

    fn spawn<F, T>(self: &Rc<Self>, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if let Some((_, slots)) = &self.slots {
            slots.acquire().forget(); // given back by `Membership`'s drop
        }
        // Nothing runs between here and the insert below, so the key stays free.
        let key = self.tasks.borrow().vacant_key();
        let membership = Membership {
            members: self.clone(),
            key,
        };
        let greenlet = spawn(move || {
            let _membership = RunningMember {
                _membership: membership,
            };
            f()
        });
        let inserted = self.tasks.borrow_mut().insert(greenlet.task());
        debug_assert_eq!(inserted, key);
        greenlet
    }

    fn join(&self, what: &'static str) {
        while !self.tasks.borrow().is_empty() {
            self.joiners.wait(what, None);
        }
    }

    fn kill(&self, what: &'static str) {
        let tasks: Vec<TaskRef> = self.tasks.borrow().iter().map(|(_, t)| t.clone()).collect();
        match kill_all_but_current(tasks) {
            // A member killing its own set: wait for the others, then unwind.
            Some(task) => {
                while self.tasks.borrow().len() > 1 {
                    self.joiners.wait(what, None);
                }
                with_hub(|hub| hub.kill(&task));
            }
            None => self.join(what),
        }
    }

    fn map<I, F, U>(self: &Rc<Self>, items: I, f: F) -> Vec<U>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> U + Clone + 'static,
        U: 'static,
    {
        match self.size() {
            Some(size) => self.map_with_workers(size, items, f),
            None => self.map_each(items, f),
        }
    }

    /// A group's `map`: a greenlet per item, all at once.
    fn map_each<I, F, U>(self: &Rc<Self>, items: I, f: F) -> Vec<U>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> U + Clone + 'static,
        U: 'static,
    {
        let calls: Vec<Greenlet<U>> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.spawn(move || f(item))
            })
            .collect();
        let mut results = Vec::with_capacity(calls.len());
        let mut calls = calls.into_iter();
        while let Some(call) = calls.next() {
            match call.join() {
                Ok(value) => results.push(value),
                Err(error) => {
                    let rest: Vec<Greenlet<U>> = calls.collect();
                    crate::killall(rest);
                    failed_call("Pool::map", error);
                }
            }
        }
        results
    }

    /// A pool's `map`: up to `size` worker greenlets, fed the items through
    /// a bounded queue by the caller, each calling `f` on item after item. At
    /// most `size` calls run at once, as with a greenlet per item, but
    /// without a spawn and a switch per item.
    fn map_with_workers<I, F, U>(self: &Rc<Self>, size: usize, items: I, f: F) -> Vec<U>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> U + Clone + 'static,
        U: 'static,
    {
        let items = items.into_iter();
        let (least, most) = items.size_hint();
        let wanted = most.unwrap_or(usize::MAX).min(size).max(1);
        let job = Rc::new(MapJob {
            jobs: Queue::bounded(wanted),
            results: RefCell::new(Vec::with_capacity(least)),
            failure: RefCell::new(None),
            workers: RefCell::new(Vec::new()),
            live: Cell::new(0),
        });
        // If the caller unwinds (killed while it feeds or waits), the workers
        // would wait for items for ever: they go with it.
        let _workers_end = KillWorkersOnDrop(&job.workers);
        let mut workers = Vec::new();
        // The first worker may wait for a place; more start only on free ones.
        while workers.is_empty() || (workers.len() < wanted && self.free_count() > 0) {
            let worker = {
                let (job, f) = (job.clone(), f.clone());
                self.spawn(move || job.work(f))
            };
            job.live.set(job.live.get() + 1);
            job.workers.borrow_mut().push(worker.task());
            workers.push(worker);
        }
        for (index, item) in items.enumerate() {
            if job.is_over() {
                break;
            }
            job.jobs.put(Some((index, item)));
        }
        for _ in 0..workers.len() {
            if job.is_over() {
                break;
            }
            job.jobs.put(None); // one stop per worker
        }
        let mut killed = false;
        for worker in workers {
            killed |= worker.join().is_err();
        }
        job.jobs.drain().for_each(drop);
        if let Some(error) = job.failure.take() {
            failed_call("Pool::map", error);
        }
        let results = job.results.take();
        if killed || results.iter().any(Option::is_none) {
            failed_call("Pool::map", JoinError::Killed);
        }
        results.into_iter().flatten().collect()
    }

    /// Counts a greenlet out of the set; wakes `join` when it was the last.
    fn leave(&self, key: usize) {
        let task = self.tasks.borrow_mut().try_remove(key);
        if let Some((_, slots)) = &self.slots {
            slots.release();
        }
        // `join` waits for none left; a member killing its own set, for
        // itself alone. Both re-check when woken.
        let few = self.tasks.borrow().len() <= 1;
        if few {
            self.joiners.grant_all(|| ());
        }
        drop(task);
    }
}

/// A greenlet's place in a Pool or Group; dropped when its closure ends
/// or is dropped unrun (killed before it started).
struct Membership {
    members: Rc<Members>,
    key: usize,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.members.leave(self.key);
    }
}

/// The membership of a greenlet that started: it ends after the greenlet's
/// locals are dropped, so that `join` sees nothing of the member left.
struct RunningMember {
    _membership: Membership,
}

impl Drop for RunningMember {
    fn drop(&mut self) {
        crate::local::drop_current_locals();
    }
}

/// The shared state of one `Pool::map`.
struct MapJob<T, U> {
    /// Items with their index; `None` tells a worker to stop.
    jobs: Queue<Option<(usize, T)>>,
    /// By item index; `None` until its call returns.
    results: RefCell<Vec<Option<U>>>,
    /// The first call that panicked; once set, no more calls start.
    failure: RefCell<Option<JoinError>>,
    workers: RefCell<Vec<TaskRef>>,
    /// Workers not yet ended.
    live: Cell<usize>,
}

impl<T, U> MapJob<T, U> {
    /// One worker: calls `f` on item after item until told to stop.
    fn work(&self, f: impl Fn(T) -> U) {
        let _live = LiveWorker(self);
        while self.failure.borrow().is_none() {
            let Some((index, item)) = self.jobs.get() else {
                return;
            };
            match panic::catch_unwind(AssertUnwindSafe(|| f(item))) {
                Ok(value) => self.store(index, value),
                Err(payload) if is_interrupt(&*payload) => panic::resume_unwind(payload),
                Err(payload) => return self.fail(payload),
            }
        }
    }

    /// True once no worker will take another item: feeding must stop.
    fn is_over(&self) -> bool {
        self.failure.borrow().is_some() || self.live.get() == 0
    }

    fn store(&self, index: usize, value: U) {
        let mut results = self.results.borrow_mut();
        if results.len() <= index {
            results.resize_with(index + 1, || None);
        }
        results[index] = Some(value);
    }

    /// Records the first panic and kills the other workers' running calls.
    fn fail(&self, payload: Box<dyn Any + Send>) {
        if self.failure.borrow().is_some() {
            return;
        }
        *self.failure.borrow_mut() = Some(JoinError::Panicked(payload));
        let workers = self.workers.borrow().clone();
        kill_all_but_current(workers);
    }
}

/// Kills a map's workers when dropped; those that have finished are left be.
struct KillWorkersOnDrop<'a>(&'a RefCell<Vec<TaskRef>>);

impl Drop for KillWorkersOnDrop<'_> {
    fn drop(&mut self) {
        kill_all_but_current(self.0.take()); // the caller is not a worker
    }
}

/// Kills every task of `tasks` except the running one, which it returns if
/// it is among them (a greenlet killing its own set unwinds last).
fn kill_all_but_current(tasks: Vec<TaskRef>) -> Option<TaskRef> {
    let me = current_id();
    let mut current = None;
    with_hub(|hub| {
        for task in tasks {
            if Some(task.header().id()) == me {
                current = Some(task);
            } else {
                hub.kill(&task);
            }
        }
    });
    current
}

/// Counts a map worker out however it ends; once feeding must stop, empties
/// the queue so that a caller parked in `put` goes on (and sees it).
struct LiveWorker<'a, T, U>(&'a MapJob<T, U>);

impl<T, U> Drop for LiveWorker<'_, T, U> {
    fn drop(&mut self) {
        let job = self.0;
        job.live.set(job.live.get() - 1);
        if job.is_over() {
            job.jobs.drain().for_each(drop);
        }
    }
}

/// Resumes the failure of one call of `map` or `imap_unordered` in the caller.
fn failed_call(what: &str, error: JoinError) -> ! {
    match error {
        JoinError::Panicked(payload) => panic::resume_unwind(payload),
        JoinError::Killed => panic!("greenlet: a call of {what} was killed"),
    }
}

/// The iterator of `imap_unordered`: spawns calls as places free up and
/// yields results in the order they arrive.
struct ImapUnordered<It, F, U> {
    members: Rc<Members>,
    /// Fused: the input need not be, and asking one that has ended again
    /// may block for ever (a `from_fn` over a queue's `get`).
    items: std::iter::Fuse<It>,
    f: F,
    results: Queue<Result<U, JoinError>>,
    in_flight: usize,
}

impl<It, F, U> ImapUnordered<It, F, U>
where
    It: Iterator,
    It::Item: 'static,
    F: Fn(It::Item) -> U + Clone + 'static,
    U: 'static,
{
    fn new<I>(members: Rc<Members>, items: I, f: F) -> Self
    where
        I: IntoIterator<IntoIter = It>,
    {
        ImapUnordered {
            members,
            items: items.into_iter().fuse(),
            f,
            results: Queue::new(),
            in_flight: 0,
        }
    }

    fn start(&mut self, item: It::Item) {
        let f = self.f.clone();
        let report = Report {
            results: Some(self.results.clone()),
        };
        self.members.spawn(move || report.run(|| f(item)));
        self.in_flight += 1;
    }

    fn collect_result(&mut self, result: Result<U, JoinError>) -> U {
        self.in_flight -= 1;
        result.unwrap_or_else(|error| failed_call("Pool::imap_unordered", error))
    }
}

impl<It, F, U> Iterator for ImapUnordered<It, F, U>
where
    It: Iterator,
    It::Item: 'static,
    F: Fn(It::Item) -> U + Clone + 'static,
    U: 'static,
{
    type Item = U;

    fn next(&mut self) -> Option<U> {
        loop {
            if let Some(result) = self.results.try_get() {
                return Some(self.collect_result(result));
            }
            if let Some(item) = self.items.next() {
                self.start(item); // parks while the pool is full
                continue;
            }
            if self.in_flight == 0 {
                return None;
            }
            let result = self.results.get();
            return Some(self.collect_result(result));
        }
    }
}

/// Sends one call's outcome to its `imap_unordered` iterator: the value, the
/// panic, or — if dropped unsent (killed) — `Killed`.
struct Report<U> {
    results: Option<Queue<Result<U, JoinError>>>,
}

impl<U> Report<U> {
    fn run(mut self, call: impl FnOnce() -> U) {
        let outcome = panic::catch_unwind(AssertUnwindSafe(call));
        let results = self.results.take().expect("a report is sent once");
        match outcome {
            Ok(value) => results.put(Ok(value)),
            Err(payload) if is_interrupt(&*payload) => {
                results.put(Err(JoinError::Killed));
                panic::resume_unwind(payload)
            }
            Err(payload) => results.put(Err(JoinError::Panicked(payload))),
        }
    }
}

impl<U> Drop for Report<U> {
    fn drop(&mut self) {
        if let Some(results) = self.results.take() {
            results.put(Err(JoinError::Killed));
        }
    }
}
