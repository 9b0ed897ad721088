//! The hub's core costs, each beside OS threads in the same run:
//! spawn+join, a switch, and many sleepers (time and memory).
//!
//! Run: `cargo bench --bench core`

use std::hint::black_box;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod common;

use criterion::{Criterion, criterion_group, criterion_main};

fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join");
    group.bench_function("os_thread", |b| {
        b.iter(|| thread::spawn(|| black_box(1)).join().unwrap())
    });
    group.bench_function("greenlet", |b| {
        b.iter(|| greenlet::spawn(|| black_box(1)).join().unwrap())
    });
    group.finish();
}

/// One switch is one hand-off from a running greenlet (or thread) to the other.
fn switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch");
    group.bench_function("os_thread_mpsc", |b| b.iter_custom(common::mpsc_ping_pong));
    group.bench_function("greenlet_yield_now", |b| {
        b.iter_custom(common::yield_ping_pong)
    });
    group.finish();
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
    group.bench_function("greenlet_100k", |b| {
        b.iter(|| {
            let gs = (0..GREENLETS).map(|i| greenlet::spawn(move || greenlet::sleep(sleep_for(i))));
            greenlet::joinall(gs.collect::<Vec<_>>());
        })
    });
    group.finish();
    report_parked_memory();
}

/// Resident memory per parked greenlet and per sleeping OS thread: park N,
/// measure, wake them all. Printed beside the timings.
fn report_parked_memory() {
    const PARKED: usize = 20_000;
    const THREADS: usize = 2_000;

    let (before, _) = rss_kib();
    let release = Duration::from_millis(500);
    let gs: Vec<_> = (0..PARKED)
        .map(|_| greenlet::spawn(move || greenlet::sleep(release)))
        .collect();
    greenlet::yield_now(); // every greenlet runs once and parks in sleep
    let (parked, _) = rss_kib();
    assert_eq!(greenlet::stats().parked, PARKED);
    greenlet::joinall(gs);
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

criterion_group!(benches, spawn_join, switch, sleepers);
criterion_main!(benches);
