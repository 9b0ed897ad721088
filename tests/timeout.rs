//! `with_timeout`: in the root, in greenlets, nested, and in sequence.

mod util;

use std::cell::Cell;
use std::panic;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::{Elapsed, sleep, spawn, with_timeout, yield_now};
use util::{DropFlag, LONG, assert_elapsed, flag, ms, panic_text};

#[test]
fn with_timeout_in_the_root_returns_elapsed_after_about_the_timeout() {
    let start = Instant::now();
    let result = with_timeout(ms(100), || sleep(LONG));
    assert_eq!(result, Err(Elapsed::default()));
    // 1.5 x 100 ms plus 100 ms of slack for a busy machine.
    assert_elapsed(start.elapsed(), ms(100), ms(250));
}

#[test]
fn with_timeout_returns_ok_with_the_value_when_f_finishes_in_time() {
    let result = with_timeout(Duration::from_secs(5), || {
        sleep(ms(10));
        "finished"
    });
    assert_eq!(result, Ok("finished"));
}

#[test]
fn with_timeout_returns_as_soon_as_f_finishes_not_at_the_deadline() {
    let start = Instant::now();
    let _ = with_timeout(Duration::from_secs(5), || sleep(ms(10)));
    assert_elapsed(start.elapsed(), ms(10), Duration::from_secs(1));
}

#[test]
fn with_timeout_runs_the_destructors_inside_f_when_it_fires() {
    let dropped = flag();
    let _ = with_timeout(ms(10), || {
        let _guard = DropFlag(dropped.clone());
        sleep(LONG);
    });
    assert!(dropped.get());
}

#[test]
fn with_timeout_stops_f_before_the_code_after_its_blocking_call() {
    let after = flag();
    let _ = with_timeout(ms(10), || {
        sleep(LONG);
        after.set(true);
    });
    assert!(!after.get());
}

#[test]
fn with_timeout_interrupts_a_root_blocked_in_join() {
    let g = spawn(|| sleep(LONG));
    let result = with_timeout(ms(20), move || g.join().is_ok());
    assert_eq!(result, Err(Elapsed::default()));
}

#[test]
fn with_timeout_inside_a_greenlet_returns_elapsed() {
    let g = spawn(|| {
        let start = Instant::now();
        (with_timeout(ms(50), || sleep(LONG)), start.elapsed())
    });
    let (result, took) = g.join().unwrap();
    assert_eq!(result, Err(Elapsed::default()));
    assert_elapsed(took, ms(50), ms(200));
}

#[test]
fn with_timeout_inside_a_greenlet_returns_ok_when_f_finishes_in_time() {
    let g = spawn(|| {
        with_timeout(Duration::from_secs(5), || {
            sleep(ms(5));
            11
        })
    });
    assert_eq!(g.join().unwrap(), Ok(11));
}

#[test]
fn a_timeout_in_one_greenlet_does_not_interrupt_another() {
    let timed = spawn(|| with_timeout(ms(10), || sleep(LONG)));
    let other = spawn(|| {
        sleep(ms(50));
        "slept in full"
    });
    assert_eq!(timed.join().unwrap(), Err(Elapsed::default()));
    assert_eq!(other.join().unwrap(), "slept in full");
}

#[test]
fn a_timeout_inside_a_greenlet_does_not_interrupt_the_root() {
    let _timed = spawn(|| with_timeout(ms(10), || sleep(LONG)));
    let start = Instant::now();
    sleep(ms(60));
    assert!(start.elapsed() >= ms(60));
}

