//! Scheduling: when greenlets run, in what order, and how sleeping ones overlap.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::{Greenlet, joinall, sleep, spawn, spawn_later, stats, yield_now};
use util::{DropFlag, LONG, Log, assert_elapsed, flag, ms, wait_until};

/// The example: a task logs its start, sleeps, logs its end.
fn task(log: &Log, n: u32, millis: u64) -> Greenlet<u32> {
    let log = log.clone();
    spawn(move || {
        log.push(format!("start {n}"));
        sleep(ms(millis));
        log.push(format!("end {n}"));
        n
    })
}

fn three_tasks(log: &Log) -> Vec<Greenlet<u32>> {
    vec![task(log, 1, 100), task(log, 2, 300), task(log, 3, 500)]
}

#[test]
fn tasks_all_start_in_spawn_order_before_any_of_them_ends() {
    let log = Log::default();
    joinall(three_tasks(&log));
    assert_eq!(log.entries()[..3], ["start 1", "start 2", "start 3"]);
}

#[test]
fn tasks_end_in_the_order_of_their_sleeps() {
    let log = Log::default();
    joinall(three_tasks(&log));
    assert_eq!(log.entries()[3..], ["end 1", "end 2", "end 3"]);
}

#[test]
fn joinall_returns_the_values_of_the_tasks_in_spawn_order() {
    let log = Log::default();
    let values: Vec<u32> = joinall(three_tasks(&log))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(values, [1, 2, 3]);
}

#[test]
fn sleeping_tasks_overlap_so_the_total_is_the_longest_sleep_not_the_sum() {
    let log = Log::default();
    let start = Instant::now();
    joinall(three_tasks(&log));
    // 100 + 300 + 500 = 900 ms if they ran one after another.
    assert_elapsed(start.elapsed(), ms(500), ms(750));
}

#[test]
fn sleepers_wake_in_deadline_order_not_spawn_order() {
    let log = Log::default();
    let tasks = vec![task(&log, 1, 150), task(&log, 2, 50), task(&log, 3, 100)];
    joinall(tasks);
    assert_eq!(log.entries()[3..], ["end 2", "end 3", "end 1"]);
}

#[test]
fn a_spawned_greenlet_does_not_run_before_the_root_blocks() {
    let ran = flag();
    let g = {
        let ran = ran.clone();
        spawn(move || ran.set(true))
    };
    assert!(!ran.get());
    assert!(!g.is_finished());
}

#[test]
fn a_spawned_greenlet_runs_when_the_root_joins_it() {
    let ran = flag();
    let g = {
        let ran = ran.clone();
        spawn(move || ran.set(true))
    };
    g.join().unwrap();
    assert!(ran.get());
}

#[test]
fn a_spawned_greenlet_runs_when_the_root_yields() {
    let ran = flag();
    let g = {
        let ran = ran.clone();
        spawn(move || ran.set(true))
    };
    yield_now();
    assert!(ran.get());
    assert!(g.is_finished());
}

#[test]
fn a_greenlet_spawned_by_a_greenlet_runs_only_once_its_parent_blocks() {
    let parent = spawn(|| {
        let ran = flag();
        let child = {
            let ran = ran.clone();
            spawn(move || ran.set(true))
        };
        let before = ran.get();
        child.join().unwrap();
        (before, ran.get())
    });
    assert_eq!(parent.join().unwrap(), (false, true));
}

/// Greenlets that each log `{name}{round}` and yield, three rounds.
fn yielders(log: &Log, names: &[&'static str]) -> Vec<Greenlet<()>> {
    names
        .iter()
        .map(|&name| {
            let log = log.clone();
            spawn(move || {
                for i in 0..3 {
                    log.push(format!("{name}{i}"));
                    yield_now();
                }
            })
        })
        .collect()
}

#[test]
fn yield_now_switches_round_robin_between_greenlets() {
    let log = Log::default();
    let gs = yielders(&log, &["a", "b", "c"]);
    joinall(gs);
    assert_eq!(
        log.entries(),
        ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]
    );
}

#[test]
fn yield_now_in_the_root_runs_each_runnable_greenlet_once() {
    let log = Log::default();
    let gs = yielders(&log, &["a", "b"]);
    yield_now();
    assert_eq!(log.entries(), ["a0", "b0"]);
    yield_now();
    assert_eq!(log.entries(), ["a0", "b0", "a1", "b1"]);
    joinall(gs);
}

#[test]
fn yield_now_in_a_root_loop_lets_a_sleeping_greenlet_wake() {
    let woke = flag();
    let _sleeper = {
        let woke = woke.clone();
        spawn(move || {
            sleep(ms(5));
            woke.set(true);
        })
    };
    // A root that computes and yields now and then must let timers fire.
    let start = Instant::now();
    while !woke.get() && start.elapsed() < Duration::from_secs(2) {
        yield_now();
    }
    assert!(woke.get(), "the greenlet's 5 ms sleep never ended");
}

