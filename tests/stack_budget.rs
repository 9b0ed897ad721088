//! Greenlets past the kernel's mapping cap wait for a stack instead of
//! aborting the process. Each scenario runs in a child process, since
//! exhausting mappings would take the whole test binary down.

mod util;

use std::time::{Duration, Instant};

use util::{child, ms};

#[test]
fn a_hundred_thousand_greenlets_sleeping_a_second_at_once_all_finish_within_ten_seconds() {
    const NAME: &str =
        "a_hundred_thousand_greenlets_sleeping_a_second_at_once_all_finish_within_ten_seconds";
    if child::is_child(NAME) {
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
        println!("all finished");
        return;
    }
    let start = Instant::now();
    let out = child::run(NAME);
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all finished"),
        "the child failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[test]
fn with_a_small_stack_budget_greenlets_wait_for_a_stack_and_all_finish() {
    const NAME: &str = "with_a_small_stack_budget_greenlets_wait_for_a_stack_and_all_finish";
    if child::is_child(NAME) {
        let _ = env_logger::builder().is_test(false).try_init();
        let start = Instant::now();
        let gs: Vec<_> = (0..500u64)
            .map(|i| {
                greenlet::spawn(move || {
                    greenlet::sleep(ms(20));
                    i
                })
            })
            .collect();
        let sum: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
        assert_eq!(sum, (0..500u64).sum::<u64>());
        // 50 stacks for 500 greenlets: ten rounds of 20 ms one after another.
        assert!(start.elapsed() >= ms(200), "took {:?}", start.elapsed());
        println!("all finished");
        return;
    }
    let out = child::run_with(
        NAME,
        &[("GREENLET_MAX_STACKS", "50"), ("RUST_LOG", "greenlet=warn")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all finished"),
        "the child failed ({}):\n{stderr}",
        out.status
    );
    let logged = stderr.matches("greenlet stacks are mapped").count();
    assert_eq!(logged, 1, "the cap should be logged once:\n{stderr}");
    assert!(stderr.contains("GREENLET_MAX_STACKS"), "{stderr}");
    assert!(stderr.contains("sysctl -w vm.max_map_count"), "{stderr}");
}

#[test]
fn a_woken_greenlet_runs_before_one_that_waits_for_a_stack() {
    const NAME: &str = "a_woken_greenlet_runs_before_one_that_waits_for_a_stack";
    if child::is_child(NAME) {
        use std::cell::RefCell;
        use std::rc::Rc;
        let log = Rc::new(RefCell::new(Vec::new()));
        // Two stacks: both taken by sleepers; a third greenlet waits for one.
        let sleepers: Vec<_> = (0..2)
            .map(|i| {
                let log = log.clone();
                greenlet::spawn(move || {
                    greenlet::sleep(ms(20));
                    log.borrow_mut().push(format!("sleeper {i} woke"));
                    greenlet::sleep(ms(20));
                    log.borrow_mut().push(format!("sleeper {i} done"));
                })
            })
            .collect();
        let waiter = {
            let log = log.clone();
            greenlet::spawn(move || log.borrow_mut().push("waiter ran".to_string()))
        };
        greenlet::joinall(sleepers);
        waiter.join().unwrap();
        let log = log.borrow();
        let position = |what: &str| log.iter().position(|e| e == what).unwrap();
        assert!(position("sleeper 0 woke") < position("waiter ran"));
        assert!(position("sleeper 1 woke") < position("waiter ran"));
        assert!(position("sleeper 0 done") < position("waiter ran"));
        println!("all finished");
        return;
    }
    let out = child::run_with(NAME, &[("GREENLET_MAX_STACKS", "2")]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("all finished"),
        "the child failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
