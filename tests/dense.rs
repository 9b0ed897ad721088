//! Many parked greenlets at once, in a child process on the machine's
//! default `vm.max_map_count`: far more than private stacks allow (~29,000),
//! so most run on shared stacks. A test binary of its own, so that no other
//! test competes with it for the machine (it is the heaviest of the suite;
//! the million runs in `benches/dense.rs`).

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::{sleep, stats};
use util::{child, ms};

/// Reads the resident set size of this process, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

#[test]
fn two_hundred_thousand_greenlets_sleeping_a_second_at_once_all_finish() {
    const N: u64 = 200_000;
    let start = Instant::now();
    let out = child::run_scenario(
        "two_hundred_thousand_greenlets_sleeping_a_second_at_once_all_finish",
        &[],
        || {
            let before = rss();
            let started = Rc::new(Cell::new(0u64));
            let gs: Vec<_> = (0..N)
                .map(|i| {
                    let started = started.clone();
                    greenlet::spawn(move || {
                        started.set(started.get() + 1);
                        sleep(Duration::from_secs(1));
                        i
                    })
                })
                .collect();
            // Until every one has started (the first may wake before the last starts).
            while started.get() < N {
                sleep(ms(10));
            }
            let parked = stats();
            println!(
                "RSS per parked greenlet: {} bytes ({} on private stacks, {} on shared ones, \
                 holding {} bytes of stack)",
                (rss() - before) / N as usize,
                parked.private_stacks,
                parked.shared_stack_greenlets,
                parked.shared_stack_bytes
            );
            assert!(parked.shared_stack_greenlets > 0, "{parked:?}");
            let sum: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
            assert_eq!(sum, (0..N).sum::<u64>());
        },
    );
    if let Some(out) = out {
        print!("{}", String::from_utf8_lossy(&out.stdout));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}",
            start.elapsed()
        );
    }
}
