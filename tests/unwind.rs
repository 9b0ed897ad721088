//! Kills and timeouts while greenlets unwind: a greenlet whose destructor
//! blocks during a panic, possibly beside another one, must neither abort the
//! process (a second unwind out of a destructor does) nor lose or misapply an
//! interrupt meant for somebody else. The scenarios that used to abort run in
//! a child process.

mod util;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::queue::Queue;
use util::{LONG, child, ms};

/// Runs its closure when dropped: a destructor that blocks.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// A greenlet that panics with "boom" and, unwinding, sleeps `pause` in a destructor.
fn panics_then_sleeps_in_a_destructor(pause: Duration) -> greenlet::Greenlet<()> {
    greenlet::spawn(move || {
        let _sleeper = OnDrop(move || greenlet::sleep(pause));
        panic!("boom");
    })
}

#[test]
fn killing_the_second_of_two_greenlets_parked_in_destructors_during_panics_does_not_abort() {
    child::assert_runs_to_the_end(
        "killing_the_second_of_two_greenlets_parked_in_destructors_during_panics_does_not_abort",
        || {
            let first = panics_then_sleeps_in_a_destructor(ms(100));
            let second = panics_then_sleeps_in_a_destructor(ms(100));
            greenlet::yield_now(); // both panic and park in their destructors
            let start = Instant::now();
            second.kill();
            assert!(first.join().unwrap_err().is_panic());
            // The kill could not unwind the destructor: it slept its time,
            // and the greenlet ended with its own panic.
            assert!(second.join().unwrap_err().is_panic());
            assert!(start.elapsed() >= ms(90));
        },
    );
}

#[test]
fn a_timeout_of_the_second_of_two_greenlets_parked_in_destructors_during_panics_does_not_abort() {
    child::assert_runs_to_the_end(
        "a_timeout_of_the_second_of_two_greenlets_parked_in_destructors_during_panics_does_not_abort",
        || {
            let first = panics_then_sleeps_in_a_destructor(ms(100));
            let second = greenlet::spawn(|| {
                greenlet::with_timeout(ms(20), || {
                    let _sleeper = OnDrop(|| greenlet::sleep(ms(100)));
                    panic!("boom");
                })
            });
            assert!(first.join().unwrap_err().is_panic());
            // The panic started inside the scope, so it is what comes out.
            assert!(second.join().unwrap_err().is_panic());
        },
    );
}

#[test]
fn killing_a_greenlet_that_yields_in_its_destructor_beside_a_parked_one_does_not_abort() {
    child::assert_runs_to_the_end(
        "killing_a_greenlet_that_yields_in_its_destructor_beside_a_parked_one_does_not_abort",
        || {
            let parked = panics_then_sleeps_in_a_destructor(ms(100));
            let yielding = greenlet::spawn(|| {
                let _spinner = OnDrop(|| {
                    let start = Instant::now();
                    while start.elapsed() < ms(50) {
                        greenlet::yield_now();
                    }
                });
                panic!("boom");
            });
            greenlet::yield_now();
            yielding.kill();
            assert!(yielding.join().unwrap_err().is_panic());
            assert!(parked.join().unwrap_err().is_panic());
        },
    );
}

#[test]
fn a_greenlet_parked_in_a_destructor_during_its_panic_is_killed_after_the_destructor() {
    child::assert_runs_to_the_end(
        "a_greenlet_parked_in_a_destructor_during_its_panic_is_killed_after_the_destructor",
        || {
            let slept = Rc::new(Cell::new(false));
            let g = {
                let slept = slept.clone();
                greenlet::spawn(move || {
                    let _sleeper = OnDrop(move || {
                        greenlet::sleep(ms(50));
                        slept.set(true);
                    });
                    panic!("boom");
                })
            };
            greenlet::yield_now();
            g.kill();
            assert!(g.join().unwrap_err().is_panic());
            assert!(slept.get(), "the destructor was cut short");
        },
    );
}

#[test]
fn a_timeout_inside_a_destructor_during_a_panic_fires() {
    let outcome = Rc::new(Cell::new(None));
    let queue: Queue<u32> = Queue::new();
    let g = {
        let (outcome, queue) = (outcome.clone(), queue.clone());
        greenlet::spawn(move || {
            let _waiter = OnDrop(move || {
                let start = Instant::now();
                let got = greenlet::with_timeout(ms(50), || queue.get());
                outcome.set(Some((got.is_err(), start.elapsed())));
            });
            panic!("boom");
        })
    };
    assert!(g.join().unwrap_err().is_panic());
    let (timed_out, elapsed) = outcome.get().expect("the destructor ran");
    assert!(timed_out);
    util::assert_elapsed(elapsed, ms(50), ms(1000));
}

