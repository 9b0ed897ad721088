//! Results through `join`: values, panics, `JoinError`, and `wait_timeout`.

mod util;

use std::cell::RefCell;
use std::panic;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::{Greenlet, JoinError, joinall, sleep, spawn, yield_now};
use util::{assert_elapsed, ms, panic_text};

#[test]
fn join_returns_the_value_the_closure_returned() {
    let g = spawn(|| 6 * 7);
    assert_eq!(g.join().unwrap(), 42);
}

#[test]
fn join_returns_the_value_of_a_greenlet_that_slept() {
    let g = spawn(|| {
        sleep(ms(10));
        String::from("slept")
    });
    assert_eq!(g.join().unwrap(), "slept");
}

#[test]
fn join_of_a_panicking_greenlet_returns_panicked_with_the_payload() {
    let g = spawn(|| -> u32 { panic!("boom") });
    match g.join() {
        Err(JoinError::Panicked(payload)) => {
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn a_panic_join_error_says_it_is_a_panic_and_not_a_kill() {
    let err = spawn(|| panic!("boom")).join().unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_killed());
}

#[test]
fn into_panic_returns_a_formatted_panic_message_as_a_string() {
    let err = spawn(|| {
        let code = 7;
        panic!("failed with code {code}")
    })
    .join()
    .unwrap_err();
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("failed with code 7")
    );
}

#[test]
fn into_panic_returns_a_non_string_payload_unchanged() {
    #[derive(Debug, PartialEq)]
    struct Code(u32);
    let err = spawn(|| panic::panic_any(Code(3))).join().unwrap_err();
    assert_eq!(err.into_panic().downcast_ref::<Code>(), Some(&Code(3)));
}

#[test]
fn a_panic_payload_can_be_resumed_in_the_root() {
    let err = spawn(|| panic!("carried over")).join().unwrap_err();
    let payload = err.into_panic();
    let caught =
        panic::catch_unwind(panic::AssertUnwindSafe(|| panic::resume_unwind(payload))).unwrap_err();
    assert_eq!(panic_text(&*caught), "carried over");
}

#[test]
fn a_panic_join_error_displays_the_panic_message() {
    let err = spawn(|| panic!("boom")).join().unwrap_err();
    assert_eq!(err.to_string(), "greenlet panicked: boom");
}

#[test]
fn a_kill_join_error_displays_that_the_greenlet_was_killed() {
    let g = spawn(|| ());
    g.kill();
    let err = g.join().unwrap_err();
    assert_eq!(err.to_string(), "greenlet was killed");
}

#[test]
fn a_kill_join_error_says_it_is_a_kill_and_not_a_panic() {
    let g = spawn(|| ());
    g.kill();
    let err = g.join().unwrap_err();
    assert!(err.is_killed());
    assert!(!err.is_panic());
}

#[test]
fn into_panic_on_a_kill_join_error_panics() {
    let g = spawn(|| ());
    g.kill();
    let err = g.join().unwrap_err();
    let result = panic::catch_unwind(panic::AssertUnwindSafe(move || err.into_panic()));
    assert!(result.is_err());
}

#[test]
fn join_error_is_a_std_error() {
    let err: Box<dyn std::error::Error> = Box::new(spawn(|| panic!("boom")).join().unwrap_err());
    assert_eq!(err.to_string(), "greenlet panicked: boom");
}

#[test]
fn a_panicking_greenlet_does_not_stop_the_others() {
    let sleeper = spawn(|| {
        sleep(ms(20));
        "still here"
    });
    let panicker = spawn(|| {
        sleep(ms(5));
        panic!("boom")
    });
    let yielder = spawn(|| {
        for _ in 0..5 {
            yield_now();
        }
        5
    });
    assert!(panicker.join().unwrap_err().is_panic());
    assert_eq!(sleeper.join().unwrap(), "still here");
    assert_eq!(yielder.join().unwrap(), 5);
}

#[test]
fn joinall_returns_each_result_including_panics_in_order() {
    let gs: Vec<Greenlet<u32>> = vec![
        spawn(|| 1),
        spawn(|| panic!("second")),
        spawn(|| {
            sleep(ms(5));
            3
        }),
    ];
    let results = joinall(gs);
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap(), &1);
    assert!(results[1].as_ref().unwrap_err().is_panic());
    assert_eq!(results[2].as_ref().unwrap(), &3);
}

