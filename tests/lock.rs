//! `greenlet::lock`: `Semaphore`, `BoundedSemaphore`, `Mutex` and `RLock` —
//! parking, FIFO service of waiters, no barging, timeouts, and release when
//! a holder or a waiter is killed.

mod util;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::lock::{BoundedSemaphore, Mutex, RLock, Semaphore};
use greenlet::{Greenlet, sleep, spawn, yield_now};
use util::{LONG, Log, assert_elapsed, ms, panic_text};

/// Runs `f`, which must panic, and returns its panic message.
fn panic_message_of<R>(f: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => panic_text(&*payload),
    }
}

/// A greenlet that takes a permit, logs `name`, and holds the permit until
/// it has yielded once (so the next waiter cannot run inside its turn).
fn semaphore_waiter(semaphore: &Rc<Semaphore>, log: &Log, name: &'static str) -> Greenlet<()> {
    let semaphore = semaphore.clone();
    let log = log.clone();
    spawn(move || {
        let _permit = semaphore.acquire();
        log.push(name);
        yield_now();
    })
}

/// A greenlet that takes a permit and holds it for ever (until killed).
fn permit_holder(semaphore: &Rc<Semaphore>) -> Greenlet<()> {
    let semaphore = semaphore.clone();
    spawn(move || {
        let _permit = semaphore.acquire();
        sleep(LONG);
    })
}

/// A greenlet that waits for the lock of `mutex`, then returns true.
fn mutex_waiter(mutex: &Rc<Mutex<()>>) -> Greenlet<bool> {
    let mutex = mutex.clone();
    spawn(move || {
        let _guard = mutex.lock();
        true
    })
}

/// A greenlet that takes the lock of `mutex` and holds it for ever.
fn mutex_holder(mutex: &Rc<Mutex<u32>>) -> Greenlet<()> {
    let mutex = mutex.clone();
    spawn(move || {
        let _guard = mutex.lock();
        sleep(LONG);
    })
}

/// A greenlet that waits for `lock`, then returns true.
fn rlock_waiter(lock: &Rc<RLock<()>>) -> Greenlet<bool> {
    let lock = lock.clone();
    spawn(move || {
        let _guard = lock.lock();
        true
    })
}

// ---- Semaphore -------------------------------------------------------------------