#[test]
fn killall_returns_for_a_greenlet_waiting_with_a_timeout_inside_a_destructor_during_a_panic() {
    let queue: Queue<u32> = Queue::new();
    let g = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            let _waiter = OnDrop(move || {
                let _ = greenlet::with_timeout(ms(50), || queue.get());
            });
            panic!("boom");
        })
    };
    greenlet::yield_now();
    let start = Instant::now();
    greenlet::killall([g]);
    util::assert_elapsed(start.elapsed(), Duration::ZERO, ms(1000));
}

/// Spawns a greenlet that panics and yields in its destructor for `spin`.
fn panics_then_yields_in_a_destructor(spin: Duration) -> greenlet::Greenlet<()> {
    greenlet::spawn(move || {
        let _spinner = OnDrop(move || {
            let start = Instant::now();
            while start.elapsed() < spin {
                greenlet::yield_now();
            }
        });
        panic!("boom");
    })
}

#[test]
fn a_timeout_beside_a_greenlet_yielding_in_its_destructor_during_a_panic_fires() {
    let spinner = panics_then_yields_in_a_destructor(ms(300));
    let sleeper = greenlet::spawn(|| {
        let start = Instant::now();
        let outcome = greenlet::with_timeout(ms(50), || greenlet::sleep(Duration::from_secs(2)));
        (outcome, start.elapsed())
    });
    let (outcome, elapsed) = sleeper.join().unwrap();
    assert!(outcome.is_err(), "the timeout was lost");
    util::assert_elapsed(elapsed, ms(50), ms(1000));
    assert!(spinner.join().unwrap_err().is_panic());
}

#[test]
fn a_kill_beside_a_greenlet_yielding_in_its_destructor_during_a_panic_unwinds_the_sleeper() {
    let spinner = panics_then_yields_in_a_destructor(ms(300));
    let sleeper = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(2)));
    greenlet::yield_now();
    greenlet::yield_now();
    let start = Instant::now();
    sleeper.kill();
    assert!(sleeper.join().unwrap_err().is_killed());
    util::assert_elapsed(start.elapsed(), Duration::ZERO, ms(1000));
    assert!(spinner.join().unwrap_err().is_panic());
}

#[test]
fn a_sleep_beside_a_greenlet_yielding_in_its_destructor_is_not_cut_short_by_a_kill_elsewhere() {
    let spinner = panics_then_yields_in_a_destructor(ms(200));
    let sleeper = greenlet::spawn(|| {
        let start = Instant::now();
        greenlet::sleep(ms(100));
        start.elapsed()
    });
    let victim = greenlet::spawn(|| greenlet::sleep(LONG));
    greenlet::yield_now();
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    assert!(sleeper.join().unwrap() >= ms(100));
    assert!(spinner.join().unwrap_err().is_panic());
}

#[test]
fn a_greenlet_that_catches_its_kill_in_a_loop_still_lets_the_others_run() {
    let stop = Rc::new(Cell::new(false));
    let caught = Rc::new(Cell::new(0u64));
    let stubborn = {
        let (stop, caught) = (stop.clone(), caught.clone());
        greenlet::spawn(move || {
            while !stop.get() {
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| greenlet::sleep(LONG)));
                if outcome.is_err() {
                    caught.set(caught.get() + 1);
                }
            }
            greenlet::sleep(LONG); // the kill is still pending: it ends here
        })
    };
    greenlet::yield_now();
    stubborn.kill();
    let start = Instant::now();
    greenlet::sleep(ms(100));
    let elapsed = start.elapsed();
    stop.set(true);
    assert!(stubborn.join().unwrap_err().is_killed());
    assert!(caught.get() > 0, "the kill was never raised");
    util::assert_elapsed(elapsed, ms(100), ms(300));
}

#[test]
fn a_kill_swallowed_once_is_raised_again_after_a_switch() {
    let caught = Rc::new(Cell::new(0u32));
    let g = {
        let caught = caught.clone();
        greenlet::spawn(move || {
            for _ in 0..3 {
                if panic::catch_unwind(AssertUnwindSafe(|| greenlet::sleep(LONG))).is_err() {
                    caught.set(caught.get() + 1);
                }
            }
        })
    };
    greenlet::yield_now();
    g.kill();
    assert!(g.join().is_ok(), "it swallowed all three");
    assert_eq!(caught.get(), 3);
}
