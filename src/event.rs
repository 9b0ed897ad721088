//! One-to-many signals between greenlets: [`Event`] and [`AsyncResult`]
//! (gevent's `gevent.event`).
//!
//! Both are cheap `Clone` handles onto one shared state. Setting one wakes
//! every greenlet waiting on it; a waiter woken by a `set` returns even if
//! the state changes again before it runs.
//!
//! # Examples
//!
//! ```
//! use greenlet::event::Event;
//!
//! let ready = Event::new();
//! let waiters: Vec<_> = (0..3)
//!     .map(|n| {
//!         let ready = ready.clone();
//!         greenlet::spawn(move || {
//!             ready.wait();
//!             n
//!         })
//!     })
//!     .collect();
//! greenlet::yield_now(); // all three park in wait()
//! ready.set();
//! let done: Vec<_> = greenlet::joinall(waiters).into_iter().map(Result::unwrap).collect();
//! assert_eq!(done, [0, 1, 2]);
//! ```

// Layer: coordination. Owns events and results; uses the wait-list.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::wait_list::{WaitList, try_or_wait};

/// A flag that greenlets can wait for: [`set`](Event::set) wakes every
/// waiter and lets later ones through until [`clear`](Event::clear).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let stop = greenlet::event::Event::new();
/// let ticker = {
///     let stop = stop.clone();
///     greenlet::spawn(move || {
///         let mut ticks = 0;
///         while !stop.wait_timeout(Duration::from_millis(1)) {
///             ticks += 1;
///         }
///         ticks
///     })
/// };
/// greenlet::sleep(Duration::from_millis(20));
/// stop.set();
/// assert!(ticker.join().unwrap() > 0);
/// ```
#[derive(Clone)]
pub struct Event {
    shared: Rc<EventShared>,
}

struct EventShared {
    flag: Cell<bool>,
    waiters: WaitList<()>,
}

impl Event {
    /// A new event, not set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!greenlet::event::Event::new().is_set());
    /// ```
    pub fn new() -> Event {
        Event {
            shared: Rc::new(EventShared {
                flag: Cell::new(false),
                waiters: WaitList::new(),
            }),
        }
    }

    /// Sets the flag and wakes every waiting greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = greenlet::event::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// event.wait(); // returns at once
    /// ```
    pub fn set(&self) {
        self.shared.flag.set(true);
        self.shared.waiters.grant_all(|| ());
    }

    /// Clears the flag: later waiters park until the next [`set`](Event::set).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = greenlet::event::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.shared.flag.set(false);
    }

    /// True if the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = greenlet::event::Event::new();
    /// assert!(!event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.shared.flag.get()
    }

    /// Parks until the flag is set; returns at once if it is.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = greenlet::event::Event::new();
    /// let setter = {
    ///     let event = event.clone();
    ///     greenlet::spawn(move || event.set())
    /// };
    /// event.wait();
    /// setter.join().unwrap();
    /// ```
    pub fn wait(&self) {
        if !self.is_set() {
            self.shared.waiters.wait("Event::wait", None);
        }
    }

    /// Parks until the flag is set or `timeout` passes; returns whether it
    /// was set.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event = greenlet::event::Event::new();
    /// assert!(!event.wait_timeout(Duration::from_millis(5)));
    /// event.set();
    /// assert!(event.wait_timeout(Duration::from_millis(5)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let set = || self.is_set().then_some(());
        let wait = |deadline| {
            self.shared
                .waiters
                .wait("Event::wait", deadline)
                .then_some(())
        };
        try_or_wait(timeout, set, wait).is_some()
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("waiting", &self.shared.waiters.waiting())
            .finish()
    }
}

/// A value that one greenlet sets and others wait for (gevent's
/// `AsyncResult`, a single-threaded future).
///
/// # Examples
///
/// ```
/// use greenlet::event::AsyncResult;
///
/// let answer = AsyncResult::new();
/// let worker = {
///     let answer = answer.clone();
///     greenlet::spawn(move || {
///         greenlet::sleep(std::time::Duration::from_millis(5));
///         answer.set(42);
///     })
/// };
/// assert_eq!(answer.get(), 42); // parks until the worker sets it
/// worker.join().unwrap();
/// ```
pub struct AsyncResult<T> {
    shared: Rc<ResultShared<T>>,
}

struct ResultShared<T> {
    value: RefCell<Option<T>>,
    waiters: WaitList<()>,
}

impl<T> AsyncResult<T> {
    /// A new result, not yet set.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::event::AsyncResult::<u8>::new();
    /// assert!(!result.is_ready());
    /// ```
    pub fn new() -> AsyncResult<T> {
        AsyncResult {
            shared: Rc::new(ResultShared {
                value: RefCell::new(None),
                waiters: WaitList::new(),
            }),
        }
    }

    /// Stores `value` (replacing one set before) and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::event::AsyncResult::new();
    /// result.set(1);
    /// result.set(2);
    /// assert_eq!(result.get(), 2);
    /// ```
    pub fn set(&self, value: T) {
        let old = self.shared.value.replace(Some(value));
        self.shared.waiters.grant_all(|| ());
        drop(old); // after the borrow: its destructor may use this result
    }

    /// True once a value has been set.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::event::AsyncResult::new();
    /// result.set("done");
    /// assert!(result.is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        self.shared.value.borrow().is_some()
    }

    /// Parks until a value is set or `timeout` passes; returns whether it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let result = greenlet::event::AsyncResult::<u8>::new();
    /// assert!(!result.wait_timeout(Duration::from_millis(5)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let ready = || self.is_ready().then_some(());
        let wait = |deadline| {
            let waiters = &self.shared.waiters;
            waiters.wait("AsyncResult::get", deadline).then_some(())
        };
        try_or_wait(timeout, ready, wait).is_some()
    }

    /// Parks until a value is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::event::AsyncResult::new();
    /// let setter = {
    ///     let result = result.clone();
    ///     greenlet::spawn(move || result.set('x'))
    /// };
    /// result.wait();
    /// assert!(result.is_ready());
    /// setter.join().unwrap();
    /// ```
    pub fn wait(&self) {
        if !self.is_ready() {
            self.shared.waiters.wait("AsyncResult::get", None);
        }
    }
}

impl<T: Clone> AsyncResult<T> {
    /// Parks until a value is set, then returns a clone of it.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::event::AsyncResult::new();
    /// result.set(String::from("ready"));
    /// assert_eq!(result.get(), "ready");
    /// ```
    pub fn get(&self) -> T {
        self.wait();
        self.try_get().expect("an AsyncResult once set stays set")
    }

    /// A clone of the value, if one is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::event::AsyncResult::new();
    /// assert_eq!(result.try_get(), None);
    /// result.set(5);
    /// assert_eq!(result.try_get(), Some(5));
    /// ```
    pub fn try_get(&self) -> Option<T> {
        self.shared.value.borrow().clone()
    }
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Default for AsyncResult<T> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.is_ready())
            .field("waiting", &self.shared.waiters.waiting())
            .finish()
    }
}
