//! Locks between greenlets: [`Semaphore`], [`BoundedSemaphore`], [`Mutex`]
//! and the re-entrant [`RLock`] (gevent's `gevent.lock`).
//!
//! Each is for the greenlets of one thread (share it with `Rc`, or own it in
//! a struct they all reach). A greenlet that cannot have a permit or the lock
//! parks; waiters are served first come, first served, and a released permit
//! or lock goes straight to the longest waiter — a greenlet that asks again
//! at once cannot barge in. Guards release on drop, including when their
//! holder is killed or timed out and unwinds.
//!
//! # Examples
//!
//! ```
//! use std::rc::Rc;
//! use std::time::Duration;
//! use greenlet::lock::Mutex;
//!
//! let balance = Rc::new(Mutex::new(100));
//! let buyers: Vec<_> = (0..3)
//!     .map(|_| {
//!         let balance = balance.clone();
//!         greenlet::spawn(move || {
//!             let mut balance = balance.lock();
//!             let seen = *balance;
//!             greenlet::sleep(Duration::from_millis(5)); // others run, but wait for the lock
//!             *balance = seen - 10;
//!         })
//!     })
//!     .collect();
//! greenlet::joinall(buyers);
//! assert_eq!(*balance.lock(), 70);
//! ```

// Layer: coordination. Owns the locks; uses the wait-list and the hub (who holds a lock).

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell, RefMut};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use crate::hub::{ROOT_ID, current_id};
use crate::wait_list::{WaitList, try_or_wait};

/// A counter of permits: [`acquire`](Semaphore::acquire) takes one, parking
/// while there are none, and the guard gives it back when dropped.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use greenlet::lock::Semaphore;
///
/// let slots = Rc::new(Semaphore::new(2));
/// let inside = Rc::new(Cell::new(0));
/// let most = Rc::new(Cell::new(0));
/// let workers: Vec<_> = (0..6)
///     .map(|_| {
///         let (slots, inside, most) = (slots.clone(), inside.clone(), most.clone());
///         greenlet::spawn(move || {
///             let _permit = slots.acquire();
///             inside.set(inside.get() + 1);
///             most.set(most.get().max(inside.get()));
///             greenlet::sleep(Duration::from_millis(5));
///             inside.set(inside.get() - 1);
///         })
///     })
///     .collect();
/// greenlet::joinall(workers);
/// assert_eq!(most.get(), 2); // never more than two at once
/// assert_eq!(slots.available(), 2);
/// ```
pub struct Semaphore {
    permits: Cell<usize>,
    /// Permits out (acquired or granted, not given back): with `permits`,
    /// this is what a [`BoundedSemaphore`] checks a release against.
    held: Cell<usize>,
    /// For a [`BoundedSemaphore`]: the most permits there may be.
    limit: Option<usize>,
    /// Invariant: while anyone waits, `permits` is 0 (a release hands its
    /// permit to the first waiter instead of counting it).
    waiters: WaitList<()>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::Semaphore::new(3);
    /// assert_eq!(semaphore.available(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Cell::new(permits),
            held: Cell::new(0),
            limit: None,
            waiters: WaitList::new(),
        }
    }

    /// Takes a permit, parking until one is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::Semaphore::new(1);
    /// let permit = semaphore.acquire();
    /// assert_eq!(semaphore.available(), 0);
    /// drop(permit);
    /// assert_eq!(semaphore.available(), 1);
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        match self.try_acquire() {
            Some(guard) => guard,
            None => self
                .acquire_slow(None)
                .expect("an acquire without deadline waits until it has a permit"),
        }
    }

    /// Takes a permit if one is free now.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::Semaphore::new(1);
    /// let _permit = semaphore.try_acquire().unwrap();
    /// assert!(semaphore.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        let permits = self.permits.get();
        if permits == 0 {
            return None;
        }
        self.permits.set(permits - 1);
        self.held.set(self.held.get() + 1);
        Some(SemaphoreGuard { semaphore: self })
    }

    /// Takes a permit, parking at most `timeout` for one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let semaphore = greenlet::lock::Semaphore::new(1);
    /// let _held = semaphore.acquire();
    /// assert!(semaphore.acquire_timeout(Duration::from_millis(5)).is_none());
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        try_or_wait(
            timeout,
            || self.try_acquire(),
            |deadline| self.acquire_slow(deadline),
        )
    }

    fn acquire_slow(&self, deadline: Option<Instant>) -> Option<SemaphoreGuard<'_>> {
        let waiter = self.waiters.enqueue(|()| self.give_back());
        waiter.park("Semaphore::acquire", deadline)?;
        Some(SemaphoreGuard { semaphore: self })
    }

    /// The number of free permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::Semaphore::new(2);
    /// let _one = semaphore.acquire();
    /// assert_eq!(semaphore.available(), 1);
    /// ```
    pub fn available(&self) -> usize {
        self.permits.get()
    }

    /// Adds a permit by hand (gevent's `release`): it goes to the longest
    /// waiter, or is counted as free. Pairs with
    /// [`SemaphoreGuard::forget`].
    ///
    /// # Panics
    ///
    /// On a [`BoundedSemaphore`], if the permit would be one more than it
    /// started with.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::Semaphore::new(0);
    /// semaphore.release();
    /// assert_eq!(semaphore.available(), 1);
    /// ```
    pub fn release(&self) {
        self.give_back();
    }

    /// Returns a permit: to the first waiter if there is one (it stays
    /// held, by the waiter now).
    fn give_back(&self) {
        let held = self.held.get();
        if let Some(limit) = self.limit
            && held == 0
        {
            // Leaving the count alone keeps the bound; a second panic while
            // unwinding would abort, so then only log it.
            let message = format!(
                "greenlet: BoundedSemaphore released more times than acquired \
                 (it started with {limit} permits)"
            );
            if std::thread::panicking() {
                log::error!(target: "greenlet", "{message}");
                return;
            }
            panic!("{message}");
        }
        if self.waiters.grant(()).is_err() {
            self.held.set(held.saturating_sub(1));
            self.permits.set(self.permits.get() + 1);
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("waiting", &self.waiters.waiting())
            .finish()
    }
}

