//! `Greenlet::kill` and `killall` in every state a greenlet can be in.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::{Greenlet, killall, sleep, spawn, stats, yield_now};
use util::{DropCounter, DropFlag, LONG, Log, assert_elapsed, flag, ms, wait_until};

/// A greenlet that holds a guard and sleeps for an hour; `dropped` is set
/// when the guard's destructor runs, `after` if the sleep ever returns.
fn parked_sleeper(dropped: &Rc<Cell<bool>>, after: &Rc<Cell<bool>>) -> Greenlet<()> {
    let dropped = dropped.clone();
    let after = after.clone();
    let g = spawn(move || {
        let _guard = DropFlag(dropped);
        sleep(LONG);
        after.set(true);
    });
    yield_now(); // let it start and park in its sleep
    g
}

#[test]
fn kill_runs_the_destructors_of_a_greenlet_parked_in_sleep() {
    let (dropped, after) = (flag(), flag());
    let g = parked_sleeper(&dropped, &after);
    assert!(!dropped.get());
    g.kill();
    let _ = g.join();
    assert!(dropped.get());
}

#[test]
fn kill_stops_a_parked_greenlet_before_the_code_after_its_blocking_call() {
    let (dropped, after) = (flag(), flag());
    let g = parked_sleeper(&dropped, &after);
    g.kill();
    let _ = g.join();
    assert!(!after.get());
}

