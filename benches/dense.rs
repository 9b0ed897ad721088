//! Dense greenlets: shared stacks beside private stacks and tokio, in one run.
//!
//! - `shared_switch` (criterion): a `yield_now` ping-pong of two greenlets
//!   that each have 1 KiB of locals live on their stack, on shared stacks
//!   and on private ones; the same with almost nothing live; corosensei's
//!   bare resume+suspend as the anchor. Target: a shared-stack switch with
//!   1 KiB in use ≤ 60 ns.
//! - `sleepers` (printed lines, whole processes): 1,000,000 tasks each
//!   sleeping 1 s at once, started together; the total time and the resident
//!   memory per parked task, for greenlets (the hub's choice of stacks:
//!   private ones for the first 256, shared beyond), for
//!   greenlets pinned to shared stacks, and for tokio `current_thread`. Each
//!   run is a fresh child process (this binary, re-run as `--child KIND N`),
//!   so that first-touch page faults count as they would for a user; the
//!   runs are interleaved, `GREENLET_SLEEPERS_REPEATS` times (default 3),
//!   and the medians printed. Targets: total ≤ 2 s, ≤ 1,024 bytes per
//!   parked greenlet.
//!
//! Run: `cargo bench --bench dense`; only the switch: `cargo bench --bench
//! dense -- '^shared_switch/'` (a filter that names no `sleepers` skips them).

use std::cell::Cell;
use std::hint::black_box;
use std::process::Command;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

mod common;

use criterion::Criterion;
use greenlet::{Builder, StackKind};

/// Recurses once into a frame with `N` bytes of live locals, then yields
/// `rounds` times from there.
#[inline(never)]
fn yield_with_locals<const N: usize>(rounds: u64) {
    let locals = black_box([7u8; N]);
    for _ in 0..rounds {
        greenlet::yield_now();
    }
    black_box(&locals);
}

/// `iters` switches between two greenlets of `kind`, each with `N` bytes of
/// locals live across its switches.
fn ping_pong<const N: usize>(kind: StackKind, iters: u64) -> Duration {
    let per_greenlet = iters.div_ceil(2);
    let spawn = || {
        Builder::new()
            .stack_kind(kind)
            .spawn(move || yield_with_locals::<N>(per_greenlet))
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let start = Instant::now();
    a.join().unwrap();
    b.join().unwrap();
    start.elapsed()
}

fn shared_switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("shared_switch");
    group.bench_function("shared_1k", |b| {
        b.iter_custom(|iters| ping_pong::<1024>(StackKind::Shared, iters))
    });
    group.bench_function("private_1k", |b| {
        b.iter_custom(|iters| ping_pong::<1024>(StackKind::Private, iters))
    });
    group.bench_function("shared_minimal", |b| {
        b.iter_custom(|iters| ping_pong::<8>(StackKind::Shared, iters))
    });
    group.bench_function("private_minimal", |b| {
        b.iter_custom(|iters| ping_pong::<8>(StackKind::Private, iters))
    });
    group.bench_function("corosensei_bare", |b| {
        b.iter_custom(common::corosensei_round_trips)
    });
    group.finish();
}

// ---- a million sleepers, one child process per run -----------------------

const SLEEPERS: usize = 1_000_000;
const KINDS: [&str; 3] = ["greenlet", "greenlet-shared", "tokio"];

/// Resident memory of this process, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// In a child: `n` tasks of `kind` sleeping 1 s at once; prints the total
/// time in ms and the resident bytes per parked task.
fn child(kind: &str, n: usize) {
    let before = rss();
    let start = Instant::now();
    let parked_rss = match kind {
        "greenlet" | "greenlet-shared" => {
            let started = Rc::new(Cell::new(0));
            let builder = match kind {
                "greenlet-shared" => Builder::new().stack_kind(StackKind::Shared),
                _ => Builder::new(),
            };
            let gs: Vec<_> = (0..n)
                .map(|_| {
                    let started = started.clone();
                    builder
                        .clone()
                        .spawn(move || {
                            started.set(started.get() + 1);
                            greenlet::sleep(Duration::from_secs(1));
                        })
                        .unwrap()
                })
                .collect();
            greenlet::yield_now(); // each runs once, up to its sleep
            assert_eq!(started.get(), n);
            let parked = rss();
            for result in greenlet::joinall(gs) {
                result.unwrap();
            }
            parked
        }
        "tokio" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let started = Arc::new(AtomicUsize::new(0));
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let started = started.clone();
                        tokio::spawn(async move {
                            started.fetch_add(1, Relaxed);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        })
                    })
                    .collect();
                while started.load(Relaxed) < n {
                    tokio::task::yield_now().await;
                }
                let parked = rss();
                for task in tasks {
                    task.await.unwrap();
                }
                parked
            })
        }
        other => panic!("unknown kind {other}"),
    };
    let total = start.elapsed();
    println!(
        "{:.1} {}",
        total.as_secs_f64() * 1e3,
        parked_rss.saturating_sub(before) / n
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn sleepers() {
    let repeats: usize = std::env::var("GREENLET_SLEEPERS_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);
    let this = std::env::current_exe().unwrap();
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); KINDS.len()];
    for repeat in 1..=repeats {
        for (i, kind) in KINDS.iter().enumerate() {
            let out = Command::new(&this)
                .args(["--child", kind, &SLEEPERS.to_string()])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let figures: Vec<f64> = text
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            assert!(
                out.status.success() && figures.len() == 2,
                "{kind} run failed ({}): {text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!(
                "sleepers: repeat {repeat}/{repeats}: {kind:<16} {:>8.1} ms  {:>6.0} bytes per parked task",
                figures[0], figures[1]
            );
            runs[i].push((figures[0], figures[1]));
        }
    }
    println!();
    println!(
        "{SLEEPERS} tasks sleeping 1 s at once, median of {repeats} fresh processes each, interleaved:"
    );
    println!();
    println!("| kind | total | RSS per parked task |");
    println!("|---|---:|---:|");
    for (kind, runs) in KINDS.iter().zip(&runs) {
        let total = median(runs.iter().map(|r| r.0).collect());
        let rss = median(runs.iter().map(|r| r.1).collect());
        println!("| {kind} | {:.2} s | {rss:.0} B |", total / 1e3);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let n = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(SLEEPERS);
        child(&args[1], n);
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("dense bench: not run (pass --bench, as `cargo bench --bench dense` does)");
        return;
    }
    // The filter: the first argument that is neither an option nor the
    // value of one of criterion's options that take one.
    const WITH_VALUE: [&str; 9] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--profile-time",
        "--noise-threshold",
        "--significance-level",
        "--output-format",
    ];
    let filter = args
        .iter()
        .enumerate()
        .find(|&(i, a)| {
            !a.starts_with('-') && (i == 0 || !WITH_VALUE.contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a);
    let mut criterion = Criterion::default().configure_from_args();
    shared_switch(&mut criterion);
    criterion.final_summary();
    if filter.is_none_or(|f| f.contains("sleepers")) {
        sleepers();
    }
}
