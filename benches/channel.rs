//! `greenlet::channel` between threads, each figure beside its bar in the
//! same run:
//! - `channel_ping_pong`: one round trip (an item sent to a peer parked on
//!   the channel, and sent back on a second channel to the sender, parked in
//!   its turn), per iteration. `greenlet_two_hubs`: a greenlet on each of two
//!   OS threads, so both waits park a greenlet on its hub and every wake-up
//!   crosses threads (the hub's poller); against `std_mpsc_two_threads` (two
//!   plain threads, `std::sync::mpsc::channel`) and `tokio_mpsc_two_runtimes`
//!   (a task on each of two `current_thread` runtimes, on two OS threads,
//!   `tokio::sync::mpsc::unbounded_channel`); target: greenlet ≤ tokio.
//!   `greenlet_hub_to_thread`: a greenlet's requests answered by a plain
//!   thread (no hub there), against the same two rows. `greenlet_one_hub`
//!   (both greenlets on one hub: no thread crossing) is there for scale. Every channel is unbounded (at most one item is ever in
//!   flight); the threads are set up before the timing and torn down after.
//!   On this project's VMs a wake-up across threads comes in two regimes, a
//!   round trip of ~4 µs or of ~30–100 µs, for every row alike (std's
//!   threads too) and switching by itself from one second to the next: a
//!   ratio between two rows holds only if both ran in the same regime, so
//!   compare over several runs.
//! - `channel_throughput`: 10 million `u64`s from one producer thread (a
//!   plain thread, no greenlets) to one consumer: criterion's time is per
//!   batch of 10 million, its `thrpt` per item (`Throughput::Elements`).
//!   `greenlet_producer_thread_to_hub`: the consumer is a greenlet on another
//!   thread's hub; against `crossbeam_two_threads`: crossbeam-channel between
//!   two plain threads; target: greenlet ≤ crossbeam. Both with the same
//!   channel kind: `bounded_1024` and `unbounded`.
//! - `channel_throughput_working_producer`: the same, with a producer that
//!   does [`WORK`] multiply-adds (a few nanoseconds) before each send, so
//!   that it is no longer faster than the consumer. No target; it shows
//!   whether a receiver that keeps up with its sender slows the sender down.
//! - `channel_fan_in`: the same 10 million items shared by four producer
//!   threads (every fourth item each), so that the senders contend: greenlet
//!   (a hub's greenlet receives) against crossbeam-channel (a plain thread
//!   receives). No target; it shows what the senders' contention costs.
//!
//! - `spawn_blocking`: a short job on a pool thread and back, from a
//!   greenlet (`greenlet::threadpool`) and from a tokio task
//!   (`tokio::task::spawn_blocking`).
//!
//! Run: `cargo bench --bench channel`; one group: `cargo bench --bench
//! channel -- '^channel_ping_pong/'` (a filter is a regex over
//! `group/function`).
//!
//! The tokio runtimes are built as `#[tokio::main(flavor = "current_thread")]`
//! builds one, with the IO and time drivers on (the hub always has its
//! poller), and the ping-pong runs in spawned tasks, as it runs in spawned
//! greenlets.

use std::hint::black_box;
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use greenlet::channel;

/// A tokio runtime as `#[tokio::main(flavor = "current_thread")]` makes it.
fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `main` and `peer` on two new OS threads; returns what `main` timed.
/// `main` must end `peer` (by dropping its sender) before returning.
fn on_two_threads(
    main: impl FnOnce() -> Duration + Send + 'static,
    peer: impl FnOnce() + Send + 'static,
) -> Duration {
    let peer = thread::spawn(peer);
    let main = thread::spawn(main);
    let elapsed = main.join().unwrap();
    peer.join().unwrap();
    elapsed
}

