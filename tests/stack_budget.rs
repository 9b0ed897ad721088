//! Greenlets past the kernel's mapping cap wait for a stack (pinned to a
//! private one) or run on a shared stack (unpinned) instead of aborting the
//! process. Each scenario runs in a child process, since exhausting mappings
//! would take the whole test binary down.

mod util;

use std::time::{Duration, Instant};

use greenlet::{Builder, StackKind};
use util::{child, ms};

/// Spawns `f` on a private stack of its own.
fn spawn_private<T: 'static>(f: impl FnOnce() -> T + 'static) -> greenlet::Greenlet<T> {
    Builder::new()
        .stack_kind(StackKind::Private)
        .spawn(f)
        .unwrap()
}

#[test]
fn a_hundred_thousand_greenlets_sleeping_a_second_at_once_all_finish_within_ten_seconds() {
    let start = Instant::now();
    child::run_scenario(
        "a_hundred_thousand_greenlets_sleeping_a_second_at_once_all_finish_within_ten_seconds",
        &[],
        || {
            let gs: Vec<_> = (0..100_000u64)
                .map(|i| {
                    greenlet::spawn(move || {
                        greenlet::sleep(Duration::from_secs(1));
                        i
                    })
                })
                .collect();
            let sum: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
            assert_eq!(sum, (0..100_000u64).sum::<u64>());
        },
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn with_a_small_stack_budget_greenlets_pinned_to_private_stacks_wait_for_one_and_all_finish() {
    let out = child::run_scenario(
        "with_a_small_stack_budget_greenlets_pinned_to_private_stacks_wait_for_one_and_all_finish",
        &[("GREENLET_MAX_STACKS", "50"), ("RUST_LOG", "greenlet=warn")],
        || {
            let _ = env_logger::builder().is_test(false).try_init();
            let start = Instant::now();
            let gs: Vec<_> = (0..500u64)
                .map(|i| {
                    spawn_private(move || {
                        greenlet::sleep(ms(20));
                        i
                    })
                })
                .collect();
            let sum: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
            assert_eq!(sum, (0..500u64).sum::<u64>());
            // 50 stacks for 500 greenlets: ten rounds of 20 ms one after another.
            assert!(start.elapsed() >= ms(200), "took {:?}", start.elapsed());
        },
    );
    if let Some(out) = out {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let logged = stderr.matches("greenlet stacks are mapped").count();
        assert_eq!(logged, 1, "the cap should be logged once:\n{stderr}");
        assert!(stderr.contains("GREENLET_MAX_STACKS"), "{stderr}");
        assert!(stderr.contains("sysctl -w vm.max_map_count"), "{stderr}");
    }
}

#[test]
fn a_woken_greenlet_runs_before_one_that_waits_for_a_private_stack() {
    child::run_scenario(
        "a_woken_greenlet_runs_before_one_that_waits_for_a_private_stack",
        &[("GREENLET_MAX_STACKS", "2")],
        || {
            use std::cell::RefCell;
            use std::rc::Rc;
            let log = Rc::new(RefCell::new(Vec::new()));
            // Two stacks: both taken by sleepers; a third greenlet waits for one.
            let sleepers: Vec<_> = (0..2)
                .map(|i| {
                    let log = log.clone();
                    spawn_private(move || {
                        greenlet::sleep(ms(20));
                        log.borrow_mut().push(format!("sleeper {i} woke"));
                        greenlet::sleep(ms(20));
                        log.borrow_mut().push(format!("sleeper {i} done"));
                    })
                })
                .collect();
            let waiter = {
                let log = log.clone();
                spawn_private(move || log.borrow_mut().push("waiter ran".to_string()))
            };
            greenlet::joinall(sleepers);
            waiter.join().unwrap();
            let log = log.borrow();
            let position = |what: &str| log.iter().position(|e| e == what).unwrap();
            assert!(position("sleeper 0 woke") < position("waiter ran"));
            assert!(position("sleeper 1 woke") < position("waiter ran"));
            assert!(position("sleeper 0 done") < position("waiter ran"));
        },
    );
}

#[test]
fn past_three_quarters_of_the_budget_unpinned_greenlets_run_on_a_shared_stack_without_waiting() {
    let out = child::run_scenario(
        "past_three_quarters_of_the_budget_unpinned_greenlets_run_on_a_shared_stack_without_waiting",
        &[("GREENLET_MAX_STACKS", "40"), ("RUST_LOG", "greenlet=warn")],
        || {
            let _ = env_logger::builder().is_test(false).try_init();
            let start = Instant::now();
            let gs: Vec<_> = (0..500u64)
                .map(|i| {
                    greenlet::spawn(move || {
                        greenlet::sleep(ms(50));
                        i
                    })
                })
                .collect();
            greenlet::sleep(ms(10)); // every one has started and sleeps
            let stats = greenlet::stats();
            assert!(stats.private_stacks <= 30, "{stats:?}");
            assert_eq!(
                stats.private_stacks + stats.shared_stack_greenlets,
                500,
                "{stats:?}"
            );
            assert_eq!(stats.shared_stacks, 1, "{stats:?}");
            let sum: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
            assert_eq!(sum, (0..500u64).sum::<u64>());
            // All sleep at once: no one waited for a stack (that would be
            // rounds of 50 ms, 650 ms for 40 stacks).
            assert!(start.elapsed() < ms(300), "took {:?}", start.elapsed());
        },
    );
    if let Some(out) = out {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("greenlet stacks are mapped"), "{stderr}");
    }
}
