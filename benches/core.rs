//! The hub's core costs, each beside its anchors in the same run.
//!
//! The speed targets are ratios within one run (the processor under this
//! machine kind changes between sessions, see NOTES.md), so every greenlet
//! figure sits in a group with what it is compared against:
//! - `switch`: greenlet `yield_now`, bare corosensei resume+suspend (target:
//!   a switch ≤ 2× it), and an mpsc hand-off between two OS threads;
//! - `spawn_join`: greenlet, corosensei's create+run on a reused stack,
//!   tokio `current_thread`, OS threads;
//! - `handoff`: a `Queue` hand-off against the `yield_now` switch of the
//!   same group (target: ≤ 2× a switch);
//! - `switch_vs_runnable`: one switch with N tasks runnable, greenlet and
//!   tokio `current_thread`, N from 2 to 30,000; and greenlets pinned to
//!   private or to shared stacks (`greenlet_private`, `greenlet_shared`) at
//!   2, 1,000 and 10,000;
//! - `sleepers`: many tasks sleeping 1–10 ms, total wall time, with OS
//!   threads and tokio beside greenlets; then resident memory per parked task
//!   (printed lines, not criterion figures).
//!
//! Run: `cargo bench --bench core`; one group: `cargo bench --bench core --
//! '^switch/'` (a filter is a regex over `group/function`). The memory lines
//! are printed by every run, filtered or not.
//!
//! The tokio runtimes are built as `#[tokio::main(flavor = "current_thread")]`
//! builds one, with the IO and time drivers on (the hub always has its poller).

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};
use criterion::{BenchmarkId, Criterion, criterion_group};
use greenlet::StackKind;

/// A tokio runtime as `#[tokio::main(flavor = "current_thread")]` makes it.
fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One iteration is one task spawned and joined, sequentially; the task does
/// nothing. `corosensei_pooled` is the floor for a greenlet: a coroutine made
/// on a stack taken from the previous iteration (`with_stack`), run to its
/// end, and its stack taken back (`into_stack`), as a stack pool does.
fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join");
    group.bench_function("os_thread", |b| {
        b.iter(|| thread::spawn(|| black_box(1)).join().unwrap())
    });
    group.bench_function("greenlet", |b| {
        b.iter(|| greenlet::spawn(|| black_box(1)).join().unwrap())
    });
    group.bench_function("corosensei_pooled", |b| {
        let mut pooled = Some(DefaultStack::new(greenlet::DEFAULT_STACK_SIZE).unwrap());
        b.iter(|| {
            let stack = pooled.take().expect("the previous iteration gave it back");
            let mut coroutine: Coroutine<(), (), i32> =
                Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| black_box(1));
            let result = coroutine.resume(());
            pooled = Some(coroutine.into_stack());
            result
        })
    });
    group.bench_function("tokio_current_thread", |b| {
        let runtime = tokio_current_thread();
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::spawn(async { black_box(1) }).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// One iteration is one switch: one task stops and another starts.
/// - `greenlet_yield_now`: one `yield_now` of two greenlets taking turns; the
///   greenlet suspends into the hub and the hub resumes the other one, so a
///   switch is one corosensei suspend plus one resume, and the hub's turn.
/// - `corosensei_bare`: one `resume` of a coroutine that loops on `suspend`:
///   one resume plus one suspend, the same two stack switches without a
///   scheduler. greenlet_yield_now / corosensei_bare is the switch target's
///   ratio (≤ 2×).
/// - `os_thread_mpsc`: one message to a thread blocked waiting for it.
fn switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch");
    group.bench_function("os_thread_mpsc", |b| b.iter_custom(common::mpsc_ping_pong));
    group.bench_function("greenlet_yield_now", |b| {
        b.iter_custom(common::yield_ping_pong)
    });
    group.bench_function("corosensei_bare", |b| {
        b.iter_custom(common::corosensei_round_trips)
    });
    group.finish();
}

/// One iteration is one item handed to a greenlet parked waiting for it
/// (`common::queue_ping_pong`). `greenlet_yield_now` is the switch of the
/// same run, for the target: a hand-off ≤ 2× a switch. The same hand-off is
/// `queue_handoff/greenlet_queue` in benches/sync.rs.
fn handoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("handoff");
    group.bench_function("greenlet_queue", |b| b.iter_custom(common::queue_ping_pong));
    group.bench_function("greenlet_yield_now", |b| {
        b.iter_custom(common::yield_ping_pong)
    });
    group.finish();
}