#[test]
fn a_sleeper_wakes_on_time_while_another_greenlet_keeps_yielding() {
    let stop = flag();
    let spinner = {
        let stop = stop.clone();
        spawn(move || {
            let start = Instant::now();
            while !stop.get() && start.elapsed() < Duration::from_secs(5) {
                yield_now();
            }
        })
    };
    let sleeper = spawn(move || {
        let start = Instant::now();
        sleep(ms(20));
        let slept = start.elapsed();
        stop.set(true);
        slept
    });
    let slept = sleeper.join().unwrap();
    spinner.join().unwrap();
    assert_elapsed(slept, ms(20), ms(100));
}

#[test]
fn sleep_in_the_root_lasts_at_least_its_duration() {
    let start = Instant::now();
    sleep(ms(100));
    assert_elapsed(start.elapsed(), ms(100), ms(250));
}

#[test]
fn sleep_in_the_root_runs_the_greenlets_meanwhile() {
    let ran = flag();
    let _g = {
        let ran = ran.clone();
        spawn(move || ran.set(true))
    };
    sleep(ms(10));
    assert!(ran.get());
}

#[test]
fn dropping_a_handle_detaches_the_greenlet_which_runs_on() {
    let done = flag();
    let dropped = flag();
    let g = {
        let done = done.clone();
        let dropped = dropped.clone();
        spawn(move || {
            let _guard = DropFlag(dropped);
            sleep(ms(10));
            done.set(true);
        })
    };
    yield_now(); // let it park in its sleep
    drop(g);
    assert!(!dropped.get());
    wait_until(Duration::from_secs(5), || done.get());
}

#[test]
fn spawn_later_runs_no_earlier_than_its_delay() {
    let start = Instant::now();
    let g = spawn_later(ms(100), Instant::now);
    let started_at = g.join().unwrap();
    assert_elapsed(started_at - start, ms(100), ms(250));
}

#[test]
fn spawn_later_does_not_run_when_the_root_yields_before_the_delay() {
    let ran = flag();
    let g = {
        let ran = ran.clone();
        spawn_later(LONG, move || ran.set(true))
    };
    yield_now();
    assert!(!ran.get());
    g.kill();
}

#[test]
fn spawn_later_killed_before_its_delay_never_runs() {
    let ran = flag();
    let g = {
        let ran = ran.clone();
        spawn_later(ms(20), move || ran.set(true))
    };
    g.kill();
    let witness = spawn_later(ms(60), || ());
    witness.join().unwrap(); // well past the killed greenlet's start time
    assert!(!ran.get());
}

#[test]
fn join_of_a_spawn_later_killed_before_its_delay_returns_killed_at_once() {
    let g = spawn_later(LONG, || ());
    g.kill();
    let start = Instant::now();
    assert!(g.join().unwrap_err().is_killed());
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn spawn_later_greenlets_start_in_the_order_of_their_delays() {
    let log = Log::default();
    let later = {
        let log = log.clone();
        spawn_later(ms(80), move || log.push("80 ms"))
    };
    let sooner = {
        let log = log.clone();
        spawn_later(ms(20), move || log.push("20 ms"))
    };
    joinall([later, sooner]);
    assert_eq!(log.entries(), ["20 ms", "80 ms"]);
}

fn sum_in_greenlets(lo: u64, hi: u64) -> u64 {
    if hi - lo <= 1 {
        return lo;
    }
    let mid = lo + (hi - lo) / 2;
    let left = spawn(move || sum_in_greenlets(lo, mid));
    let right = spawn(move || sum_in_greenlets(mid, hi));
    left.join().unwrap() + right.join().unwrap()
}

#[test]
fn greenlets_spawning_and_joining_greenlets_sum_a_tree() {
    // 1..=200 split in halves down to single numbers: about 400 greenlets, 8 levels.
    let total = spawn(|| sum_in_greenlets(1, 201)).join().unwrap();
    assert_eq!(total, (1..=200).sum::<u64>());
}

fn chain(depth: u32) -> u32 {
    if depth == 0 {
        return 0;
    }
    spawn(move || {
        sleep(ms(1));
        chain(depth - 1)
    })
    .join()
    .unwrap()
        + 1
}

#[test]
fn a_chain_of_greenlets_each_joining_its_child_unwinds_in_order() {
    assert_eq!(chain(12), 12);
    assert_eq!(stats().alive, 0);
}

#[test]
fn a_greenlet_result_can_be_a_non_copy_value() {
    let shared = Rc::new(Cell::new(7));
    let g = {
        let shared = shared.clone();
        spawn(move || (shared, String::from("text")))
    };
    let (back, text) = g.join().unwrap();
    assert!(Rc::ptr_eq(&back, &shared));
    assert_eq!(text, "text");
}