#[test]
fn join_of_a_greenlet_killed_while_parked_returns_killed() {
    let (dropped, after) = (flag(), flag());
    let g = parked_sleeper(&dropped, &after);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn kill_of_a_parked_greenlet_takes_effect_without_waiting_for_its_sleep() {
    let (dropped, after) = (flag(), flag());
    let g = parked_sleeper(&dropped, &after);
    let start = Instant::now();
    g.kill();
    let _ = g.join();
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_killed_greenlet_is_finished() {
    let (dropped, after) = (flag(), flag());
    let g = parked_sleeper(&dropped, &after);
    g.kill();
    assert!(g.wait_timeout(Duration::from_secs(5)));
    assert!(g.is_finished());
}

#[test]
fn kill_of_a_greenlet_that_has_not_started_means_it_never_runs() {
    let ran = flag();
    let g = {
        let ran = ran.clone();
        spawn(move || ran.set(true))
    };
    g.kill();
    let _ = g.join();
    assert!(!ran.get());
}

#[test]
fn kill_of_a_greenlet_that_has_not_started_drops_its_closure_at_once() {
    let dropped = flag();
    let guard = DropFlag(dropped.clone());
    let g = spawn(move || drop(guard));
    g.kill();
    assert!(dropped.get());
}

#[test]
fn join_of_a_greenlet_killed_before_it_started_returns_killed() {
    let g = spawn(|| 1);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn kill_of_a_finished_greenlet_leaves_its_value_to_join() {
    let g = spawn(|| 7);
    yield_now();
    assert!(g.is_finished());
    g.kill();
    assert_eq!(g.join().unwrap(), 7);
}

#[test]
fn kill_of_a_greenlet_that_panicked_leaves_its_panic_to_join() {
    let g = spawn(|| panic!("first"));
    yield_now();
    g.kill();
    assert!(g.join().unwrap_err().is_panic());
}

#[test]
fn kill_twice_is_the_same_as_kill_once() {
    let (dropped, after) = (flag(), flag());
    let g = parked_sleeper(&dropped, &after);
    g.kill();
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(dropped.get());
}

#[test]
fn kill_of_a_runnable_greenlet_unwinds_it_at_its_next_switch_point() {
    let log = Log::default();
    let dropped = flag();
    let g = {
        let log = log.clone();
        let dropped = dropped.clone();
        spawn(move || {
            let _guard = DropFlag(dropped);
            for i in 0..3 {
                log.push(format!("step {i}"));
                yield_now();
            }
        })
    };
    yield_now(); // it runs one step and yields: runnable, not parked
    assert_eq!(stats().runnable, 1);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(log.entries(), ["step 0"]);
    assert!(dropped.get());
}

#[test]
fn a_greenlet_that_kills_itself_unwinds_at_once() {
    let slot: Rc<RefCell<Option<Greenlet<()>>>> = Rc::default();
    let after = flag();
    let g = {
        let slot = slot.clone();
        let after = after.clone();
        spawn(move || {
            slot.borrow().as_ref().unwrap().kill();
            after.set(true);
        })
    };
    *slot.borrow_mut() = Some(g);
    yield_now();
    let g = slot.borrow_mut().take().unwrap();
    assert!(g.join().unwrap_err().is_killed());
    assert!(!after.get());
}

#[test]
fn a_greenlet_can_kill_and_join_another_greenlet() {
    let victim = spawn(|| sleep(LONG));
    let killer = spawn(move || {
        victim.kill();
        victim.join().map_err(|e| e.is_killed())
    });
    assert_eq!(killer.join().unwrap(), Err(true));
}

#[test]
fn kill_unwinds_a_greenlet_parked_in_join_of_another() {
    let dropped = flag();
    let after = flag();
    let sleeper = spawn(|| sleep(LONG));
    let joiner = {
        let dropped = dropped.clone();
        let after = after.clone();
        spawn(move || {
            let _guard = DropFlag(dropped);
            let _ = sleeper.join();
            after.set(true);
        })
    };
    yield_now(); // both park: the sleeper in sleep, the joiner in join
    assert_eq!(stats().parked, 2);
    joiner.kill();
    assert!(joiner.join().unwrap_err().is_killed());
    assert!(dropped.get());
    assert!(!after.get());
}

#[test]
fn killing_a_joiner_leaves_the_greenlet_it_joined_running() {
    let done = flag();
    let sleeper = {
        let done = done.clone();
        spawn(move || {
            sleep(ms(30));
            done.set(true);
        })
    };
    let joiner = spawn(move || {
        let _ = sleeper.join();
    });
    yield_now();
    joiner.kill();
    assert!(joiner.join().unwrap_err().is_killed());
    assert!(!done.get());
    wait_until(Duration::from_secs(5), || done.get());
}

#[test]
fn killall_waits_until_every_greenlet_has_unwound() {
    let drops = Rc::new(Cell::new(0));
    let parked: Vec<_> = (0..3)
        .map(|_| {
            let drops = drops.clone();
            spawn(move || {
                let _guard = DropCounter(drops);
                sleep(LONG);
            })
        })
        .collect();
    yield_now();
    let start = Instant::now();
    killall(parked);
    assert_eq!(drops.get(), 3);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn killall_handles_parked_runnable_and_unstarted_greenlets_together() {
    let drops = Rc::new(Cell::new(0));
    let parked = {
        let drops = drops.clone();
        spawn(move || {
            let _guard = DropCounter(drops);
            sleep(LONG);
        })
    };
    let runnable = {
        let drops = drops.clone();
        spawn(move || {
            let _guard = DropCounter(drops);
            loop {
                yield_now();
            }
        })
    };
    yield_now(); // the first parks, the second is runnable
    let unstarted = {
        let guard = DropCounter(drops.clone());
        spawn(move || {
            drop(guard);
            loop {
                yield_now();
            }
        })
    };
    killall([parked, runnable, unstarted]);
    assert_eq!(drops.get(), 3);
    assert_eq!(stats().alive, 0);
}

/// Sleeps in its destructor, as a guard that closes a connection politely might.
struct SlowDrop(Rc<Cell<bool>>);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        sleep(ms(30));
        self.0.set(true);
    }
}

#[test]
fn killall_waits_for_destructors_that_block_while_unwinding() {
    let done = flag();
    let g = {
        let done = done.clone();
        spawn(move || {
            let _guard = SlowDrop(done);
            sleep(LONG);
        })
    };
    yield_now();
    let start = Instant::now();
    killall([g]);
    assert!(done.get());
    assert_elapsed(start.elapsed(), ms(30), Duration::from_secs(1));
}

#[test]
fn a_kill_caught_by_catch_unwind_is_raised_again_at_the_next_switch_point() {
    let caught = flag();
    let after = flag();
    let g = {
        let caught = caught.clone();
        let after = after.clone();
        spawn(move || {
            let first = panic::catch_unwind(AssertUnwindSafe(|| sleep(LONG)));
            caught.set(first.is_err());
            sleep(LONG);
            after.set(true);
        })
    };
    yield_now();
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(caught.get());
    assert!(!after.get());
}

#[test]
fn another_greenlet_runs_normally_while_one_is_killed() {
    let (dropped, after) = (flag(), flag());
    let victim = parked_sleeper(&dropped, &after);
    let bystander = spawn(|| {
        sleep(ms(20));
        "done"
    });
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    assert_eq!(bystander.join().unwrap(), "done");
}

#[test]
fn stats_no_longer_count_a_killed_greenlet() {
    let (dropped, after) = (flag(), flag());
    let g = parked_sleeper(&dropped, &after);
    assert_eq!(stats().alive, 1);
    g.kill();
    let _ = g.join();
    assert_eq!(stats().alive, 0);
}

#[test]
fn kill_works_while_another_greenlet_sleeps_in_a_destructor_during_its_own_kill() {
    let unwinding = spawn(|| {
        let _guard = SlowDrop(flag());
        sleep(LONG);
    });
    yield_now();
    unwinding.kill(); // it will park in SlowDrop's 30 ms sleep while it unwinds
    let after = flag();
    let victim = {
        let after = after.clone();
        spawn(move || {
            sleep(Duration::from_secs(2));
            after.set(true);
        })
    };
    yield_now(); // the first parks mid-unwind, the victim parks in its sleep
    victim.kill();
    let result = victim.join();
    let _ = unwinding.join();
    assert!(!after.get(), "the killed greenlet ran past its sleep");
    assert!(result.unwrap_err().is_killed());
}