/// The ping side of a ping-pong over greenlet channels: one untimed round
/// trip (the peer is up), then `iters` timed ones. Dropping `ping` at the
/// end disconnects the peer's loop.
fn greenlet_ping(
    iters: u64,
    ping: channel::Sender<u64>,
    pong: channel::Receiver<u64>,
) -> impl FnOnce() -> Duration {
    move || {
        ping.send(u64::MAX).unwrap();
        pong.recv().unwrap();
        let start = Instant::now();
        for i in 0..iters {
            ping.send(i).unwrap();
            black_box(pong.recv().unwrap());
        }
        start.elapsed()
    }
}

/// The pong side: sends back every item until the ping side is gone.
fn greenlet_pong(ping: channel::Receiver<u64>, pong: channel::Sender<u64>) -> impl FnOnce() {
    move || {
        for v in ping.iter() {
            pong.send(v).unwrap();
        }
    }
}

/// `iters` round trips between greenlets on two hubs (two OS threads).
fn greenlet_two_hubs(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = channel::unbounded();
    let (pong_tx, pong_rx) = channel::unbounded();
    let main = greenlet_ping(iters, ping_tx, pong_rx);
    let peer = greenlet_pong(ping_rx, pong_tx);
    on_two_threads(
        move || greenlet::spawn(main).join().unwrap(),
        move || greenlet::spawn(peer).join().unwrap(),
    )
}

/// `iters` round trips between a greenlet (on a new OS thread's hub) and a
/// plain thread.
fn greenlet_hub_to_thread(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = channel::unbounded();
    let (pong_tx, pong_rx) = channel::unbounded();
    let main = greenlet_ping(iters, ping_tx, pong_rx);
    let peer = greenlet_pong(ping_rx, pong_tx);
    on_two_threads(move || greenlet::spawn(main).join().unwrap(), peer)
}

/// `iters` round trips between two greenlets of one hub (a new OS thread's).
fn greenlet_one_hub(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = channel::unbounded();
    let (pong_tx, pong_rx) = channel::unbounded();
    let main = greenlet_ping(iters, ping_tx, pong_rx);
    let peer = greenlet_pong(ping_rx, pong_tx);
    thread::spawn(move || {
        let peer = greenlet::spawn(peer);
        let elapsed = greenlet::spawn(main).join().unwrap();
        peer.join().unwrap();
        elapsed
    })
    .join()
    .unwrap()
}

/// `iters` round trips between two plain threads over `std::sync::mpsc`.
fn std_mpsc_two_threads(iters: u64) -> Duration {
    let (ping, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong) = mpsc::channel::<u64>();
    on_two_threads(
        move || {
            ping.send(u64::MAX).unwrap();
            pong.recv().unwrap();
            let start = Instant::now();
            for i in 0..iters {
                ping.send(i).unwrap();
                black_box(pong.recv().unwrap());
            }
            start.elapsed()
        },
        move || {
            for v in ping_rx {
                pong_tx.send(v).unwrap();
            }
        },
    )
}

