//! Greenlet-local values: [`greenlet_local!`](crate::greenlet_local)
//! (gevent's `gevent.local`).
//!
//! A greenlet-local is declared like a `thread_local!` and used the same way,
//! through [`LocalKey::with`], but each greenlet — and the root context —
//! sees its own value, made on first use from the declared initial value and
//! dropped when the greenlet finishes.
//!
//! # Examples
//!
//! ```
//! use std::cell::Cell;
//!
//! greenlet::greenlet_local! {
//!     static REQUESTS: Cell<u32> = Cell::new(0);
//! }
//!
//! let workers: Vec<_> = (1..=3)
//!     .map(|n| {
//!         greenlet::spawn(move || {
//!             for _ in 0..n {
//!                 REQUESTS.with(|count| count.set(count.get() + 1));
//!                 greenlet::yield_now(); // the others run in between
//!             }
//!             REQUESTS.with(Cell::get)
//!         })
//!     })
//!     .collect();
//! let counts: Vec<u32> = greenlet::joinall(workers).into_iter().map(Result::unwrap).collect();
//! assert_eq!(counts, [1, 2, 3]); // each counted only its own
//! assert_eq!(REQUESTS.with(Cell::get), 0); // the root context has its own too
//! ```

// Layer: coordination. Owns the keys; the values live in each task's header (the hub).

#![forbid(unsafe_code)]

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use crate::hub::with_current_header;

pub use crate::greenlet_local;

/// Declares greenlet-local statics, as `thread_local!` declares
/// thread-locals: `static NAME: Type = initial value;`, any number of them,
/// with attributes and visibility.
///
/// Each becomes a [`LocalKey`]; read it with [`LocalKey::with`].
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
///
/// greenlet::greenlet_local! {
///     /// The name of the user this greenlet serves.
///     pub static USER: RefCell<String> = RefCell::new(String::from("anonymous"));
///     static DEPTH: std::cell::Cell<usize> = std::cell::Cell::new(0);
/// }
///
/// let g = greenlet::spawn(|| {
///     USER.with(|user| *user.borrow_mut() = "ada".into());
///     USER.with(|user| user.borrow().clone())
/// });
/// assert_eq!(g.join().unwrap(), "ada");
/// assert_eq!(USER.with(|user| user.borrow().clone()), "anonymous");
/// assert_eq!(DEPTH.with(|depth| depth.get()), 0);
/// ```
#[macro_export]
macro_rules! greenlet_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::local::LocalKey<$t> = {
            fn init() -> $t {
                $init
            }
            $crate::local::LocalKey::new(init)
        };
        $crate::greenlet_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::greenlet_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}

/// The key of a greenlet-local value, made by [`greenlet_local!`](crate::greenlet_local).
///
/// # Examples
///
/// ```
/// greenlet::greenlet_local! {
///     static ID: u32 = 7;
/// }
/// let key: &'static greenlet::local::LocalKey<u32> = &ID;
/// assert_eq!(key.with(|id| *id), 7);
/// ```
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> LocalKey<T> {
    /// Used by [`greenlet_local!`](crate::greenlet_local); not meant to be
    /// called directly.
    ///
    /// # Examples
    ///
    /// ```
    /// static ANSWER: greenlet::local::LocalKey<u32> = greenlet::local::LocalKey::new(|| 42);
    /// assert_eq!(ANSWER.with(|answer| *answer), 42);
    /// ```
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    /// Runs `f` with the current greenlet's value (the root context's
    /// outside greenlets), making it from the initial value on first use.
    ///
    /// The value lives until its greenlet finishes; wrap it in a `Cell` or
    /// `RefCell` to change it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    ///
    /// greenlet::greenlet_local! {
    ///     static HITS: Cell<u32> = Cell::new(0);
    /// }
    /// HITS.with(|hits| hits.set(hits.get() + 1));
    /// assert_eq!(HITS.with(Cell::get), 1);
    /// let other = greenlet::spawn(|| HITS.with(Cell::get));
    /// assert_eq!(other.join().unwrap(), 0);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let value = self.value();
        f(&value)
    }

    /// This task's value, made on first use. Shared out as an `Rc` so that
    /// `f` runs with no borrow of the table held (it may use other locals).
    fn value(&'static self) -> Rc<T> {
        let key = self as *const LocalKey<T> as usize;
        let found = with_current_header(|header| {
            let locals = header.locals.borrow();
            locals
                .iter()
                .flat_map(|locals| locals.iter())
                .find(|(k, _)| *k == key)
                .map(|(_, value)| value.clone())
        });
        let value = match found {
            Some(value) => value,
            None => {
                // Made with no borrow held: the initialiser may use other locals.
                let value: Rc<dyn Any> = Rc::new((self.init)());
                with_current_header(|header| {
                    let mut locals = header.locals.borrow_mut();
                    locals.get_or_insert_default().push((key, value.clone()));
                });
                value
            }
        };
        value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("a greenlet-local's key is its own static"))
    }
}

/// Drops the running greenlet's locals now (see `Header::drop_locals`).
pub(crate) fn drop_current_locals() {
    with_current_header(|header| header.drop_locals());
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}
