//! The coordination primitives' costs, each beside OS threads in the same
//! run: a queue hand-off, a contended mutex hand-off, and `Pool::map` over
//! 100,000 tiny jobs.
//!
//! Run: `cargo bench --bench sync`

use std::hint::black_box;
use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Instant;

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use greenlet::lock::Mutex as GreenMutex;
use greenlet::pool::Pool;

/// One hand-off is one item passed from one task to the other, which was
/// parked waiting for it. `greenlet_yield_now` is the bare switch, for scale.
fn queue_handoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_handoff");
    group.bench_function("os_thread_mpsc", |b| b.iter_custom(common::mpsc_ping_pong));
    group.bench_function("greenlet_queue", |b| b.iter_custom(common::queue_ping_pong));
    group.bench_function("greenlet_yield_now", |b| {
        b.iter_custom(common::yield_ping_pong)
    });
    group.finish();
}

/// Two tasks take one lock in turn; each iteration is one acquisition. The
/// greenlets hold the lock across a switch, so every acquisition is a
/// hand-off to a parked waiter; the threads contend on two cores.
fn mutex_handoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex_handoff");
    group.bench_function("os_thread_std_mutex", |b| {
        b.iter_custom(|iters| {
            let per_thread = iters.div_ceil(2);
            let counter = Arc::new(Mutex::new(0u64));
            let start = Instant::now();
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let counter = counter.clone();
                    thread::spawn(move || {
                        for _ in 0..per_thread {
                            *counter.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            workers.into_iter().for_each(|w| w.join().unwrap());
            let elapsed = start.elapsed();
            assert_eq!(*counter.lock().unwrap(), 2 * per_thread);
            elapsed
        })
    });
    group.bench_function("greenlet_mutex", |b| {
        b.iter_custom(|iters| {
            let per_greenlet = iters.div_ceil(2);
            let counter = Rc::new(GreenMutex::new(0u64));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let counter = counter.clone();
                    greenlet::spawn(move || {
                        for _ in 0..per_greenlet {
                            let mut guard = counter.lock();
                            *guard += 1;
                            greenlet::yield_now(); // the other parks in lock()
                        }
                    })
                })
                .collect();
            let start = Instant::now();
            greenlet::joinall(workers);
            let elapsed = start.elapsed();
            assert_eq!(*counter.lock(), 2 * per_greenlet);
            elapsed
        })
    });
    group.bench_function("greenlet_mutex_uncontended", |b| {
        let counter = GreenMutex::new(0u64);
        b.iter(|| *counter.lock() += 1)
    });
    group.finish();
}

const JOBS: u64 = 100_000;

fn tiny_job(x: u64) -> u64 {
    black_box(x).wrapping_mul(2654435761)
}

/// `map` of a trivial function over 100,000 items, results in input order.
/// The OS-thread side is the usual hand-made pool: workers fed through a
/// channel (a thread per job would take seconds).
fn pool_map(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_map_100k");
    group.sample_size(10);
    group.bench_function("os_thread_pool_4", |b| {
        b.iter(|| {
            let (job_tx, job_rx) = mpsc::channel::<u64>();
            let job_rx = Arc::new(Mutex::new(job_rx));
            let (result_tx, result_rx) = mpsc::channel::<(u64, u64)>();
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let job_rx = job_rx.clone();
                    let result_tx = result_tx.clone();
                    thread::spawn(move || {
                        loop {
                            let job = job_rx.lock().unwrap().recv();
                            let Ok(x) = job else { break };
                            result_tx.send((x, tiny_job(x))).unwrap();
                        }
                    })
                })
                .collect();
            drop(result_tx);
            for x in 0..JOBS {
                job_tx.send(x).unwrap();
            }
            drop(job_tx);
            let mut results = vec![0; JOBS as usize];
            for (x, y) in result_rx {
                results[x as usize] = y;
            }
            workers.into_iter().for_each(|w| w.join().unwrap());
            results
        })
    });
    for size in [10, 1_000] {
        group.bench_function(format!("greenlet_pool_{size}"), |b| {
            let pool = Pool::new(size);
            b.iter(|| pool.map(0..JOBS, tiny_job))
        });
    }
    group.finish();
}

criterion_group!(benches, queue_handoff, mutex_handoff, pool_map);
criterion_main!(benches);
