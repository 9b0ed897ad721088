//! Handles to a thread's hub that other threads can hold: [`Handle`],
//! [`current`], [`spawn_thread`]. A handle hands the hub jobs (the
//! greenlet layer's `Handle::spawn` is one) through the hub's `Remote`, and
//! wakes it through its poller.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::thread;

use super::{Hub, Remote, external_signal, try_with_hub, with_hub};

/// Work for a hub from another thread, run by the hub's loop on its own
/// thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// A handle to one thread's hub, usable from any thread: `Clone + Send +
/// Sync`. [`Handle::spawn`] runs a closure as a greenlet on that hub.
///
/// A hub made by [`spawn_thread`] runs until every handle to it is dropped
/// and its greenlets have ended. Any other thread's hub lives as long as
/// its thread; work handed to a hub whose thread has exited is dropped (a
/// greenlet spawned there is reported killed).
///
/// # Examples
///
/// ```
/// let worker = greenlet::hub::spawn_thread("worker").unwrap();
/// let g = worker.spawn(|| std::thread::current().name().map(String::from));
/// assert_eq!(g.join().unwrap().as_deref(), Some("worker"));
/// ```
pub struct Handle {
    remote: Arc<Remote>,
}

/// A handle to this thread's hub (made on first use).
///
/// # Examples
///
/// ```
/// let here = greenlet::hub::current();
/// let (tx, rx) = greenlet::channel::bounded(1);
/// std::thread::spawn(move || {
///     let g = here.spawn(|| std::thread::current().id());
///     tx.send(g.join().unwrap()).unwrap();
/// });
/// // The greenlet runs on this thread, while its root context waits here.
/// assert_eq!(rx.recv().unwrap(), std::thread::current().id());
/// ```
pub fn current() -> Handle {
    with_hub(|hub| Handle::new(hub.remote.clone()))
}

/// Starts an OS thread named `name` whose root context runs a hub, and
/// returns a handle to it. The thread runs its greenlets until every
/// [`Handle`] to its hub is dropped (a [`RemoteGreenlet`] keeps one, to kill
/// its greenlet) and they have all ended (greenlets that can never be woken
/// then are unwound as the thread exits).
///
/// [`RemoteGreenlet`]: crate::RemoteGreenlet
///
/// # Errors
///
/// The thread cannot be created (`std::thread::Builder::spawn`'s error).
///
/// # Examples
///
/// ```
/// let hub = greenlet::hub::spawn_thread("squares").unwrap();
/// let squares: Vec<_> = (1..=3u64).map(|n| hub.spawn(move || n * n)).collect();
/// let got: Vec<u64> = squares.into_iter().map(|g| g.join().unwrap()).collect();
/// assert_eq!(got, [1, 4, 9]);
/// ```
pub fn spawn_thread(name: &str) -> io::Result<Handle> {
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let handle = current();
            let remote = handle.remote.clone();
            let (waker, wait) = external_signal();
            *remote
                .on_last_handle
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(waker);
            if handle_tx.send(handle).is_err() {
                return; // the caller is gone (it cannot be: it waits below)
            }
            // Park the root context, running the greenlets that handles
            // start, until the last handle is dropped.
            wait.wait_with(
                "hub::spawn_thread",
                |_| (),
                || remote.handles.load(Ordering::Acquire) == 0,
            );
            with_hub(Hub::run_until_idle);
        })?;
    handle_rx
        .recv()
        .map_err(|_| io::Error::other("the hub thread ended before it started"))
}

impl Handle {
    fn new(remote: Arc<Remote>) -> Handle {
        remote.handles.fetch_add(1, Ordering::Relaxed);
        Handle { remote }
    }

    /// Runs `job` on the hub's thread: at once if that is this thread,
    /// else from its loop, which is woken for it. Gives the job back if the
    /// hub's thread has exited.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        let here = try_with_hub(|hub| {
            let mine = Arc::ptr_eq(&hub.remote, &self.remote);
            if !mine {
                hub.woke_another_thread.set(true);
            }
            mine
        }) == Some(true);
        if here {
            job();
            return Ok(());
        }
        {
            let mut jobs = self
                .remote
                .jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !self.remote.open.load(Ordering::Acquire) {
                return Err(job); // the hub is gone
            }
            jobs.push(job);
        }
        self.remote.notify();
        Ok(())
    }
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        Handle::new(self.remote.clone())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.remote.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waker = self
                .remote
                .on_last_handle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("Handle { .. }")
    }
}
