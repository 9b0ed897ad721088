//! `greenlet::event`: `Event` (set, clear, wait, wait_timeout) and
//! `AsyncResult` (set, get, try_get, is_ready, wait_timeout).

mod util;

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use greenlet::event::{AsyncResult, Event};
use greenlet::{Greenlet, sleep, spawn, yield_now};
use util::{assert_elapsed, ms, panic_text};

/// A greenlet that waits for `event` and returns `n`.
fn event_waiter(event: &Event, n: u32) -> Greenlet<u32> {
    let event = event.clone();
    spawn(move || {
        event.wait();
        n
    })
}

/// A greenlet that waits for `result` and returns what it got.
fn result_getter<T: Clone + 'static>(result: &AsyncResult<T>) -> Greenlet<T> {
    let result = result.clone();
    spawn(move || result.get())
}

// ---- Event -----------------------------------------------------------------------

#[test]
fn a_new_event_is_not_set() {
    assert!(!Event::new().is_set());
}

#[test]
fn is_set_follows_set_and_clear() {
    let event = Event::new();
    event.set();
    assert!(event.is_set());
    event.clear();
    assert!(!event.is_set());
}

#[test]
fn wait_parks_until_the_event_is_set() {
    let event = Event::new();
    let w = event_waiter(&event, 1);
    yield_now();
    assert!(!w.is_finished(), "wait returned before set");
    event.set();
    assert_eq!(w.join().unwrap(), 1);
}

#[test]
fn set_wakes_every_waiter() {
    let event = Event::new();
    let waiters: Vec<_> = (0..3).map(|n| event_waiter(&event, n)).collect();
    yield_now();
    assert!(waiters.iter().all(|w| !w.is_finished()));
    event.set();
    let done: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(done, [0, 1, 2]);
}

#[test]
fn wait_in_the_root_runs_greenlets_until_one_sets_the_event() {
    let event = Event::new();
    let _setter = {
        let event = event.clone();
        spawn(move || {
            sleep(ms(10));
            event.set();
        })
    };
    event.wait();
    assert!(event.is_set());
}

#[test]
fn wait_after_set_returns_at_once() {
    let event = Event::new();
    event.set();
    let start = Instant::now();
    event.wait();
    assert!(start.elapsed() < ms(100));
}

#[test]
fn wait_after_clear_parks_again() {
    let event = Event::new();
    event.set();
    event.clear();
    let w = event_waiter(&event, 1);
    yield_now();
    assert!(
        !w.is_finished(),
        "wait returned although the event was cleared"
    );
    event.set();
    assert_eq!(w.join().unwrap(), 1);
}

#[test]
fn a_waiter_woken_by_set_returns_even_if_clear_follows_before_it_runs() {
    let event = Event::new();
    let w = event_waiter(&event, 1);
    yield_now();
    event.set();
    event.clear(); // before the waiter has run
    assert_eq!(w.join().unwrap(), 1);
    assert!(!event.is_set());
}

#[test]
fn a_waiter_killed_while_parked_does_not_stop_set_waking_the_others() {
    let event = Event::new();
    let first = event_waiter(&event, 1);
    let second = event_waiter(&event, 2);
    yield_now();
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    event.set();
    assert_eq!(second.join().unwrap(), 2);
}

#[test]
fn wait_in_the_root_on_an_event_nobody_can_set_panics_naming_event_wait() {
    let event = Event::new();
    let message = match panic::catch_unwind(AssertUnwindSafe(|| event.wait())) {
        Ok(()) => panic!("expected a panic"),
        Err(payload) => panic_text(&*payload),
    };
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("Event::wait"), "{message}");
}

#[test]
fn wait_timeout_returns_false_after_about_the_timeout() {
    let event = Event::new();
    let start = Instant::now();
    assert!(!event.wait_timeout(ms(100)));
    assert_elapsed(start.elapsed(), ms(100), ms(600));
}

#[test]
fn wait_timeout_returns_true_when_set_in_time_without_waiting_for_the_deadline() {
    let event = Event::new();
    let _setter = {
        let event = event.clone();
        spawn(move || {
            sleep(ms(20));
            event.set();
        })
    };
    let start = Instant::now();
    assert!(event.wait_timeout(Duration::from_secs(5)));
    assert_elapsed(start.elapsed(), ms(20), Duration::from_secs(2));
}