/// A permit of a [`Semaphore`] (or [`BoundedSemaphore`]), given back when dropped.
///
/// # Examples
///
/// ```
/// let semaphore = greenlet::lock::Semaphore::new(1);
/// {
///     let _permit = semaphore.acquire();
///     assert_eq!(semaphore.available(), 0);
/// }
/// assert_eq!(semaphore.available(), 1);
/// ```
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    semaphore: &'a Semaphore,
}

impl SemaphoreGuard<'_> {
    /// Keeps the permit taken: dropping the guard no longer gives it back
    /// (give it back later with [`Semaphore::release`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::Semaphore::new(1);
    /// semaphore.acquire().forget();
    /// assert_eq!(semaphore.available(), 0);
    /// semaphore.release();
    /// assert_eq!(semaphore.available(), 1);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        self.semaphore.give_back();
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}

/// A [`Semaphore`] that refuses to grow: giving back a permit when none is
/// out panics, which catches a release without an acquire — whether it is a
/// [`release`](BoundedSemaphore::release) or a guard dropped after its permit
/// was released by hand. (While the thread is already unwinding, the extra
/// permit is logged and dropped instead: a second panic would abort.)
///
/// # Examples
///
/// ```
/// let semaphore = greenlet::lock::BoundedSemaphore::new(1);
/// let permit = semaphore.acquire();
/// drop(permit);
/// let over = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| semaphore.release()));
/// assert!(over.is_err()); // one release too many
/// ```
pub struct BoundedSemaphore {
    semaphore: Semaphore,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, which is also its limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::BoundedSemaphore::new(2);
    /// assert_eq!(semaphore.available(), 2);
    /// ```
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            semaphore: Semaphore {
                limit: Some(permits),
                ..Semaphore::new(permits)
            },
        }
    }

    /// As [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::BoundedSemaphore::new(1);
    /// let _permit = semaphore.acquire();
    /// assert_eq!(semaphore.available(), 0);
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.semaphore.acquire()
    }

    /// As [`Semaphore::try_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::BoundedSemaphore::new(0);
    /// assert!(semaphore.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        self.semaphore.try_acquire()
    }

    /// As [`Semaphore::acquire_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let semaphore = greenlet::lock::BoundedSemaphore::new(0);
    /// assert!(semaphore.acquire_timeout(Duration::from_millis(5)).is_none());
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.semaphore.acquire_timeout(timeout)
    }

    /// As [`Semaphore::available`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::lock::BoundedSemaphore::new(4).available(), 4);
    /// ```
    pub fn available(&self) -> usize {
        self.semaphore.available()
    }

    /// Gives back a permit taken with [`SemaphoreGuard::forget`].
    ///
    /// # Panics
    ///
    /// If every permit is already free: the release has no acquire to match.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = greenlet::lock::BoundedSemaphore::new(1);
    /// semaphore.acquire().forget();
    /// semaphore.release();
    /// assert_eq!(semaphore.available(), 1);
    /// ```
    pub fn release(&self) {
        self.semaphore.release()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("available", &self.available())
            .field("limit", &self.semaphore.limit)
            .field("waiting", &self.semaphore.waiters.waiting())
            .finish()
    }
}