/// How many tasks are runnable at once in `switch_vs_runnable`.
/// The largest count stays inside the stack budget: a started greenlet holds
/// a stack (two mappings), and the process maps stacks only up to nine tenths
/// of `vm.max_map_count` (29,486 with the default 65,530), so 30,000 started
/// greenlets cannot all be alive at once.
const RUNNABLE: [usize; 5] = [2, 100, 1_000, 10_000, 29_000];

/// The counts at which `switch_vs_runnable` also pins every greenlet to one
/// kind of stack.
const PINNED_RUNNABLE: [usize; 3] = [2, 1_000, 10_000];

/// Fewest switches timed in one sample of `switch_vs_runnable`, so that the
/// untimed set-up (spawning N tasks, mapping N stacks) is paid for enough work.
const MIN_SWITCHES: u64 = 600_000;

/// Stack size of the `switch_vs_runnable` greenlets: their loop needs little,
/// and 30,000 of them at 16 KiB reserve 480 MiB instead of 7.5 GiB. Each is
/// still two mappings (stack and guard page): 60,000 of the kernel's 65,530.
const SMALL_STACK: usize = 16 * 1024;

/// One iteration is one switch with N tasks runnable: N tasks each loop on
/// `yield_now` for R rounds, so the scheduler goes round all N in turn.
///
/// Each sample spawns its N tasks and lets each run once (mapping its stack,
/// for a greenlet) before the clock starts; it stops when the last task ends
/// its rounds, before any task finishes (a finishing greenlet unmaps its
/// stack). What is timed is N·(R+1) switches, each one task resumed: its
/// return from the yield it waited for the start in, then its R rounds.
/// R is set so that N·(R+1) is at least `iters` and at least
/// [`MIN_SWITCHES`]; the time is scaled to `iters` switches.
fn switch_vs_runnable(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch_vs_runnable");
    group.sample_size(10);
    for n in RUNNABLE {
        group.bench_with_input(BenchmarkId::new("greenlet", n), &n, |b, &n| {
            b.iter_custom(|iters| greenlets_in_turn(n, None, iters))
        });
        group.bench_with_input(BenchmarkId::new("tokio_current_thread", n), &n, |b, &n| {
            let runtime = tokio_current_thread();
            b.iter_custom(|iters| tokio_tasks_in_turn(&runtime, n, iters))
        });
    }
    // The hub's choice above mixes the kinds (private stacks for the first
    // 256 greenlets, then shared): each kind alone, at a few counts.
    for n in PINNED_RUNNABLE {
        for (name, kind) in [
            ("greenlet_private", StackKind::Private),
            ("greenlet_shared", StackKind::Shared),
        ] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
                b.iter_custom(|iters| greenlets_in_turn(n, Some(kind), iters))
            });
        }
    }
    group.finish();
}

/// Rounds per task for `n` tasks and a sample of `iters` switches.
fn rounds_for(n: usize, iters: u64) -> u64 {
    iters.max(MIN_SWITCHES).div_ceil(n as u64).max(1)
}

/// `elapsed` for `switches` switches, scaled to `iters` of them.
fn scaled(elapsed: Duration, switches: u64, iters: u64) -> Duration {
    elapsed.mul_f64(iters as f64 / switches as f64)
}

/// The shared state of the greenlets in `greenlets_in_turn`.
#[derive(Default)]
struct Turns {
    started: Cell<usize>,
    go: Cell<bool>,
    done: Cell<usize>,
    released: Cell<bool>,
    /// When the last greenlet ended its rounds, and the hub's switch count then.
    end: Cell<Option<(Instant, u64)>>,
}

fn greenlets_in_turn(n: usize, kind: Option<StackKind>, iters: u64) -> Duration {
    let rounds = rounds_for(n, iters);
    let turns = Rc::new(Turns::default());
    let mut builder = greenlet::Builder::new().stack_size(SMALL_STACK);
    if let Some(kind) = kind {
        builder = builder.stack_kind(kind);
    }
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let turns = turns.clone();
            let body = move || {
                turns.started.set(turns.started.get() + 1);
                while !turns.go.get() {
                    greenlet::yield_now();
                }
                for _ in 0..rounds {
                    greenlet::yield_now();
                }
                turns.done.set(turns.done.get() + 1);
                if turns.done.get() == n {
                    turns
                        .end
                        .set(Some((Instant::now(), greenlet::stats().switches)));
                    turns.released.set(true);
                }
                // Wait without finishing: a finishing greenlet unmaps its stack.
                while !turns.released.get() {
                    greenlet::yield_now();
                }
            };
            builder
                .clone()
                .spawn(body)
                .expect("16 KiB is a valid stack size")
        })
        .collect();
    greenlet::yield_now(); // each greenlet runs once and waits for `go`
    assert_eq!(
        turns.started.get(),
        n,
        "not every greenlet could start (no stack could be mapped?)"
    );
    let switches_before = greenlet::stats().switches;
    turns.go.set(true);
    let start = Instant::now();
    for result in greenlet::joinall(tasks) {
        result.unwrap();
    }
    let (end, switches_after) = turns.end.get().expect("the last greenlet set it");
    let switches = n as u64 * (rounds + 1);
    assert_eq!(
        switches_after - switches_before,
        switches,
        "switches counted"
    );
    scaled(end - start, switches, iters)
}