#[test]
fn wait_timeout_on_a_set_event_returns_true_at_once() {
    let event = Event::new();
    event.set();
    let start = Instant::now();
    assert!(event.wait_timeout(Duration::from_secs(5)));
    assert!(start.elapsed() < ms(100));
}

#[test]
fn wait_timeout_of_zero_on_an_unset_event_returns_false_at_once() {
    let event = Event::new();
    let start = Instant::now();
    assert!(!event.wait_timeout(Duration::ZERO));
    assert!(start.elapsed() < ms(100));
}

#[test]
fn event_clones_share_one_flag() {
    let event = Event::new();
    let other = event.clone();
    other.set();
    assert!(event.is_set());
}

// ---- AsyncResult ---------------------------------------------------------------

#[test]
fn a_new_async_result_is_not_ready() {
    let result = AsyncResult::<u8>::new();
    assert!(!result.is_ready());
    assert_eq!(result.try_get(), None);
}

#[test]
fn get_parks_until_a_value_is_set() {
    let result = AsyncResult::new();
    let g = result_getter(&result);
    yield_now();
    assert!(!g.is_finished(), "get returned before set");
    result.set(42);
    assert_eq!(g.join().unwrap(), 42);
}

#[test]
fn set_hands_a_clone_of_the_value_to_every_waiter() {
    let result = AsyncResult::new();
    let getters: Vec<_> = (0..3).map(|_| result_getter(&result)).collect();
    yield_now();
    result.set(String::from("ready"));
    for g in getters {
        assert_eq!(g.join().unwrap(), "ready");
    }
    assert_eq!(result.try_get().as_deref(), Some("ready"));
}

#[test]
fn get_in_the_root_runs_greenlets_until_one_sets_the_value() {
    let result = AsyncResult::new();
    let _setter = {
        let result = result.clone();
        spawn(move || {
            sleep(ms(10));
            result.set('x');
        })
    };
    assert_eq!(result.get(), 'x');
}

#[test]
fn get_after_set_returns_at_once() {
    let result = AsyncResult::new();
    result.set(1);
    let start = Instant::now();
    assert_eq!(result.get(), 1);
    assert_eq!(result.get(), 1, "get does not take the value away");
    assert!(start.elapsed() < ms(100));
}

#[test]
fn set_on_a_set_result_replaces_the_value() {
    let result = AsyncResult::new();
    result.set(1);
    result.set(2);
    assert_eq!(result.get(), 2);
}

#[test]
fn try_get_returns_a_clone_of_the_value_once_set() {
    let result = AsyncResult::new();
    assert_eq!(result.try_get(), None);
    result.set(vec![1, 2]);
    assert_eq!(result.try_get(), Some(vec![1, 2]));
    assert_eq!(result.try_get(), Some(vec![1, 2]));
}

#[test]
fn is_ready_becomes_true_when_a_value_is_set() {
    let result = AsyncResult::new();
    assert!(!result.is_ready());
    result.set(());
    assert!(result.is_ready());
}

#[test]
fn async_result_wait_timeout_returns_false_after_about_the_timeout() {
    let result = AsyncResult::<u8>::new();
    let start = Instant::now();
    assert!(!result.wait_timeout(ms(100)));
    assert_elapsed(start.elapsed(), ms(100), ms(600));
    assert!(!result.is_ready());
}

#[test]
fn async_result_wait_timeout_returns_true_when_set_in_time() {
    let result = AsyncResult::new();
    let _setter = {
        let result = result.clone();
        spawn(move || {
            sleep(ms(20));
            result.set(3);
        })
    };
    let start = Instant::now();
    assert!(result.wait_timeout(Duration::from_secs(5)));
    assert_elapsed(start.elapsed(), ms(20), Duration::from_secs(2));
    assert_eq!(result.try_get(), Some(3));
}

#[test]
fn async_result_wait_timeout_on_a_set_result_returns_true_at_once() {
    let result = AsyncResult::new();
    result.set(0);
    let start = Instant::now();
    assert!(result.wait_timeout(Duration::from_secs(5)));
    assert!(start.elapsed() < ms(100));
}

#[test]
fn async_result_wait_parks_until_a_value_is_set() {
    let result = AsyncResult::new();
    let w = {
        let result = result.clone();
        spawn(move || result.wait())
    };
    yield_now();
    assert!(!w.is_finished());
    result.set(1);
    w.join().unwrap();
}