#[test]
fn an_inner_shorter_timeout_fires_only_for_the_inner_scope() {
    let start = Instant::now();
    let outer = with_timeout(Duration::from_secs(5), || {
        let inner = with_timeout(ms(20), || sleep(LONG));
        sleep(ms(10)); // the outer scope still blocks normally afterwards
        inner
    });
    assert_eq!(outer, Ok(Err(Elapsed::default())));
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn an_outer_shorter_timeout_fires_for_the_outer_scope() {
    let start = Instant::now();
    let inner_returned = flag();
    let outer = with_timeout(ms(20), || {
        let inner = with_timeout(Duration::from_secs(5), || {
            sleep(LONG);
            "inner finished"
        });
        inner_returned.set(true);
        inner
    });
    assert_eq!(outer, Err(Elapsed::default()));
    assert!(
        !inner_returned.get(),
        "the inner scope claimed the outer timeout"
    );
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn nested_timeouts_work_inside_a_greenlet() {
    let g = spawn(|| {
        let inner_returned = Rc::new(Cell::new(false));
        let outer = with_timeout(ms(20), || {
            let inner = with_timeout(Duration::from_secs(5), || sleep(LONG));
            inner_returned.set(true);
            inner
        });
        (outer, inner_returned.get())
    });
    assert_eq!(g.join().unwrap(), (Err(Elapsed::default()), false));
}

#[test]
fn a_timeout_after_a_fired_one_does_not_misfire() {
    assert!(with_timeout(ms(10), || sleep(LONG)).is_err());
    let start = Instant::now();
    let second = with_timeout(ms(200), || {
        sleep(ms(30));
        3
    });
    assert_eq!(second, Ok(3));
    assert!(start.elapsed() >= ms(30));
}

#[test]
fn many_timeouts_in_sequence_each_fire_for_themselves() {
    for i in 0..10 {
        let fired = with_timeout(ms(2), || sleep(LONG));
        assert_eq!(fired, Err(Elapsed::default()), "round {i}");
        let kept = with_timeout(Duration::from_secs(5), || {
            yield_now();
            i
        });
        assert_eq!(kept, Ok(i), "round {i}");
    }
}

#[test]
fn a_sleep_after_a_fired_timeout_lasts_in_full() {
    assert!(with_timeout(ms(10), || sleep(LONG)).is_err());
    let start = Instant::now();
    sleep(ms(50));
    assert!(start.elapsed() >= ms(50));
}

#[test]
fn a_timeout_whose_f_returned_in_time_does_not_fire_later_in_the_root() {
    assert_eq!(with_timeout(ms(30), || 1), Ok(1));
    // This sleep outlasts the deadline; an unwind here would fail the test.
    let start = Instant::now();
    sleep(ms(80));
    assert!(start.elapsed() >= ms(80));
}

#[test]
fn a_timeout_whose_f_returned_in_time_does_not_fire_later_in_a_greenlet() {
    let g = spawn(|| {
        let first = with_timeout(ms(30), || {
            sleep(ms(5));
            1
        });
        let start = Instant::now();
        sleep(ms(80));
        (first, start.elapsed() >= ms(80))
    });
    assert_eq!(g.join().unwrap(), (Ok(1), true));
}

#[test]
fn with_timeout_does_not_interrupt_a_computation_that_never_switches() {
    let result = with_timeout(ms(5), || {
        let start = Instant::now();
        while start.elapsed() < ms(30) {
            std::hint::spin_loop();
        }
        "ran to its end"
    });
    assert_eq!(result, Ok("ran to its end"));
}

/// Yields until `limit` has passed; true if it got there (was never interrupted).
fn yield_for(limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        yield_now();
    }
    true
}

#[test]
fn with_timeout_interrupts_a_greenlet_that_keeps_yielding() {
    let g = spawn(|| {
        let start = Instant::now();
        (
            with_timeout(ms(20), || yield_for(Duration::from_secs(2))),
            start.elapsed(),
        )
    });
    let (result, took) = g.join().unwrap();
    assert_eq!(result, Err(Elapsed::default()));
    assert_elapsed(took, ms(20), ms(500));
}

#[test]
fn with_timeout_interrupts_a_root_that_keeps_yielding() {
    let start = Instant::now();
    let result = with_timeout(ms(20), || yield_for(Duration::from_secs(2)));
    assert_eq!(result, Err(Elapsed::default()));
    assert_elapsed(start.elapsed(), ms(20), ms(500));
}

#[test]
fn with_timeout_of_zero_returns_the_value_of_an_f_that_does_not_block() {
    assert_eq!(with_timeout(Duration::ZERO, || 5), Ok(5));
}

#[test]
fn with_timeout_of_zero_interrupts_an_f_that_blocks() {
    assert_eq!(
        with_timeout(Duration::ZERO, || sleep(LONG)),
        Err(Elapsed::default())
    );
}

#[test]
fn with_timeout_of_duration_max_never_fires() {
    assert_eq!(
        with_timeout(Duration::MAX, || {
            sleep(ms(5));
            2
        }),
        Ok(2)
    );
}

#[test]
fn a_panic_inside_with_timeout_passes_through_unchanged() {
    let caught = panic::catch_unwind(|| with_timeout(Duration::from_secs(5), || panic!("inner")))
        .unwrap_err();
    assert_eq!(panic_text(&*caught), "inner");
}

#[test]
fn with_timeout_does_not_turn_a_kill_into_elapsed() {
    let g = spawn(|| with_timeout(Duration::from_secs(5), || sleep(LONG)));
    yield_now();
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn elapsed_displays_as_timed_out() {
    let err = with_timeout(ms(1), || sleep(LONG)).unwrap_err();
    assert_eq!(err.to_string(), "timed out");
}

#[test]
fn elapsed_converts_to_a_timed_out_io_error() {
    let err = with_timeout(ms(1), || sleep(LONG)).unwrap_err();
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

/// Sleeps in its destructor, as a guard that closes a connection politely might.
struct SlowDrop(Duration);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        sleep(self.0);
    }
}

#[test]
fn a_timeout_fires_while_another_greenlet_sleeps_in_a_destructor_during_its_kill() {
    let unwinding = spawn(|| {
        let _guard = SlowDrop(ms(300));
        sleep(LONG);
    });
    yield_now();
    unwinding.kill(); // it will park in SlowDrop's sleep while it unwinds
    let timed = spawn(|| {
        with_timeout(ms(20), || {
            let start = Instant::now();
            sleep(Duration::from_secs(2));
            format!("the 2 s sleep returned after {:?}", start.elapsed())
        })
    });
    let result = timed.join().unwrap();
    let _ = unwinding.join();
    assert_eq!(result, Err(Elapsed::default()));
}

#[test]
fn a_sleep_lasts_in_full_while_another_greenlet_sleeps_in_a_destructor_during_its_kill() {
    let unwinding = spawn(|| {
        let _guard = SlowDrop(ms(100));
        sleep(LONG);
    });
    yield_now();
    unwinding.kill();
    let sleeper = spawn(|| {
        let start = Instant::now();
        sleep(ms(50));
        start.elapsed()
    });
    let slept = sleeper.join().unwrap();
    let _ = unwinding.join();
    assert!(slept >= ms(50), "slept only {slept:?}");
}