#[test]
fn available_counts_the_free_permits() {
    let semaphore = Semaphore::new(3);
    assert_eq!(semaphore.available(), 3);
    let _a = semaphore.acquire();
    let _b = semaphore.acquire();
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn acquire_with_a_free_permit_returns_at_once() {
    let semaphore = Semaphore::new(1);
    let start = Instant::now();
    let _permit = semaphore.acquire();
    assert!(start.elapsed() < ms(100));
    assert_eq!(semaphore.available(), 0);
}

#[test]
fn acquire_parks_while_no_permit_is_free() {
    let semaphore = Rc::new(Semaphore::new(1));
    let held = semaphore.acquire();
    let log = Log::default();
    let w = semaphore_waiter(&semaphore, &log, "w");
    yield_now();
    assert!(!w.is_finished());
    assert!(
        log.entries().is_empty(),
        "acquire returned with no permit free"
    );
    drop(held);
    w.join().unwrap();
    assert_eq!(log.entries(), ["w"]);
}

#[test]
fn parked_acquirers_get_permits_in_the_order_they_parked() {
    let semaphore = Rc::new(Semaphore::new(0));
    let log = Log::default();
    let waiters: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| semaphore_waiter(&semaphore, &log, name))
        .collect();
    yield_now(); // all three park, in spawn order
    semaphore.release(); // each passes the one permit on when it is done
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(log.entries(), ["a", "b", "c"]);
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn dropping_the_guard_gives_the_permit_back() {
    let semaphore = Semaphore::new(1);
    let permit = semaphore.acquire();
    assert_eq!(semaphore.available(), 0);
    drop(permit);
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn try_acquire_takes_a_free_permit() {
    let semaphore = Semaphore::new(2);
    let permit = semaphore.try_acquire();
    assert!(permit.is_some());
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn try_acquire_without_a_free_permit_returns_none_at_once() {
    let semaphore = Semaphore::new(1);
    let _held = semaphore.acquire();
    let start = Instant::now();
    assert!(semaphore.try_acquire().is_none());
    assert!(start.elapsed() < ms(100));
}

#[test]
fn acquire_timeout_returns_none_after_about_the_timeout() {
    let semaphore = Semaphore::new(0);
    let start = Instant::now();
    assert!(semaphore.acquire_timeout(ms(100)).is_none());
    assert_elapsed(start.elapsed(), ms(100), ms(600));
    assert_eq!(semaphore.available(), 0);
}

#[test]
fn acquire_timeout_returns_a_permit_released_in_time() {
    let semaphore = Rc::new(Semaphore::new(0));
    let _releaser = {
        let semaphore = semaphore.clone();
        spawn(move || {
            sleep(ms(20));
            semaphore.release();
        })
    };
    let start = Instant::now();
    let permit = semaphore.acquire_timeout(Duration::from_secs(5));
    assert!(permit.is_some());
    assert_elapsed(start.elapsed(), ms(20), Duration::from_secs(2));
}

#[test]
fn a_waiter_whose_acquire_timeout_expired_is_not_granted_a_later_permit() {
    let semaphore = Rc::new(Semaphore::new(0));
    let w = {
        let semaphore = semaphore.clone();
        spawn(move || semaphore.acquire_timeout(ms(10)).is_some())
    };
    assert!(!w.join().unwrap());
    semaphore.release();
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn release_with_no_waiter_adds_a_free_permit() {
    let semaphore = Semaphore::new(0);
    semaphore.release();
    semaphore.release();
    assert_eq!(semaphore.available(), 2);
}

#[test]
fn release_hands_the_permit_to_the_first_waiter() {
    let semaphore = Rc::new(Semaphore::new(0));
    let log = Log::default();
    let first = semaphore_waiter(&semaphore, &log, "first");
    let second = semaphore_waiter(&semaphore, &log, "second");
    yield_now();
    semaphore.release();
    assert_eq!(
        semaphore.available(),
        0,
        "the permit was counted, not handed over"
    );
    first.join().unwrap();
    assert_eq!(log.entries()[0], "first");
    second.join().unwrap();
}

#[test]
fn a_forgotten_guard_keeps_its_permit_until_release() {
    let semaphore = Semaphore::new(1);
    semaphore.acquire().forget();
    assert_eq!(semaphore.available(), 0);
    semaphore.release();
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn a_permit_released_for_a_parked_waiter_cannot_be_taken_by_try_acquire() {
    let semaphore = Rc::new(Semaphore::new(1));
    let held = semaphore.acquire();
    let log = Log::default();
    let w = semaphore_waiter(&semaphore, &log, "w");
    yield_now();
    drop(held); // the permit goes to `w`, which has not run yet
    assert!(
        semaphore.try_acquire().is_none(),
        "the root took the waiter's permit"
    );
    w.join().unwrap();
    assert_eq!(log.entries(), ["w"]);
}

#[test]
fn a_permit_released_for_a_parked_waiter_cannot_be_taken_by_another_greenlet() {
    let semaphore = Rc::new(Semaphore::new(1));
    let held = semaphore.acquire();
    let log = Log::default();
    let w = semaphore_waiter(&semaphore, &log, "w");
    yield_now();
    drop(held);
    let barger = {
        let semaphore = semaphore.clone();
        spawn(move || semaphore.try_acquire().is_some())
    };
    assert!(!barger.join().unwrap());
    w.join().unwrap();
}

#[test]
fn a_waiter_killed_while_parked_leaves_the_next_permit_to_the_next_waiter() {
    let semaphore = Rc::new(Semaphore::new(0));
    let log = Log::default();
    let first = semaphore_waiter(&semaphore, &log, "first");
    let second = semaphore_waiter(&semaphore, &log, "second");
    yield_now();
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    semaphore.release();
    second.join().unwrap();
    assert_eq!(log.entries(), ["second"]);
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn a_permit_granted_to_a_waiter_killed_before_it_ran_passes_to_the_next_waiter() {
    let semaphore = Rc::new(Semaphore::new(0));
    let log = Log::default();
    let first = semaphore_waiter(&semaphore, &log, "first");
    let second = semaphore_waiter(&semaphore, &log, "second");
    yield_now();
    semaphore.release(); // granted to `first`, which has not run yet
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    second.join().unwrap();
    assert_eq!(log.entries(), ["second"]);
    assert_eq!(semaphore.available(), 1, "a permit was lost or doubled");
}

#[test]
fn a_permit_granted_to_a_waiter_killed_before_it_ran_is_free_again_if_no_waiter_is_left() {
    let semaphore = Rc::new(Semaphore::new(1));
    let held = semaphore.acquire();
    let log = Log::default();
    let w = semaphore_waiter(&semaphore, &log, "w");
    yield_now();
    drop(held); // granted to `w`
    w.kill();
    assert!(w.join().unwrap_err().is_killed());
    assert!(log.entries().is_empty());
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn a_holder_killed_while_parked_gives_its_permit_back() {
    let semaphore = Rc::new(Semaphore::new(1));
    let holder = permit_holder(&semaphore);
    yield_now();
    assert_eq!(semaphore.available(), 0);
    holder.kill();
    assert!(holder.join().unwrap_err().is_killed());
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn a_holder_killed_while_parked_hands_its_permit_to_a_waiter() {
    let semaphore = Rc::new(Semaphore::new(1));
    let holder = permit_holder(&semaphore);
    let log = Log::default();
    let w = semaphore_waiter(&semaphore, &log, "w");
    yield_now();
    holder.kill();
    w.join().unwrap();
    assert_eq!(log.entries(), ["w"]);
}

#[test]
fn a_semaphore_lets_at_most_its_permit_count_in_at_once() {
    let semaphore = Rc::new(Semaphore::new(2));
    let inside = Rc::new(Cell::new(0));
    let most = Rc::new(Cell::new(0));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (semaphore, inside, most) = (semaphore.clone(), inside.clone(), most.clone());
            spawn(move || {
                let _permit = semaphore.acquire();
                inside.set(inside.get() + 1);
                most.set(most.get().max(inside.get()));
                sleep(ms(2));
                inside.set(inside.get() - 1);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(most.get(), 2);
    assert_eq!(semaphore.available(), 2);
}

#[test]
fn a_waiter_whose_acquire_timeout_expires_leaves_its_place_to_the_waiters_behind_it() {
    let semaphore = Rc::new(Semaphore::new(0));
    let log = Log::default();
    let first = semaphore_waiter(&semaphore, &log, "first");
    let leaving = {
        let semaphore = semaphore.clone();
        spawn(move || semaphore.acquire_timeout(ms(10)).is_some())
    };
    let last = semaphore_waiter(&semaphore, &log, "last");
    yield_now(); // all three park
    assert!(!leaving.join().unwrap());
    semaphore.release();
    first.join().unwrap();
    last.join().unwrap();
    assert_eq!(log.entries(), ["first", "last"]);
}

#[test]
fn acquire_in_the_root_that_nobody_can_satisfy_panics_naming_semaphore_acquire() {
    let semaphore = Semaphore::new(0);
    let message = panic_message_of(|| semaphore.acquire());
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("Semaphore::acquire"), "{message}");
}

// ---- BoundedSemaphore ------------------------------------------------------------

#[test]
fn a_bounded_semaphore_release_above_the_initial_count_panics() {
    let semaphore = BoundedSemaphore::new(1);
    let message = panic_message_of(|| semaphore.release());
    assert!(message.contains("BoundedSemaphore"), "{message}");
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn a_bounded_semaphore_release_after_forget_is_fine() {
    let semaphore = BoundedSemaphore::new(1);
    semaphore.acquire().forget();
    assert_eq!(semaphore.available(), 0);
    semaphore.release();
    assert_eq!(semaphore.available(), 1);
}

#[test]
fn a_bounded_semaphore_acquires_and_releases_as_a_semaphore() {
    let semaphore = BoundedSemaphore::new(2);
    let a = semaphore.acquire();
    let b = semaphore.try_acquire();
    assert!(b.is_some());
    assert!(semaphore.try_acquire().is_none());
    assert!(semaphore.acquire_timeout(ms(5)).is_none());
    drop(a);
    drop(b);
    assert_eq!(semaphore.available(), 2);
}

#[test]
fn a_bounded_semaphore_never_counts_more_permits_than_it_started_with() {
    let semaphore = BoundedSemaphore::new(1);
    let permit = semaphore.acquire();
    // One release too many: by hand while the guard is out, then the guard's own.
    let over = panic::catch_unwind(AssertUnwindSafe(|| {
        semaphore.release();
        drop(permit);
    }));
    assert!(
        over.is_err(),
        "no panic; the semaphore now has {} permits (limit 1)",
        semaphore.available()
    );
    let message = panic_text(&*over.unwrap_err());
    assert!(message.contains("BoundedSemaphore"), "{message}");
    assert_eq!(semaphore.available(), 1);
}

// ---- Mutex -----------------------------------------------------------------------

#[test]
fn a_mutex_keeps_a_read_modify_write_that_sleeps_in_the_middle_correct() {
    let counter = Rc::new(Mutex::new(0));
    let workers: Vec<_> = (0..5)
        .map(|_| {
            let counter = counter.clone();
            spawn(move || {
                for _ in 0..3 {
                    let mut guard = counter.lock();
                    let seen = *guard;
                    sleep(ms(1)); // every other worker runs meanwhile
                    *guard = seen + 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(*counter.lock(), 15);
}

#[test]
fn lock_parks_while_another_greenlet_holds_the_mutex() {
    let mutex = Rc::new(Mutex::new(()));
    let guard = mutex.lock();
    let w = mutex_waiter(&mutex);
    yield_now();
    assert!(!w.is_finished(), "lock returned while the mutex was held");
    drop(guard);
    assert!(w.join().unwrap());
}

#[test]
fn parked_lockers_get_the_mutex_in_the_order_they_parked() {
    let mutex = Rc::new(Mutex::new(Vec::new()));
    let guard = mutex.lock();
    let lockers: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| {
            let mutex = mutex.clone();
            spawn(move || {
                let mut guard = mutex.lock();
                guard.push(name);
                yield_now(); // hold it across a switch
            })
        })
        .collect();
    yield_now();
    drop(guard);
    for l in lockers {
        l.join().unwrap();
    }
    assert_eq!(*mutex.lock(), ["a", "b", "c"]);
}

#[test]
fn try_lock_takes_a_free_mutex() {
    let mutex = Mutex::new(1);
    let guard = mutex.try_lock();
    assert_eq!(guard.as_deref(), Some(&1));
}

#[test]
fn try_lock_of_a_held_mutex_returns_none_at_once() {
    let mutex = Mutex::new(());
    let _held = mutex.lock();
    let start = Instant::now();
    assert!(mutex.try_lock().is_none());
    assert!(start.elapsed() < ms(100));
}

#[test]
fn lock_timeout_returns_none_after_about_the_timeout() {
    let mutex = Rc::new(Mutex::new(0));
    let holder = mutex_holder(&mutex);
    yield_now();
    let start = Instant::now();
    assert!(mutex.lock_timeout(ms(100)).is_none());
    assert_elapsed(start.elapsed(), ms(100), ms(600));
    holder.kill();
    let _ = holder.join();
}

#[test]
fn lock_timeout_returns_the_lock_released_in_time() {
    let mutex = Rc::new(Mutex::new(0));
    let _holder = {
        let mutex = mutex.clone();
        spawn(move || {
            let mut guard = mutex.lock();
            sleep(ms(20));
            *guard = 1;
        })
    };
    yield_now();
    let guard = mutex.lock_timeout(Duration::from_secs(5));
    assert_eq!(guard.as_deref(), Some(&1));
}

#[test]
fn is_locked_is_true_while_a_guard_is_out() {
    let mutex = Mutex::new(());
    assert!(!mutex.is_locked());
    let guard = mutex.lock();
    assert!(mutex.is_locked());
    drop(guard);
    assert!(!mutex.is_locked());
}

#[test]
fn a_holder_killed_while_it_sleeps_with_the_guard_releases_the_mutex() {
    let mutex = Rc::new(Mutex::new(0));
    let holder = mutex_holder(&mutex);
    yield_now();
    assert!(mutex.is_locked());
    holder.kill();
    assert!(holder.join().unwrap_err().is_killed());
    assert!(!mutex.is_locked());
}

#[test]
fn a_holder_killed_while_it_sleeps_with_the_guard_hands_the_mutex_to_a_waiter() {
    let mutex = Rc::new(Mutex::new(0));
    let holder = mutex_holder(&mutex);
    let waiter = {
        let mutex = mutex.clone();
        spawn(move || {
            *mutex.lock() += 1;
        })
    };
    yield_now(); // the holder takes the lock and sleeps, the waiter parks
    assert!(!waiter.is_finished());
    holder.kill();
    waiter.join().unwrap();
    assert_eq!(*mutex.lock(), 1);
}

#[test]
fn a_lock_granted_to_a_waiter_killed_before_it_ran_passes_to_the_next_waiter() {
    let mutex = Rc::new(Mutex::new(()));
    let guard = mutex.lock();
    let first = mutex_waiter(&mutex);
    let second = mutex_waiter(&mutex);
    yield_now();
    drop(guard); // granted to `first`, which has not run yet
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    assert!(second.join().unwrap());
    assert!(!mutex.is_locked());
}

#[test]
fn a_lock_granted_to_a_waiter_killed_before_it_ran_is_free_again_if_no_waiter_is_left() {
    let mutex = Rc::new(Mutex::new(()));
    let guard = mutex.lock();
    let w = mutex_waiter(&mutex);
    yield_now();
    drop(guard);
    w.kill();
    assert!(w.join().unwrap_err().is_killed());
    assert!(!mutex.is_locked());
    assert!(mutex.try_lock().is_some());
}

#[test]
fn a_mutex_unlocked_for_a_parked_waiter_cannot_be_taken_by_try_lock() {
    let mutex = Rc::new(Mutex::new(()));
    let guard = mutex.lock();
    let w = mutex_waiter(&mutex);
    yield_now();
    drop(guard); // the lock passes to `w`
    assert!(
        mutex.try_lock().is_none(),
        "the root took the waiter's lock"
    );
    assert!(mutex.is_locked());
    assert!(w.join().unwrap());
}

#[test]
fn a_holder_that_panics_releases_the_mutex_without_poisoning_it() {
    let mutex = Rc::new(Mutex::new(5));
    let holder = {
        let mutex = mutex.clone();
        spawn(move || {
            let mut guard = mutex.lock();
            *guard = 6;
            panic!("while holding the lock");
        })
    };
    assert!(holder.join().unwrap_err().is_panic());
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.lock(), 6);
}

#[test]
fn locking_a_mutex_the_root_already_holds_panics_naming_mutex_lock() {
    let mutex = Mutex::new(());
    let _held = mutex.lock();
    let message = panic_message_of(|| drop(mutex.lock()));
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("Mutex::lock"), "{message}");
}

#[test]
fn get_mut_and_into_inner_reach_the_value() {
    let mut mutex = Mutex::new(vec![1]);
    mutex.get_mut().push(2);
    assert_eq!(mutex.into_inner(), [1, 2]);
}

// ---- RLock -----------------------------------------------------------------------

#[test]
fn the_same_greenlet_can_take_an_rlock_twice() {
    let lock = Rc::new(RLock::new(Cell::new(0)));
    let g = {
        let lock = lock.clone();
        spawn(move || {
            let outer = lock.lock();
            let inner = lock.lock();
            inner.set(1);
            drop(inner);
            outer.get()
        })
    };
    assert_eq!(g.join().unwrap(), 1);
}

#[test]
fn an_rlock_stays_held_until_the_holders_last_guard_drops() {
    let lock = RLock::new(());
    let outer = lock.lock();
    let inner = lock.lock();
    drop(outer);
    assert!(lock.is_locked());
    drop(inner);
    assert!(!lock.is_locked());
}

#[test]
fn another_greenlet_parks_until_the_holders_last_guard_drops() {
    let lock = Rc::new(RLock::new(()));
    let outer = lock.lock();
    let inner = lock.lock();
    let w = rlock_waiter(&lock);
    yield_now();
    assert!(!w.is_finished());
    drop(inner);
    yield_now();
    assert!(
        !w.is_finished(),
        "the lock passed on while one hold remained"
    );
    drop(outer);
    assert!(w.join().unwrap());
}

#[test]
fn the_root_context_and_a_greenlet_are_different_rlock_owners() {
    let lock = Rc::new(RLock::new(()));
    let _held = lock.lock(); // the root holds it
    let g = {
        let lock = lock.clone();
        spawn(move || lock.try_lock().is_some())
    };
    assert!(!g.join().unwrap());
}

#[test]
fn the_root_cannot_take_an_rlock_a_greenlet_holds() {
    let lock = Rc::new(RLock::new(()));
    let holder = {
        let lock = lock.clone();
        spawn(move || {
            let _guard = lock.lock();
            sleep(LONG);
        })
    };
    yield_now();
    assert!(lock.try_lock().is_none());
    holder.kill();
    let _ = holder.join();
}

#[test]
fn rlock_try_lock_from_another_greenlet_fails_while_held() {
    let lock = Rc::new(RLock::new(()));
    let holder = {
        let lock = lock.clone();
        spawn(move || {
            let _guard = lock.lock();
            sleep(LONG);
        })
    };
    yield_now();
    let other = {
        let lock = lock.clone();
        spawn(move || lock.try_lock().is_some())
    };
    assert!(!other.join().unwrap());
    holder.kill();
    let _ = holder.join();
}

#[test]
fn rlock_try_lock_by_the_holder_succeeds() {
    let lock = RLock::new(());
    let _held = lock.lock();
    assert!(lock.try_lock().is_some());
}

#[test]
fn rlock_lock_timeout_returns_none_after_about_the_timeout() {
    let lock = Rc::new(RLock::new(()));
    let holder = {
        let lock = lock.clone();
        spawn(move || {
            let _guard = lock.lock();
            sleep(LONG);
        })
    };
    yield_now();
    let start = Instant::now();
    assert!(lock.lock_timeout(ms(100)).is_none());
    assert_elapsed(start.elapsed(), ms(100), ms(600));
    holder.kill();
    let _ = holder.join();
}

#[test]
fn rlock_lock_timeout_returns_the_lock_released_in_time() {
    let lock = Rc::new(RLock::new(()));
    let _holder = {
        let lock = lock.clone();
        spawn(move || {
            let _guard = lock.lock();
            sleep(ms(20));
        })
    };
    yield_now();
    assert!(lock.lock_timeout(Duration::from_secs(5)).is_some());
}

#[test]
fn an_rlock_holder_killed_releases_all_its_holds() {
    let lock = Rc::new(RLock::new(()));
    let holder = {
        let lock = lock.clone();
        spawn(move || {
            let _outer = lock.lock();
            let _inner = lock.lock();
            sleep(LONG);
        })
    };
    yield_now();
    assert!(lock.is_locked());
    holder.kill();
    assert!(holder.join().unwrap_err().is_killed());
    assert!(!lock.is_locked());
    assert!(lock.try_lock().is_some());
}

#[test]
fn rlock_waiters_get_the_lock_in_the_order_they_parked() {
    let lock = Rc::new(RLock::new(()));
    let guard = lock.lock();
    let log = Log::default();
    let waiters: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| {
            let lock = lock.clone();
            let log = log.clone();
            spawn(move || {
                let _guard = lock.lock();
                log.push(name);
                yield_now();
            })
        })
        .collect();
    yield_now();
    drop(guard);
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(log.entries(), ["a", "b", "c"]);
}

#[test]
fn an_rlock_released_for_a_parked_waiter_cannot_be_taken_by_try_lock() {
    let lock = Rc::new(RLock::new(()));
    let guard = lock.lock();
    let w = rlock_waiter(&lock);
    yield_now();
    drop(guard); // the lock passes to `w`
    assert!(lock.try_lock().is_none(), "the root took the waiter's lock");
    assert!(w.join().unwrap());
}

#[test]
fn an_rlock_granted_to_a_waiter_killed_before_it_ran_passes_to_the_next_waiter() {
    let lock = Rc::new(RLock::new(()));
    let guard = lock.lock();
    let first = rlock_waiter(&lock);
    let second = rlock_waiter(&lock);
    yield_now();
    drop(guard); // granted to `first`, which has not run yet
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    assert!(second.join().unwrap());
    assert!(!lock.is_locked());
}

#[test]
fn a_greenlet_granted_an_rlock_can_take_it_again() {
    let lock = Rc::new(RLock::new(()));
    let guard = lock.lock();
    let w = {
        let lock = lock.clone();
        spawn(move || {
            let _first = lock.lock(); // parks, then is granted the lock
            lock.try_lock().is_some()
        })
    };
    yield_now();
    drop(guard);
    assert!(w.join().unwrap());
    assert!(!lock.is_locked());
}

#[test]
fn rlock_into_inner_returns_the_value() {
    assert_eq!(RLock::new("v").into_inner(), "v");
}