/// The shared state of the tasks in `tokio_tasks_in_turn` (tokio's tasks
/// must be `Send`).
#[derive(Default)]
struct SharedTurns {
    started: AtomicUsize,
    go: AtomicBool,
    done: AtomicUsize,
    released: AtomicBool,
    end: Mutex<Option<Instant>>,
}

/// As [`greenlets_in_turn`], with tokio tasks and `tokio::task::yield_now`.
fn tokio_tasks_in_turn(runtime: &tokio::runtime::Runtime, n: usize, iters: u64) -> Duration {
    let rounds = rounds_for(n, iters);
    let turns = Arc::new(SharedTurns::default());
    runtime.block_on(async {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let turns = turns.clone();
                tokio::spawn(async move {
                    turns.started.fetch_add(1, Relaxed);
                    while !turns.go.load(Relaxed) {
                        tokio::task::yield_now().await;
                    }
                    for _ in 0..rounds {
                        tokio::task::yield_now().await;
                    }
                    if turns.done.fetch_add(1, Relaxed) + 1 == n {
                        *turns.end.lock().unwrap() = Some(Instant::now());
                        turns.released.store(true, Relaxed);
                    }
                    while !turns.released.load(Relaxed) {
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        while turns.started.load(Relaxed) < n {
            tokio::task::yield_now().await; // lets every task run once
        }
        turns.go.store(true, Relaxed);
        let start = Instant::now();
        for task in tasks {
            task.await.unwrap();
        }
        let end = turns.end.lock().unwrap().expect("the last task set it");
        scaled(end - start, n as u64 * (rounds + 1), iters)
    })
}

/// Current and peak resident memory of this process, from /proc/self/status.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` value 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A sleep of 1..=10 ms spread over the greenlets by index.
fn sleep_for(i: usize) -> Duration {
    Duration::from_millis(1 + (i % 10) as u64)
}

/// The same sleeps as [`sleep_for`], in ten blocks of consecutive indices
/// (`n` tasks): the tasks then wake in the order they were spawned, so what
/// each touches as it wakes (its task, its saved stack) is next to what the
/// one before touched, where `sleep_for`'s tasks wake every tenth.
fn sleep_in_blocks(i: usize, n: usize) -> Duration {
    Duration::from_millis(1 + (i * 10 / n) as u64)
}

/// One iteration: spawn all the tasks, each sleeping `sleep_for(index)`,
/// and join them all; the wall time of the whole. The `_in_blocks` rows:
/// the same with `sleep_in_blocks`, to show how much of the time is cache
/// misses from waking in an order unlike the spawn order.
fn sleepers(c: &mut Criterion) {
    const THREADS: usize = 1_000;
    const GREENLETS: usize = 100_000;
    let mut group = c.benchmark_group("sleepers");
    group.sample_size(10);
    group.bench_function("os_thread_1k", |b| {
        b.iter(|| {
            let threads: Vec<_> = (0..THREADS)
                .map(|i| thread::spawn(move || thread::sleep(sleep_for(i))))
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
        })
    });
    group.bench_function("greenlet_1k", |b| {
        b.iter(|| {
            let gs = (0..THREADS).map(|i| greenlet::spawn(move || greenlet::sleep(sleep_for(i))));
            greenlet::joinall(gs.collect::<Vec<_>>());
        })
    });
    group.bench_function("tokio_current_thread_1k", |b| {
        let runtime = tokio_current_thread();
        b.iter(|| runtime.block_on(tokio_sleepers(THREADS)))
    });
    group.bench_function("greenlet_100k", |b| {
        b.iter(|| {
            let gs = (0..GREENLETS).map(|i| greenlet::spawn(move || greenlet::sleep(sleep_for(i))));
            for result in greenlet::joinall(gs.collect::<Vec<_>>()) {
                result.unwrap();
            }
        })
    });
    group.bench_function("tokio_current_thread_100k", |b| {
        let runtime = tokio_current_thread();
        b.iter(|| runtime.block_on(tokio_sleepers(GREENLETS)))
    });
    group.bench_function("greenlet_100k_in_blocks", |b| {
        b.iter(|| {
            let gs = (0..GREENLETS)
                .map(|i| greenlet::spawn(move || greenlet::sleep(sleep_in_blocks(i, GREENLETS))));
            for result in greenlet::joinall(gs.collect::<Vec<_>>()) {
                result.unwrap();
            }
        })
    });
    group.bench_function("tokio_current_thread_100k_in_blocks", |b| {
        let runtime = tokio_current_thread();
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..GREENLETS)
                    .map(|i| tokio::spawn(tokio::time::sleep(sleep_in_blocks(i, GREENLETS))))
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
        })
    });
    group.finish();
    report_parked_memory_in_a_child();
}

