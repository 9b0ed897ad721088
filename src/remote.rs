//! Greenlets spawned on another thread's hub: [`Handle::spawn`] and
//! [`RemoteGreenlet`].
//!
//! `Handle::spawn` hands the hub a job that spawns the greenlet there, plus
//! a second greenlet that joins it and sends the outcome back through a
//! one-item [`channel`](crate::channel). A kill goes the same way: a job
//! that kills the greenlet, found in a per-thread table by its number.

// Layer: coordination. Owns remote spawns; uses channels, greenlets and the hub.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::channel::{self, Receiver, TryRecvError};
use crate::greenlet::{JoinError, spawn};
use crate::hub::{Handle, TaskRef, with_hub};

thread_local! {
    /// The greenlets of this thread spawned through a handle and not yet
    /// joined by their watcher: what a remote kill looks up.
    static SPAWNED: RefCell<HashMap<u64, TaskRef>> = RefCell::new(HashMap::new());
}

impl Handle {
    /// Runs `f` as a greenlet on this handle's hub, from any thread, and
    /// returns a handle to join or kill it from any thread.
    ///
    /// The greenlet starts once the hub's loop takes the job: at once if
    /// the caller runs on that hub (then it is an ordinary spawn), else the
    /// next time that hub checks for work from other threads. If the hub's
    /// thread has exited (or exits before taking the job), the closure is
    /// dropped and [`RemoteGreenlet::join`] returns
    /// [`JoinError::Killed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let hub = greenlet::hub::spawn_thread("compute").unwrap();
    /// let g = hub.spawn(|| (1..=10u64).product::<u64>());
    /// assert_eq!(g.join().unwrap(), 3_628_800);
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> RemoteGreenlet<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let key = NEXT.fetch_add(1, Ordering::Relaxed);
        let (outcome, result) = channel::bounded(1);
        let job = Box::new(move || {
            let greenlet = spawn(f);
            SPAWNED.with(|spawned| spawned.borrow_mut().insert(key, greenlet.task()));
            spawn(move || {
                let joined = greenlet.join();
                let _ = SPAWNED.try_with(|spawned| spawned.borrow_mut().remove(&key));
                let _ = outcome.send(joined);
            });
        });
        // A job the hub will never run is dropped with its channel's
        // sender: the join reports the greenlet killed.
        let _ = self.submit(job);
        RemoteGreenlet {
            key,
            hub: self.clone(),
            result,
            taken: Mutex::new(None),
        }
    }
}

/// A greenlet running on another thread's hub, from [`Handle::spawn`]:
/// join it or kill it from any thread. `Send` (for `T: Send`).
///
/// Dropping the handle detaches the greenlet, which runs on. Joining parks a
/// greenlet or the root context of a thread with a hub (whose greenlets run
/// meanwhile), or blocks a plain thread.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let hub = greenlet::hub::spawn_thread("sleeper").unwrap();
/// let g = hub.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
/// g.kill();
/// assert!(g.join().unwrap_err().is_killed());
/// ```
pub struct RemoteGreenlet<T> {
    key: u64,
    hub: Handle,
    result: Receiver<Result<T, JoinError>>,
    /// The outcome, once [`is_finished`](Self::is_finished) has taken it
    /// from the channel.
    taken: Mutex<Option<Result<T, JoinError>>>,
}

impl<T> RemoteGreenlet<T> {
    /// Waits for the greenlet to finish and returns what its closure
    /// returned, or why it has none (it panicked, or was killed, or its hub
    /// exited before it ran).
    ///
    /// # Examples
    ///
    /// ```
    /// let hub = greenlet::hub::spawn_thread("join").unwrap();
    /// let g = hub.spawn(|| -> u8 { panic!("boom") });
    /// assert!(g.join().unwrap_err().is_panic());
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        let taken = self
            .taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match taken {
            Some(outcome) => outcome,
            None => self.result.recv().unwrap_or(Err(JoinError::Killed)),
        }
    }

    /// Kills the greenlet (as [`Greenlet::kill`](crate::Greenlet::kill)
    /// does, on its own hub): it does not wait. Nothing happens if it has
    /// finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let hub = greenlet::hub::spawn_thread("killed").unwrap();
    /// let g = hub.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// g.kill();
    /// assert!(g.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) {
        let key = self.key;
        let _ = self.hub.submit(Box::new(move || {
            let task = SPAWNED.with(|spawned| spawned.borrow().get(&key).cloned());
            if let Some(task) = task {
                with_hub(|hub| hub.kill(&task));
            }
        }));
    }

    /// True once the greenlet has finished (run to the end, panicked, or
    /// been killed) and its outcome is here to join.
    ///
    /// # Examples
    ///
    /// ```
    /// let hub = greenlet::hub::spawn_thread("quick").unwrap();
    /// let g = hub.spawn(|| 1);
    /// while !g.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(g.join().unwrap(), 1);
    /// ```
    pub fn is_finished(&self) -> bool {
        let mut taken = self
            .taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if taken.is_some() {
            return true;
        }
        match self.result.try_recv() {
            Ok(outcome) => {
                *taken = Some(outcome);
                true
            }
            Err(TryRecvError::Disconnected) => {
                *taken = Some(Err(JoinError::Killed));
                true
            }
            Err(TryRecvError::Empty) => false,
        }
    }
}

impl<T> fmt::Debug for RemoteGreenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteGreenlet")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}