/// `iters` round trips between tasks of two `current_thread` runtimes (two
/// OS threads) over `tokio::sync::mpsc`.
fn tokio_mpsc_two_runtimes(iters: u64) -> Duration {
    let (ping, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let (pong_tx, mut pong) = tokio::sync::mpsc::unbounded_channel::<u64>();
    on_two_threads(
        move || {
            let runtime = tokio_current_thread();
            runtime.block_on(async move {
                tokio::spawn(async move {
                    ping.send(u64::MAX).unwrap();
                    pong.recv().await.unwrap();
                    let start = Instant::now();
                    for i in 0..iters {
                        ping.send(i).unwrap();
                        black_box(pong.recv().await.unwrap());
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        },
        move || {
            let runtime = tokio_current_thread();
            runtime.block_on(async move {
                tokio::spawn(async move {
                    while let Some(v) = ping_rx.recv().await {
                        pong_tx.send(v).unwrap();
                    }
                })
                .await
                .unwrap()
            })
        },
    )
}

fn channel_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel_ping_pong");
    group.bench_function("greenlet_two_hubs", |b| b.iter_custom(greenlet_two_hubs));
    group.bench_function("std_mpsc_two_threads", |b| {
        b.iter_custom(std_mpsc_two_threads)
    });
    group.bench_function("tokio_mpsc_two_runtimes", |b| {
        b.iter_custom(tokio_mpsc_two_runtimes)
    });
    group.bench_function("greenlet_hub_to_thread", |b| {
        b.iter_custom(greenlet_hub_to_thread)
    });
    group.bench_function("greenlet_one_hub", |b| b.iter_custom(greenlet_one_hub));
    group.finish();
}

/// Items per batch in `channel_throughput`.
const ITEMS: u64 = 10_000_000;

/// The sum the consumer must see: 0 + 1 + … + (ITEMS - 1).
const SUM: u64 = ITEMS * (ITEMS - 1) / 2;

/// Channel capacity of the bounded rows (`None`: unbounded).
const KINDS: [(&str, Option<usize>); 2] = [("bounded_1024", Some(1024)), ("unbounded", None)];

/// Producer threads per batch in the fan-in rows.
const FAN_IN: u64 = 4;

/// Multiply-adds a producer of `channel_throughput_working_producer` does
/// before each send.
const WORK: u32 = 16;

/// Item `i`, after `work` multiply-adds of the producer's own.
fn produce(i: u64, work: u32) -> u64 {
    if work == 0 {
        return i;
    }
    let mut x = i;
    for _ in 0..work {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    black_box(x);
    i
}

/// The items producer `p` of `producers` sends: every `producers`-th, so
/// that all of them together send `0..ITEMS` once.
fn share(p: u64, producers: u64) -> impl Iterator<Item = u64> {
    (p..ITEMS).step_by(producers as usize)
}

/// Times one batch: each of `producers` and `consumer` on a new OS thread,
/// from when all are ready (a barrier) until all have ended. The consumer
/// returns the sum of what it received, checked.
fn time_batch(
    producers: Vec<Box<dyn FnOnce() + Send>>,
    consumer: impl FnOnce(Arc<Barrier>) -> u64 + Send + 'static,
) -> Duration {
    let ready = Arc::new(Barrier::new(producers.len() + 2));
    let consumer = {
        let ready = ready.clone();
        thread::spawn(move || consumer(ready))
    };
    let producers: Vec<_> = producers
        .into_iter()
        .map(|producer| {
            let ready = ready.clone();
            thread::spawn(move || {
                ready.wait();
                producer();
            })
        })
        .collect();
    ready.wait();
    let start = Instant::now();
    for producer in producers {
        producer.join().unwrap();
    }
    let sum = consumer.join().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(sum, SUM);
    elapsed
}

/// `producers` closures, each sending its [`share`] of the items through
/// its clone of `tx` with `send`, each item after `work` multiply-adds
/// ([`produce`]); `tx` itself is dropped.
fn senders<S: Clone + Send + 'static>(
    tx: S,
    producers: u64,
    work: u32,
    send: fn(&S, u64),
) -> Vec<Box<dyn FnOnce() + Send>> {
    (0..producers)
        .map(|p| {
            let tx = tx.clone();
            Box::new(move || {
                for i in share(p, producers) {
                    send(&tx, produce(i, work));
                }
            }) as Box<dyn FnOnce() + Send>
        })
        .collect()
}

/// `ITEMS` from `producers` plain threads to a greenlet on another
/// thread's hub, each item after `work` multiply-adds.
fn greenlet_batch(cap: Option<usize>, producers: u64, work: u32) -> Duration {
    let (tx, rx) = match cap {
        Some(cap) => channel::bounded(cap),
        None => channel::unbounded(),
    };
    // The producers' clones are the senders: the consumer ends with them.
    let producers = senders(tx, producers, work, |tx, i| tx.send(i).unwrap());
    time_batch(producers, move |ready| {
        // The hub is made by this first spawn, before the barrier.
        greenlet::spawn(move || {
            ready.wait();
            rx.iter().fold(0u64, u64::wrapping_add)
        })
        .join()
        .unwrap()
    })
}

/// `ITEMS` from `producers` plain threads to one more over
/// crossbeam-channel, each item after `work` multiply-adds.
fn crossbeam_batch(cap: Option<usize>, producers: u64, work: u32) -> Duration {
    let (tx, rx) = match cap {
        Some(cap) => crossbeam_channel::bounded(cap),
        None => crossbeam_channel::unbounded(),
    };
    // The producers' clones are the senders: the consumer ends with them.
    let producers = senders(tx, producers, work, |tx, i| tx.send(i).unwrap());
    time_batch(producers, move |ready| {
        ready.wait();
        rx.iter().fold(0u64, u64::wrapping_add)
    })
}

/// One iteration is one batch of `ITEMS`, on threads made for it; a sample
/// is a few batches, so flat sampling and 10 samples.
fn channel_throughput(c: &mut Criterion) {
    throughput_group(c, "channel_throughput", 0);
}

/// `channel_throughput` with a producer that works [`WORK`] before each
/// send.
fn channel_throughput_working_producer(c: &mut Criterion) {
    throughput_group(c, "channel_throughput_working_producer", WORK);
}

/// One producer thread, each item after `work` multiply-adds: greenlet and
/// crossbeam, both channel kinds.
fn throughput_group(c: &mut Criterion, name: &str, work: u32) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(ITEMS));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for (kind, cap) in KINDS {
        group.bench_with_input(
            BenchmarkId::new("greenlet_producer_thread_to_hub", kind),
            &cap,
            |b, &cap| b.iter_custom(|iters| (0..iters).map(|_| greenlet_batch(cap, 1, work)).sum()),
        );
        group.bench_with_input(
            BenchmarkId::new("crossbeam_two_threads", kind),
            &cap,
            |b, &cap| {
                b.iter_custom(|iters| (0..iters).map(|_| crossbeam_batch(cap, 1, work)).sum())
            },
        );
    }
    group.finish();
}

/// `channel_throughput` with [`FAN_IN`] producer threads sharing the
/// `ITEMS`: the senders contend for the channel (for the unbounded one,
/// for the lock of its senders' half).
fn channel_fan_in(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel_fan_in");
    group.throughput(Throughput::Elements(ITEMS));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for (kind, cap) in KINDS {
        group.bench_with_input(
            BenchmarkId::new("greenlet_4_producer_threads_to_hub", kind),
            &cap,
            |b, &cap| {
                b.iter_custom(|iters| (0..iters).map(|_| greenlet_batch(cap, FAN_IN, 0)).sum())
            },
        );
        group.bench_with_input(
            BenchmarkId::new("crossbeam_4_producer_threads", kind),
            &cap,
            |b, &cap| {
                b.iter_custom(|iters| (0..iters).map(|_| crossbeam_batch(cap, FAN_IN, 0)).sum())
            },
        );
    }
    group.finish();
}

/// One iteration is one short job (`|| i + 1`) run on a pool thread and its
/// result back, waited for by a greenlet (`greenlet::threadpool`, a pool
/// of two threads) or by a tokio task on a `current_thread` runtime
/// (`tokio::task::spawn_blocking`): the bridge to OS threads, round trip.
fn spawn_blocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_blocking");
    group.bench_function("greenlet_threadpool", |b| {
        b.iter_custom(|iters| {
            thread::spawn(move || {
                let pool = greenlet::threadpool::ThreadPool::new(2);
                pool.spawn_blocking(|| ()); // its first thread is up
                greenlet::spawn(move || {
                    let start = Instant::now();
                    for i in 0..iters {
                        black_box(pool.spawn_blocking(move || i + 1));
                    }
                    start.elapsed()
                })
                .join()
                .unwrap()
            })
            .join()
            .unwrap()
        })
    });
    group.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| {
            let runtime = tokio_current_thread();
            runtime.block_on(async move {
                tokio::task::spawn_blocking(|| ()).await.unwrap();
                let start = Instant::now();
                for i in 0..iters {
                    black_box(tokio::task::spawn_blocking(move || i + 1).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    channel_ping_pong,
    channel_throughput,
    channel_throughput_working_producer,
    channel_fan_in,
    spawn_blocking
);
criterion_main!(benches);
