//! Many greenlets: thousands asleep at once, and a million short ones in batches.
//!
//! The two tests take turns (a lock) so that the CPU-bound one does not skew
//! the timing of the other on a small machine.

mod util;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use greenlet::{joinall, sleep, spawn, stats};
use util::ms;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn ten_thousand_concurrent_sleepers_all_finish_well_under_two_seconds() {
    let _turn = take_turn();
    let start = Instant::now();
    let gs: Vec<_> = (0..10_000u64)
        .map(|i| {
            spawn(move || {
                sleep(ms(50 + i % 51)); // 50..=100 ms
                i
            })
        })
        .collect();
    let results = joinall(gs);
    let elapsed = start.elapsed();
    let sum: u64 = results.into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, (0..10_000u64).sum::<u64>());
    assert!(elapsed >= ms(100), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn ten_batches_of_a_hundred_thousand_short_greenlets_do_not_exhaust_mappings() {
    let _turn = take_turn();
    const BATCH: u64 = 100_000;
    let start = Instant::now();
    for batch in 0..10 {
        let gs: Vec<_> = (0..BATCH).map(|i| spawn(move || i)).collect();
        let mut sum = 0;
        for result in joinall(gs) {
            sum += result.unwrap_or_else(|e| panic!("batch {batch}: {e}"));
        }
        assert_eq!(sum, (0..BATCH).sum::<u64>(), "batch {batch}");
        assert_eq!(stats().alive, 0, "batch {batch}");
    }
    eprintln!("a million short greenlets took {:?}", start.elapsed());
}