#[test]
fn a_greenlet_can_join_a_greenlet_that_panicked() {
    let outer = spawn(|| spawn(|| panic!("inner")).join().unwrap_err().to_string());
    assert_eq!(outer.join().unwrap(), "greenlet panicked: inner");
}

#[test]
fn a_greenlet_waiting_for_itself_panics_with_a_clear_message() {
    let slot: Rc<RefCell<Option<Greenlet<bool>>>> = Rc::default();
    let g = {
        let slot = slot.clone();
        spawn(move || slot.borrow().as_ref().unwrap().wait_timeout(ms(10)))
    };
    *slot.borrow_mut() = Some(g);
    yield_now(); // it runs and waits for itself
    let g = slot.borrow_mut().take().unwrap();
    let message = panic_text(&*g.join().unwrap_err().into_panic());
    assert!(
        message.contains("cannot wait for itself"),
        "unexpected message: {message}"
    );
}

#[test]
fn is_finished_is_false_before_the_greenlet_ends_and_true_after() {
    let g = spawn(|| sleep(ms(10)));
    yield_now(); // it runs and parks
    assert!(!g.is_finished());
    assert!(g.wait_timeout(Duration::from_secs(5)));
    assert!(g.is_finished());
}

#[test]
fn wait_timeout_in_the_root_is_false_while_the_greenlet_is_still_running() {
    let g = spawn(|| sleep(ms(200)));
    let start = Instant::now();
    assert!(!g.wait_timeout(ms(20)));
    assert_elapsed(start.elapsed(), ms(20), ms(150));
}

#[test]
fn wait_timeout_in_the_root_is_true_as_soon_as_the_greenlet_finishes() {
    let g = spawn(|| sleep(ms(20)));
    let start = Instant::now();
    assert!(g.wait_timeout(Duration::from_secs(5)));
    assert_elapsed(start.elapsed(), ms(20), Duration::from_secs(1));
}

#[test]
fn wait_timeout_on_a_finished_greenlet_is_true_at_once() {
    let g = spawn(|| ());
    yield_now();
    assert!(g.is_finished());
    let start = Instant::now();
    assert!(g.wait_timeout(Duration::from_secs(5)));
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn wait_timeout_of_zero_on_an_unfinished_greenlet_is_false_without_running_it() {
    let g = spawn(|| ());
    assert!(!g.wait_timeout(Duration::ZERO));
    assert!(!g.is_finished());
}

#[test]
fn wait_timeout_in_a_greenlet_is_false_before_finish_and_true_after() {
    let target = spawn(|| {
        sleep(ms(100));
        9
    });
    let waiter = spawn(move || {
        let early = target.wait_timeout(ms(10));
        let late = target.wait_timeout(Duration::from_secs(5));
        (early, late, target.join().unwrap())
    });
    assert_eq!(waiter.join().unwrap(), (false, true, 9));
}

#[test]
fn a_wait_timeout_that_timed_out_does_not_cut_a_later_sleep_short() {
    let g = spawn(|| sleep(ms(50)));
    assert!(!g.wait_timeout(ms(10)));
    // The greenlet finishes 40 ms into this sleep; its end must not wake the root.
    let start = Instant::now();
    sleep(ms(150));
    assert!(
        start.elapsed() >= ms(150),
        "slept only {:?}",
        start.elapsed()
    );
}

#[test]
fn a_wait_timeout_that_returned_early_does_not_cut_a_later_sleep_short() {
    let g = spawn(|| sleep(ms(10)));
    assert!(g.wait_timeout(ms(100)));
    // The wait's 100 ms deadline passes during this sleep; it must not wake the root.
    let start = Instant::now();
    sleep(ms(200));
    assert!(
        start.elapsed() >= ms(200),
        "slept only {:?}",
        start.elapsed()
    );
}
