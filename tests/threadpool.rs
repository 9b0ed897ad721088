//! `threadpool`: `spawn_blocking` on a `ThreadPool` and on the shared pool,
//! from the root and from greenlets; results, panics, kills, timeouts, the
//! thread cap and reuse, and the deadlock check.

mod util;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use greenlet::threadpool::{self, DEFAULT_MAX_THREADS, ThreadPool};
use greenlet::{Elapsed, Greenlet, joinall, sleep, spawn, with_timeout, yield_now};
use util::{DropFlag, assert_elapsed, flag, ms, panic_text, wait_until};

/// How long a pool thread waits on a [`Gate`] or a [`Rendezvous`] before it
/// gives up: a failing test ends instead of hanging, well under 10 s.
const GIVE_UP: Duration = Duration::from_secs(5);

/// A gate that pool threads wait at until the test opens it.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        let (open, opened) = &*self.0;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }

    /// Blocks this OS thread until the gate opens; false if it stayed shut for [`GIVE_UP`].
    fn wait(&self) -> bool {
        let (open, opened) = &*self.0;
        let guard = open.lock().unwrap();
        let (guard, _) = opened
            .wait_timeout_while(guard, GIVE_UP, |open| !*open)
            .unwrap();
        *guard
    }
}

/// A meeting point for `parties` pool threads.
#[derive(Clone)]
struct Rendezvous {
    parties: usize,
    state: Arc<(Mutex<usize>, Condvar)>,
}

impl Rendezvous {
    fn new(parties: usize) -> Rendezvous {
        Rendezvous {
            parties,
            state: Arc::default(),
        }
    }

    /// Arrives, then blocks this OS thread until every party has; false if
    /// they had not all arrived within [`GIVE_UP`].
    fn meet(&self) -> bool {
        let (arrived, all_here) = &*self.state;
        let mut guard = arrived.lock().unwrap();
        *guard += 1;
        all_here.notify_all();
        let (guard, _) = all_here
            .wait_timeout_while(guard, GIVE_UP, |n| *n < self.parties)
            .unwrap();
        *guard >= self.parties
    }
}

/// A panic payload that is neither `&str` nor `String`.
#[derive(Debug, PartialEq)]
struct Failure {
    code: u32,
}

// ---- results and panics ---------------------------------------------------

#[test]
fn spawn_blocking_in_the_root_context_returns_the_result_of_f() {
    let pool = ThreadPool::new(2);
    assert_eq!(pool.spawn_blocking(|| 6 * 7), 42);
}

#[test]
fn spawn_blocking_inside_a_greenlet_returns_the_result_of_f() {
    let pool = ThreadPool::new(2);
    let g = spawn(move || pool.spawn_blocking(|| String::from("from a pool thread")));
    assert_eq!(g.join().unwrap(), "from a pool thread");
}

#[test]
fn f_runs_on_a_thread_other_than_the_caller() {
    let pool = ThreadPool::new(2);
    let caller = thread::current().id();
    let worker = pool.spawn_blocking(|| thread::current().id());
    assert_ne!(worker, caller);
}

#[test]
fn the_shared_spawn_blocking_returns_the_result_of_f() {
    let g = spawn(|| threadpool::spawn_blocking(|| (1..=10u64).product::<u64>()));
    assert_eq!(g.join().unwrap(), 3_628_800);
    assert_eq!(threadpool::spawn_blocking(|| "root"), "root");
}

#[test]
fn a_panic_in_f_resumes_in_the_caller_with_its_original_payload() {
    let pool = ThreadPool::new(2);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.spawn_blocking(|| -> u32 { panic::panic_any(Failure { code: 7 }) })
    }))
    .unwrap_err();
    assert_eq!(*caught.downcast::<Failure>().unwrap(), Failure { code: 7 });
}

#[test]
fn a_panic_in_f_inside_a_greenlet_is_returned_by_its_join() {
    let pool = ThreadPool::new(2);
    let g = spawn(move || pool.spawn_blocking(|| -> u32 { panic!("job failed") }));
    let payload = g.join().unwrap_err().into_panic();
    assert_eq!(panic_text(&*payload), "job failed");
}

#[test]
fn a_pool_thread_whose_job_panicked_runs_the_next_job() {
    let pool = ThreadPool::new(1);
    let failed = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.spawn_blocking(|| -> u32 { panic!("first job failed") })
    }));
    assert!(failed.is_err());
    assert_eq!(pool.spawn_blocking(|| 2), 2);
    assert_eq!(pool.threads(), 1);
}

// ---- other greenlets keep running ------------------------------------------