/// The flag that makes this binary only print [`report_parked_memory`]'s
/// figures and exit.
const PARKED_MEMORY: &str = "--parked-memory";

/// Runs [`report_parked_memory`] in a fresh process (this binary again):
/// in this one, memory the benchmarks before it took and freed is reused,
/// and the growth it measures comes out near zero.
fn report_parked_memory_in_a_child() {
    let exe = std::env::current_exe().expect("the bench binary's path");
    match std::process::Command::new(exe).arg(PARKED_MEMORY).status() {
        Ok(status) if status.success() => {}
        other => println!("memory: the measuring process failed: {other:?}"),
    }
}

/// `n` tokio tasks each sleeping `sleep_for(index)`, all joined.
async fn tokio_sleepers(n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(tokio::time::sleep(sleep_for(i))))
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Resident memory per parked greenlet and per sleeping OS thread: park N,
/// measure, wake them all. Printed beside the timings.
fn report_parked_memory() {
    const PARKED: usize = 20_000;
    const THREADS: usize = 2_000;

    let (before, _) = rss_kib();
    // Longer than starting them all can take: each start maps a stack, and
    // with a 500 ms sleep the assert below failed once on a loaded machine
    // (the first ones woke before the count). Killed once measured.
    let never = Duration::from_secs(3600);
    let gs: Vec<_> = (0..PARKED)
        .map(|_| greenlet::spawn(move || greenlet::sleep(never)))
        .collect();
    greenlet::yield_now(); // every greenlet runs once and parks in sleep
    let (parked, _) = rss_kib();
    assert_eq!(greenlet::stats().parked, PARKED);
    greenlet::killall(gs);
    let greenlet_bytes = (parked - before) * 1024 / PARKED as u64;

    let (before, _) = rss_kib();
    let (tx, rx) = mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (rx, ready) = (rx.clone(), ready_tx.clone());
            thread::spawn(move || {
                ready.send(()).unwrap();
                let _ = rx.lock().unwrap().recv();
            })
        })
        .collect();
    (0..THREADS).for_each(|_| ready_rx.recv().unwrap());
    let (parked, _) = rss_kib();
    drop(tx);
    threads.into_iter().for_each(|t| t.join().unwrap());
    let thread_bytes = (parked - before) * 1024 / THREADS as u64;

    // Peak RSS of one run of 100,000 greenlets sleeping 1-10 ms.
    reset_peak_rss();
    let (base, _) = rss_kib();
    let start = Instant::now();
    let gs: Vec<_> = (0..100_000)
        .map(|i| greenlet::spawn(move || greenlet::sleep(sleep_for(i))))
        .collect();
    greenlet::joinall(gs);
    let took = start.elapsed();
    let (_, peak) = rss_kib();

    println!("memory: RSS per parked OS thread ({THREADS} parked): {thread_bytes} bytes");
    println!("memory: RSS per parked greenlet ({PARKED} parked): {greenlet_bytes} bytes");
    println!(
        "memory: 100,000 greenlets sleeping 1-10 ms: {:.1} ms, peak RSS growth {} KiB ({} bytes per greenlet)",
        took.as_secs_f64() * 1e3,
        peak.saturating_sub(base),
        peak.saturating_sub(base) * 1024 / 100_000
    );
}

criterion_group!(
    benches,
    spawn_join,
    switch,
    handoff,
    switch_vs_runnable,
    sleepers
);
fn main() {
    if std::env::args().any(|arg| arg == PARKED_MEMORY) {
        report_parked_memory();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
