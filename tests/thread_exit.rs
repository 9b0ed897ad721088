//! What happens when a thread with a hub exits: its greenlets are killed and
//! unwound (their destructors run, their stacks and sockets are freed), and
//! destructors that use greenlets while the thread's thread-locals go away
//! work instead of aborting. The scenarios that aborted or exhausted the
//! process run in a child.

mod util;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use greenlet::queue::Queue;
use util::{LONG, child, ms};

/// Adds one to a shared count when dropped, from any thread.
struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// On a new thread, leaves `n` greenlets parked in a sleep and `n` in a
/// queue's `get`, each holding a `CountDrop`; returns when the thread has exited.
fn exit_with_parked_greenlets(n: usize, dropped: &Arc<AtomicUsize>) {
    let dropped = dropped.clone();
    thread::spawn(move || {
        let queue: Queue<u32> = Queue::new();
        for _ in 0..n {
            let guard = CountDrop(dropped.clone());
            greenlet::spawn(move || {
                let _guard = guard;
                greenlet::sleep(LONG);
            });
            let (guard, queue) = (CountDrop(dropped.clone()), queue.clone());
            greenlet::spawn(move || {
                let _guard = guard;
                queue.get();
            });
        }
        greenlet::yield_now(); // every one starts and parks
        assert_eq!(greenlet::stats().parked, 2 * n);
    })
    .join()
    .unwrap();
}

#[test]
fn a_thread_that_exits_with_parked_greenlets_runs_their_destructors() {
    let dropped = Arc::new(AtomicUsize::new(0));
    exit_with_parked_greenlets(500, &dropped);
    assert_eq!(dropped.load(Ordering::SeqCst), 1000);
}

#[test]
fn a_greenlet_whose_destructor_sleeps_finishes_it_as_its_thread_exits() {
    let slept = Arc::new(AtomicUsize::new(0));
    let counter = slept.clone();
    thread::spawn(move || {
        struct SleepThenCount(Arc<AtomicUsize>);
        impl Drop for SleepThenCount {
            fn drop(&mut self) {
                greenlet::sleep(ms(20));
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let guard = SleepThenCount(counter);
        greenlet::spawn(move || {
            let _guard = guard;
            greenlet::sleep(LONG);
        });
        greenlet::yield_now();
    })
    .join()
    .unwrap();
    assert_eq!(slept.load(Ordering::SeqCst), 1);
}

#[test]
fn a_socket_held_by_a_greenlet_closes_as_its_thread_exits() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let stream = greenlet::net::TcpStream::connect(addr).unwrap();
        greenlet::spawn(move || {
            let mut buf = [0; 16];
            let _ = (&stream).read(&mut buf); // parked: the peer never writes
        });
        greenlet::yield_now();
    })
    .join()
    .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0; 16];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "the peer sees EOF");
}

#[test]
fn a_greenlet_spawned_but_never_run_drops_its_closure_as_its_thread_exits() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    thread::spawn(move || {
        let guard = CountDrop(counter);
        greenlet::spawn(move || drop(guard));
        greenlet::spawn_later(LONG, || ());
    })
    .join()
    .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

/// Counts the memory mappings of this process.
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn thirty_threads_that_exit_with_parked_greenlets_leave_no_mappings_behind() {
    child::assert_runs_to_the_end(
        "thirty_threads_that_exit_with_parked_greenlets_leave_no_mappings_behind",
        || {
            let dropped = Arc::new(AtomicUsize::new(0));
            exit_with_parked_greenlets(500, &dropped); // warms the allocator up
            let before = mappings();
            for _ in 0..30 {
                exit_with_parked_greenlets(500, &dropped);
            }
            let after = mappings();
            assert_eq!(dropped.load(Ordering::SeqCst), 31 * 1000);
            // Each such thread used to leave ~1,000 stacks (2,000 mappings).
            assert!(
                after < before + 200,
                "mappings grew from {before} to {after}"
            );
        },
    );
}

greenlet::greenlet_local! {
    /// The root context's value does its cleanup with greenlets.
    static ROOT_CLEANUP: std::cell::RefCell<Option<BlockingCleanup>> =
        std::cell::RefCell::new(None);
}

/// A destructor that sleeps, waits for a greenlet through a queue and sets
/// (and cancels) a timer with `with_timeout`, then counts.
struct BlockingCleanup(Arc<AtomicUsize>);

impl Drop for BlockingCleanup {
    fn drop(&mut self) {
        greenlet::sleep(ms(5));
        let queue = Queue::new();
        let helper = {
            let queue = queue.clone();
            greenlet::spawn(move || queue.put(7))
        };
        assert_eq!(queue.get(), 7);
        helper.join().unwrap();
        let inside = greenlet::with_timeout(LONG, || {
            greenlet::yield_now();
            1
        });
        assert_eq!(inside, Ok(1));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_root_greenlet_local_whose_destructor_sleeps_uses_a_queue_and_a_timeout_runs_at_thread_exit() {
    child::assert_runs_to_the_end(
        "a_root_greenlet_local_whose_destructor_sleeps_uses_a_queue_and_a_timeout_runs_at_thread_exit",
        || {
            let done = Arc::new(AtomicUsize::new(0));
            let counter = done.clone();
            thread::spawn(move || {
                ROOT_CLEANUP.with(|slot| *slot.borrow_mut() = Some(BlockingCleanup(counter)));
            })
            .join()
            .unwrap();
            assert_eq!(done.load(Ordering::SeqCst), 1);
        },
    );
}

thread_local! {
    static EARLY: std::cell::RefCell<Option<BlockingCleanup>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn a_thread_local_made_before_the_hub_may_use_greenlets_in_its_destructor() {
    child::assert_runs_to_the_end(
        "a_thread_local_made_before_the_hub_may_use_greenlets_in_its_destructor",
        || {
            let done = Arc::new(AtomicUsize::new(0));
            let counter = done.clone();
            thread::spawn(move || {
                // Registered before the hub exists, so destroyed after it.
                EARLY.with(|slot| *slot.borrow_mut() = Some(BlockingCleanup(counter)));
                greenlet::spawn(|| greenlet::sleep(ms(1))).join().unwrap();
            })
            .join()
            .unwrap();
            assert_eq!(done.load(Ordering::SeqCst), 1);
        },
    );
}