/// A lock around a value, held by one greenlet at a time. Not poisoned by
/// a panic (or a kill) in the holder: the guard just releases. It serves the
/// greenlets of one thread, so it cannot be shared with another (`!Sync`):
///
/// ```compile_fail
/// let mutex = std::sync::Arc::new(greenlet::lock::Mutex::new(0));
/// let other = mutex.clone();
/// std::thread::spawn(move || *other.lock() += 1);
/// ```
///
/// # Examples
///
/// ```
/// let counter = greenlet::lock::Mutex::new(0);
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// ```
pub struct Mutex<T> {
    locked: Cell<bool>,
    /// Invariant: while anyone waits, `locked` is true (an unlock hands the
    /// lock to the first waiter instead of clearing it).
    waiters: WaitList<()>,
    value: RefCell<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let names = greenlet::lock::Mutex::new(Vec::<String>::new());
    /// names.lock().push("ada".into());
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            locked: Cell::new(false),
            waiters: WaitList::new(),
            value: RefCell::new(value),
        }
    }

    /// Takes the lock, parking until it is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::lock::Mutex::new(1);
    /// let mut guard = mutex.lock();
    /// *guard += 1;
    /// drop(guard);
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    pub fn lock(&self) -> MutexGuard<'_, T> {
        match self.try_lock() {
            Some(guard) => guard,
            None => self
                .lock_slow(None)
                .expect("a lock without deadline waits until it has the lock"),
        }
    }

    /// Takes the lock if it is free now.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::lock::Mutex::new(());
    /// let _held = mutex.lock();
    /// assert!(mutex.try_lock().is_none());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.replace(true) {
            return None;
        }
        Some(self.guard())
    }

    /// Takes the lock, parking at most `timeout` for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mutex = greenlet::lock::Mutex::new(());
    /// let _held = mutex.lock();
    /// assert!(mutex.lock_timeout(Duration::from_millis(5)).is_none());
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        try_or_wait(
            timeout,
            || self.try_lock(),
            |deadline| self.lock_slow(deadline),
        )
    }

    fn lock_slow(&self, deadline: Option<Instant>) -> Option<MutexGuard<'_, T>> {
        let waiter = self.waiters.enqueue(|()| self.unlock());
        waiter.park("Mutex::lock", deadline)?;
        Some(self.guard())
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            value: self.value.borrow_mut(),
            _unlock: Unlock(self),
        }
    }

    /// Passes the lock to the first waiter, or leaves it free.
    fn unlock(&self) {
        if self.waiters.grant(()).is_err() {
            self.locked.set(false);
        }
    }

    /// True if some greenlet holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::lock::Mutex::new(());
    /// let guard = mutex.lock();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    /// The value, from a mutex no one else can reach.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = greenlet::lock::Mutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(mutex.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Consumes the mutex, returning the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::lock::Mutex::new("value");
    /// assert_eq!(mutex.into_inner(), "value");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &self.is_locked())
            .field("waiting", &self.waiters.waiting())
            .finish_non_exhaustive()
    }
}

/// Access to the value of a locked [`Mutex`]; dropping it unlocks.
///
/// # Examples
///
/// ```
/// let mutex = greenlet::lock::Mutex::new(vec![1]);
/// let mut guard = mutex.lock();
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T> {
    // Field order matters: the borrow ends before the lock passes on.
    value: RefMut<'a, T>,
    _unlock: Unlock<'a, T>,
}

struct Unlock<'a, T>(&'a Mutex<T>);

impl<T> Drop for Unlock<'_, T> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.value, f)
    }
}

/// A lock that the greenlet holding it may take again (gevent's `RLock`):
/// it is released when every guard of the holder is dropped. Guards give
/// shared access only, since the holder may have several; put a `Cell` or
/// `RefCell` inside for mutation.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
///
/// let account = greenlet::lock::RLock::new(Cell::new(10));
/// let outer = account.lock();
/// let inner = account.lock(); // the same greenlet: no deadlock
/// inner.set(inner.get() - 3);
/// drop(inner);
/// assert_eq!(outer.get(), 7);
/// ```
pub struct RLock<T> {
    /// The holder's task id, [`HANDED_OVER`] while the lock is granted to a
    /// waiter that has not run yet, `None` when free.
    owner: Cell<Option<u64>>,
    depth: Cell<usize>,
    waiters: WaitList<()>,
    value: T,
}