#[test]
fn other_greenlets_keep_running_while_spawn_blocking_blocks_a_pool_thread() {
    let pool = ThreadPool::new(2);
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let ticks = ticks.clone();
        spawn(move || {
            loop {
                sleep(ms(10));
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let start = Instant::now();
    // The job counts the ticks that happen while it blocks its thread.
    let ticks_during_job = {
        let ticks = ticks.clone();
        pool.spawn_blocking(move || {
            let before = ticks.load(Ordering::SeqCst);
            thread::sleep(ms(200));
            ticks.load(Ordering::SeqCst) - before
        })
    };
    let took = start.elapsed();
    ticker.kill();
    assert!(ticker.join().unwrap_err().is_killed());
    // About 20 expected; had the hub's thread been blocked there would be none.
    assert!(
        ticks_during_job >= 5,
        "only {ticks_during_job} ticks while the job blocked for 200 ms"
    );
    // 1.5 x 200 ms plus 100 ms of slack for a busy machine.
    assert_elapsed(took, ms(200), ms(400));
}

#[test]
fn a_greenlet_calling_spawn_blocking_does_not_stop_the_root_from_running() {
    let pool = ThreadPool::new(2);
    let gate = Gate::default();
    let caller = {
        let gate = gate.clone();
        spawn(move || pool.spawn_blocking(move || gate.wait()))
    };
    yield_now(); // it submits its job and parks
    assert!(!caller.is_finished());
    // The root runs on while the job is held at the gate.
    gate.open();
    assert!(caller.join().unwrap(), "the gate did not open in time");
}

// ---- the thread cap --------------------------------------------------------

#[test]
fn many_greenlets_calling_spawn_blocking_each_get_their_own_result() {
    let pool = ThreadPool::new(4);
    let callers: Vec<Greenlet<u64>> = (0..16u64)
        .map(|i| {
            let pool = pool.clone();
            spawn(move || {
                pool.spawn_blocking(move || {
                    thread::sleep(ms(5));
                    i * i
                })
            })
        })
        .collect();
    let results: Vec<u64> = joinall(callers).into_iter().map(Result::unwrap).collect();
    assert_eq!(results, (0..16u64).map(|i| i * i).collect::<Vec<_>>());
}

#[test]
fn a_pool_of_four_never_has_more_than_four_threads_alive() {
    let pool = ThreadPool::new(4);
    let inside = Arc::new(AtomicUsize::new(0));
    let most_inside = Arc::new(AtomicUsize::new(0));
    let most_threads = Arc::new(AtomicUsize::new(0));
    let callers: Vec<Greenlet<()>> = (0..16)
        .map(|_| {
            let (pool, inside, most_inside, most_threads) = (
                pool.clone(),
                inside.clone(),
                most_inside.clone(),
                most_threads.clone(),
            );
            spawn(move || {
                let job_pool = pool.clone();
                pool.spawn_blocking(move || {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most_inside.fetch_max(now, Ordering::SeqCst);
                    most_threads.fetch_max(job_pool.threads(), Ordering::SeqCst);
                    thread::sleep(ms(10));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            })
        })
        .collect();
    yield_now(); // every caller has submitted its job
    assert!(pool.threads() <= 4, "{} threads", pool.threads());
    for result in joinall(callers) {
        result.unwrap();
    }
    assert!(pool.threads() <= 4, "{} threads", pool.threads());
    assert!(most_threads.load(Ordering::SeqCst) <= 4);
    assert!(most_inside.load(Ordering::SeqCst) <= 4);
}

#[test]
fn a_pool_of_four_runs_four_jobs_at_once() {
    let pool = ThreadPool::new(4);
    let rendezvous = Rendezvous::new(4);
    let callers: Vec<Greenlet<bool>> = (0..4)
        .map(|_| {
            let (pool, rendezvous) = (pool.clone(), rendezvous.clone());
            spawn(move || pool.spawn_blocking(move || rendezvous.meet()))
        })
        .collect();
    let met: Vec<bool> = joinall(callers).into_iter().map(Result::unwrap).collect();
    assert_eq!(met, [true; 4], "the four jobs did not all run at once");
    assert_eq!(pool.threads(), 4);
}

#[test]
fn jobs_beyond_the_cap_wait_their_turn_and_then_run() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let first = {
        let (pool, gate) = (pool.clone(), gate.clone());
        spawn(move || pool.spawn_blocking(move || gate.wait()))
    };
    let second = {
        let pool = pool.clone();
        spawn(move || pool.spawn_blocking(|| "second"))
    };
    yield_now(); // both have submitted; the only thread is held at the gate
    assert!(!second.is_finished());
    gate.open();
    assert_eq!(second.join().unwrap(), "second");
    assert!(first.join().unwrap(), "the gate did not open in time");
    assert_eq!(pool.threads(), 1);
}

#[test]
fn sequential_calls_reuse_the_idle_thread_instead_of_starting_another() {
    let pool = ThreadPool::new(4);
    // Each call starts after the previous one returned, when its thread is
    // idle; fifty of them make a thread started for nothing hard to miss.
    for call in 0..50 {
        pool.spawn_blocking(|| ());
        assert_eq!(pool.threads(), 1, "after call {call}");
    }
}

#[test]
fn a_new_pool_has_no_threads_and_reports_its_cap() {
    let pool = ThreadPool::new(3);
    assert_eq!((pool.threads(), pool.max_threads()), (0, 3));
    assert_eq!(DEFAULT_MAX_THREADS, 64);
}

#[test]
fn thread_pool_new_of_zero_threads_panics() {
    let payload = panic::catch_unwind(|| ThreadPool::new(0)).unwrap_err();
    assert!(
        panic_text(&*payload).contains("at least one thread"),
        "unexpected panic: {}",
        panic_text(&*payload)
    );
}

// ---- kill and timeouts -----------------------------------------------------

#[test]
fn a_greenlet_killed_while_parked_in_spawn_blocking_unwinds_at_once() {
    let pool = ThreadPool::new(2);
    let gate = Gate::default();
    let dropped = flag();
    let caller = {
        let (gate, guard) = (gate.clone(), DropFlag(dropped.clone()));
        spawn(move || {
            let _guard = guard;
            pool.spawn_blocking(move || gate.wait())
        })
    };
    yield_now(); // it submits its job and parks
    caller.kill();
    // The job is held at the gate until after the join: the caller cannot
    // have waited for it.
    assert!(caller.join().unwrap_err().is_killed());
    assert!(dropped.get(), "the caller's destructors did not run");
    gate.open();
}

#[test]
fn the_job_of_a_greenlet_killed_while_parked_in_spawn_blocking_still_completes() {
    let pool = ThreadPool::new(2);
    let gate = Gate::default();
    let completed = Arc::new(AtomicBool::new(false));
    let caller = {
        let (gate, completed) = (gate.clone(), completed.clone());
        spawn(move || {
            pool.spawn_blocking(move || {
                let opened = gate.wait();
                completed.store(true, Ordering::SeqCst);
                opened
            })
        })
    };
    yield_now();
    caller.kill();
    assert!(caller.join().unwrap_err().is_killed());
    assert!(!completed.load(Ordering::SeqCst));
    gate.open();
    wait_until(Duration::from_secs(5), || completed.load(Ordering::SeqCst));
}

#[test]
fn with_timeout_around_spawn_blocking_returns_elapsed_on_time() {
    let pool = ThreadPool::new(2);
    let gate = Gate::default();
    let start = Instant::now();
    let result = {
        let gate = gate.clone();
        with_timeout(ms(50), || pool.spawn_blocking(move || gate.wait()))
    };
    let took = start.elapsed();
    gate.open();
    assert_eq!(result, Err(Elapsed::default()));
    // 1.5 x 50 ms plus 100 ms of slack for a busy machine.
    assert_elapsed(took, ms(50), ms(175));
}

#[test]
fn with_timeout_around_spawn_blocking_in_a_greenlet_returns_elapsed() {
    let pool = ThreadPool::new(2);
    let gate = Gate::default();
    let caller = {
        let gate = gate.clone();
        spawn(move || with_timeout(ms(20), || pool.spawn_blocking(move || gate.wait())))
    };
    let result = caller.join().unwrap();
    gate.open();
    assert_eq!(result, Err(Elapsed::default()));
}

// ---- the deadlock check ------------------------------------------------------

#[test]
fn a_hub_waiting_only_for_spawn_blocking_work_is_not_reported_as_a_deadlock() {
    let pool = ThreadPool::new(2);
    // While the root joins, the only greenlet waits on a pool thread: no
    // timer, no socket, nothing runnable on the hub.
    let caller = spawn(move || {
        pool.spawn_blocking(|| {
            thread::sleep(ms(50));
            "done"
        })
    });
    assert_eq!(caller.join().unwrap(), "done");
}

#[test]
fn a_real_deadlock_after_spawn_blocking_returned_is_still_reported() {
    let pool = ThreadPool::new(2);
    assert_eq!(pool.spawn_blocking(|| 1), 1);
    // The finished job no longer counts as work that could wake the root.
    let payload = panic::catch_unwind(|| sleep(Duration::MAX)).unwrap_err();
    assert!(
        panic_text(&*payload).starts_with("greenlet: deadlock"),
        "{}",
        panic_text(&*payload)
    );
}

/// A value whose destructor panics.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("PanicOnDrop dropped");
    }
}

#[test]
fn a_result_that_panics_when_dropped_on_the_pool_thread_does_not_cost_the_pool_its_thread() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let caller = {
        let (pool, gate) = (pool.clone(), gate.clone());
        spawn(move || {
            pool.spawn_blocking(move || {
                gate.wait();
                PanicOnDrop
            });
        })
    };
    yield_now(); // it submits its job and parks
    caller.kill();
    assert!(caller.join().unwrap_err().is_killed());
    gate.open(); // the job returns; its result is dropped on the pool thread
    let next = with_timeout(Duration::from_secs(2), || pool.spawn_blocking(|| 1));
    assert_eq!(next, Ok::<_, Elapsed>(1), "{pool:?}");
}