/// `RLock::owner` while the lock is passing to a waiter (no task has this id).
const HANDED_OVER: u64 = u64::MAX;

/// The running greenlet's id, or the root context's.
fn current_task_id() -> u64 {
    current_id().unwrap_or(ROOT_ID)
}

impl<T> RLock<T> {
    /// A new, unlocked re-entrant lock holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::lock::RLock::new(5);
    /// assert_eq!(*lock.lock(), 5);
    /// ```
    pub fn new(value: T) -> RLock<T> {
        RLock {
            owner: Cell::new(None),
            depth: Cell::new(0),
            waiters: WaitList::new(),
            value,
        }
    }

    /// Takes the lock, parking until it is free; returns at once if the
    /// current greenlet holds it already.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::lock::RLock::new(());
    /// let _a = lock.lock();
    /// let _b = lock.lock();
    /// ```
    pub fn lock(&self) -> RLockGuard<'_, T> {
        match self.try_lock() {
            Some(guard) => guard,
            None => self
                .lock_slow(None)
                .expect("a lock without deadline waits until it has the lock"),
        }
    }

    /// Takes the lock if it is free or held by the current greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = std::rc::Rc::new(greenlet::lock::RLock::new(()));
    /// let _held = lock.lock();
    /// let other = {
    ///     let lock = lock.clone();
    ///     greenlet::spawn(move || lock.try_lock().is_some())
    /// };
    /// assert!(!other.join().unwrap());
    /// ```
    pub fn try_lock(&self) -> Option<RLockGuard<'_, T>> {
        let me = current_task_id();
        match self.owner.get() {
            Some(owner) if owner == me => {}
            Some(_) => return None,
            None => self.owner.set(Some(me)),
        }
        self.depth.set(self.depth.get() + 1);
        Some(RLockGuard { lock: self })
    }

    /// Takes the lock, parking at most `timeout` for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = std::rc::Rc::new(greenlet::lock::RLock::new(()));
    /// let _held = lock.lock();
    /// let other = {
    ///     let lock = lock.clone();
    ///     greenlet::spawn(move || lock.lock_timeout(Duration::from_millis(5)).is_some())
    /// };
    /// assert!(!other.join().unwrap());
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_, T>> {
        try_or_wait(
            timeout,
            || self.try_lock(),
            |deadline| self.lock_slow(deadline),
        )
    }

    fn lock_slow(&self, deadline: Option<Instant>) -> Option<RLockGuard<'_, T>> {
        let waiter = self.waiters.enqueue(|()| self.pass_on());
        waiter.park("RLock::lock", deadline)?;
        self.owner.set(Some(current_task_id()));
        self.depth.set(1);
        Some(RLockGuard { lock: self })
    }

    /// The holder let go for good: hand the lock to the first waiter or free it.
    fn pass_on(&self) {
        if self.waiters.grant(()).is_ok() {
            self.owner.set(Some(HANDED_OVER));
        } else {
            self.owner.set(None);
        }
    }

    /// True if some greenlet holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::lock::RLock::new(());
    /// let guard = lock.lock();
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.owner.get().is_some()
    }

    /// Consumes the lock, returning the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::lock::RLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: Default> Default for RLock<T> {
    fn default() -> Self {
        RLock::new(T::default())
    }
}

impl<T> fmt::Debug for RLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("locked", &self.is_locked())
            .field("depth", &self.depth.get())
            .field("waiting", &self.waiters.waiting())
            .finish_non_exhaustive()
    }
}

/// One hold of an [`RLock`]; the lock is released when the holder's last
/// guard is dropped.
///
/// # Examples
///
/// ```
/// let lock = greenlet::lock::RLock::new(String::from("shared"));
/// let guard = lock.lock();
/// assert_eq!(guard.len(), 6);
/// ```
#[must_use = "the hold ends as soon as the guard is dropped"]
pub struct RLockGuard<'a, T> {
    lock: &'a RLock<T>,
}

impl<T> Deref for RLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.lock.value
    }
}

impl<T> Drop for RLockGuard<'_, T> {
    fn drop(&mut self) {
        let depth = self.lock.depth.get() - 1;
        self.lock.depth.set(depth);
        if depth == 0 {
            self.lock.pass_on();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for RLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.lock.value, f)
    }
}
