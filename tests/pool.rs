//! `Pool` (at most `size` greenlets at once) and `Group` (no limit): spawn,
//! the counts, join, kill, map and imap_unordered.

mod util;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::event::Event;
use greenlet::pool::{Group, Pool};
use greenlet::queue::Queue;
use greenlet::{Greenlet, joinall, sleep, spawn, stats, yield_now};
use util::{DropFlag, LONG, Log, assert_elapsed, flag, ms, panic_text};

/// Yields `n` times, then returns: finishes after `n` rounds of the run queue.
fn yield_times(n: u32) {
    for _ in 0..n {
        yield_now();
    }
}

/// Counts how many of its callers are inside at once, and the most ever.
#[derive(Clone, Default)]
struct Concurrency {
    inside: Rc<Cell<usize>>,
    most: Rc<Cell<usize>>,
}

impl Concurrency {
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        self.inside.set(self.inside.get() + 1);
        self.most.set(self.most.get().max(self.inside.get()));
        let value = f();
        self.inside.set(self.inside.get() - 1);
        value
    }
}

/// Pushes its text to a log when dropped.
struct LogOnDrop(Log, &'static str);

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        self.0.push(self.1);
    }
}

// ---- Pool: spawn and its places ------------------------------------------

#[test]
fn pool_spawn_returns_at_once_while_the_pool_has_a_free_place() {
    let pool = Pool::new(2);
    let ran = flag();
    let g = {
        let ran = ran.clone();
        pool.spawn(move || ran.set(true))
    };
    // Had the caller parked, the hub would have run the new greenlet.
    assert!(!ran.get());
    g.join().unwrap();
    assert!(ran.get());
}

#[test]
fn pool_spawn_parks_the_caller_while_the_pool_is_full_until_a_member_finishes() {
    let pool = Pool::new(2);
    let log = Log::default();
    let members: Vec<Greenlet<()>> = (0..2)
        .map(|i| {
            let log = log.clone();
            pool.spawn(move || {
                yield_now();
                log.push(format!("member {i} done"));
            })
        })
        .collect();
    assert_eq!(pool.free_count(), 0);
    let third = pool.spawn(|| ()); // the pool is full: parks until a place frees up
    log.push("third spawned");
    assert!(members.iter().any(Greenlet::is_finished));
    let entries = log.entries();
    let spawned_at = entries.iter().position(|e| e == "third spawned").unwrap();
    assert!(
        entries[..spawned_at].iter().any(|e| e.ends_with("done")),
        "the third spawn returned before any member finished: {entries:?}"
    );
    third.join().unwrap();
    pool.join();
}

#[test]
fn pool_never_runs_more_than_size_greenlets_at_once() {
    let pool = Pool::new(3);
    let concurrency = Concurrency::default();
    for i in 0..12 {
        let concurrency = concurrency.clone();
        pool.spawn(move || concurrency.run(|| sleep(ms(1 + i % 3))));
    }
    pool.join();
    assert_eq!(concurrency.most.get(), pool.size());
}

#[test]
fn pool_size_free_count_len_and_is_empty_follow_the_members() {
    let pool = Pool::new(3);
    let counts = |pool: &Pool| (pool.size(), pool.free_count(), pool.len(), pool.is_empty());
    assert_eq!(counts(&pool), (3, 3, 0, true));
    let go = Event::new();
    for _ in 0..2 {
        let go = go.clone();
        pool.spawn(move || go.wait());
    }
    assert_eq!(counts(&pool), (3, 1, 2, false));
    yield_now(); // both start and park in `wait`: still members
    assert_eq!(counts(&pool), (3, 1, 2, false));
    go.set();
    pool.join();
    assert_eq!(counts(&pool), (3, 3, 0, true));
}

#[test]
fn pool_spawn_waits_are_served_in_arrival_order() {
    let pool = Pool::new(1);
    let go = Event::new();
    let holder = {
        let go = go.clone();
        pool.spawn(move || go.wait())
    };
    let arrived = Log::default();
    let returned = Log::default();
    let served = Log::default();
    // Spawner i yields 3 - i times first, so they arrive in reverse spawn order.
    let spawners: Vec<Greenlet<()>> = (0..4)
        .map(|i| {
            let (pool, arrived, returned, served) = (
                pool.clone(),
                arrived.clone(),
                returned.clone(),
                served.clone(),
            );
            spawn(move || {
                yield_times(3 - i);
                arrived.push(i.to_string());
                pool.spawn(move || served.push(i.to_string()));
                returned.push(i.to_string());
            })
        })
        .collect();
    let opener = spawn(move || {
        yield_times(6); // every spawner is parked in `Pool::spawn` by now
        go.set();
    });
    for result in joinall(spawners) {
        result.unwrap();
    }
    opener.join().unwrap();
    holder.join().unwrap();
    pool.join();
    let arrived = arrived.entries();
    assert_eq!(
        arrived,
        ["3", "2", "1", "0"],
        "the spawners did not arrive as set up"
    );
    assert_eq!(returned.entries(), arrived);
    assert_eq!(served.entries(), arrived);
}

#[test]
fn pool_new_of_size_zero_panics() {
    let result = panic::catch_unwind(|| Pool::new(0));
    let payload = result.unwrap_err();
    assert!(
        panic_text(&*payload).contains("size 0"),
        "unexpected panic: {}",
        panic_text(&*payload)
    );
}

// ---- Pool: members ending in every way free their place ------------------

#[test]
fn a_pool_member_killed_through_its_handle_before_it_started_frees_its_place() {
    let pool = Pool::new(2);
    let ran = flag();
    let g = {
        let ran = ran.clone();
        pool.spawn(move || ran.set(true))
    };
    assert_eq!(pool.free_count(), 1);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(!ran.get());
    assert_eq!(pool.free_count(), pool.size());
    assert!(pool.is_empty());
}

#[test]
fn a_pool_member_killed_through_its_handle_while_parked_frees_its_place() {
    let pool = Pool::new(1);
    let g = pool.spawn(|| sleep(LONG));
    yield_now(); // it parks in its sleep
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(pool.free_count(), 1);
    assert!(pool.is_empty());
}

#[test]
fn a_pool_member_that_panics_frees_its_place() {
    let pool = Pool::new(1);
    let g = pool.spawn(|| panic!("member failed"));
    assert_eq!(pool.free_count(), 0);
    let error = g.join().unwrap_err();
    assert_eq!(panic_text(&*error.into_panic()), "member failed");
    assert_eq!(pool.free_count(), 1);
    assert!(pool.is_empty());
    let ran = flag();
    let next = {
        let ran = ran.clone();
        pool.spawn(move || ran.set(true))
    };
    assert!(
        !ran.get(),
        "the spawn after the panic had to wait for a place"
    );
    next.join().unwrap();
}

// ---- Pool: join and kill -------------------------------------------------

#[test]
fn pool_join_waits_until_every_member_is_finished() {
    let pool = Pool::new(2);
    let start = Instant::now();
    let members: Vec<Greenlet<()>> = (0..5u64)
        .map(|i| pool.spawn(move || sleep(ms(5 * i))))
        .collect();
    pool.join();
    assert!(members.iter().all(Greenlet::is_finished));
    assert!(pool.is_empty());
    assert_eq!(pool.free_count(), pool.size());
    // The longest member alone sleeps 20 ms.
    assert_elapsed(start.elapsed(), ms(20), Duration::from_secs(2));
}

#[test]
fn pool_join_with_no_members_returns_at_once() {
    let pool = Pool::new(2);
    let switches = stats().switches;
    pool.join();
    assert_eq!(stats().switches, switches);
}

/// A greenlet-local whose destructor blocks briefly, as one that closes a
/// connection politely might.
struct SlowLocal(Option<Rc<Cell<bool>>>);

impl Drop for SlowLocal {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            sleep(ms(10));
            done.set(true);
        }
    }
}

greenlet::greenlet_local! {
    static SLOW_LOCAL: std::cell::RefCell<SlowLocal> = std::cell::RefCell::new(SlowLocal(None));
}

#[test]
fn pool_join_waits_for_the_greenlet_local_destructors_of_its_members() {
    let pool = Pool::new(2);
    let done = flag();
    let member = {
        let done = done.clone();
        pool.spawn(move || SLOW_LOCAL.with(|local| local.borrow_mut().0 = Some(done)))
    };
    pool.join();
    let (finished, dropped) = (member.is_finished(), done.get());
    assert!(
        finished && dropped,
        "Pool::join returned while a member was still dropping its greenlet-locals \
         (member finished: {finished}, local dropped: {dropped})"
    );
}

#[test]
fn pool_kill_kills_every_member_and_waits_for_their_destructors() {
    let pool = Pool::new(4);
    let dropped: Vec<_> = (0..4).map(|_| flag()).collect();
    let members: Vec<Greenlet<()>> = dropped
        .iter()
        .map(|dropped| {
            let guard = DropFlag(dropped.clone());
            pool.spawn(move || {
                let _guard = guard;
                sleep(LONG);
            })
        })
        .collect();
    yield_now(); // all of them park in their sleep
    let start = Instant::now();
    pool.kill();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(dropped.iter().all(|d| d.get()));
    assert!(pool.is_empty());
    assert_eq!(pool.free_count(), pool.size());
    for g in members {
        assert!(g.join().unwrap_err().is_killed());
    }
}

#[test]
fn pool_kill_also_kills_members_that_have_not_started() {
    let pool = Pool::new(2);
    let ran = flag();
    let members: Vec<Greenlet<()>> = (0..2)
        .map(|_| {
            let ran = ran.clone();
            pool.spawn(move || ran.set(true))
        })
        .collect();
    pool.kill();
    assert!(!ran.get());
    assert!(pool.is_empty());
    for g in members {
        assert!(g.join().unwrap_err().is_killed());
    }
}

/// Sleeps in its destructor, then sets its flag.
struct SlowDrop(Rc<Cell<bool>>);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        sleep(ms(20));
        self.0.set(true);
    }
}

#[test]
fn pool_kill_waits_for_member_destructors_that_block() {
    let pool = Pool::new(2);
    let done = flag();
    {
        let done = done.clone();
        pool.spawn(move || {
            let _guard = SlowDrop(done);
            sleep(LONG);
        });
    }
    yield_now();
    let start = Instant::now();
    pool.kill();
    assert!(done.get());
    assert_elapsed(start.elapsed(), ms(20), Duration::from_secs(1));
}

#[test]
fn pool_kill_called_by_a_member_kills_the_others_first_then_that_member() {
    let pool = Pool::new(3);
    let log = Log::default();
    let others: Vec<Greenlet<()>> = ["b unwound", "c unwound"]
        .into_iter()
        .map(|name| {
            let log = log.clone();
            pool.spawn(move || {
                let _guard = LogOnDrop(log, name);
                sleep(LONG);
            })
        })
        .collect();
    let killer = {
        let (pool, log) = (pool.clone(), log.clone());
        pool.clone().spawn(move || {
            let _guard = LogOnDrop(log.clone(), "a unwound");
            pool.kill();
            log.push("a went on after kill");
        })
    };
    assert!(killer.join().unwrap_err().is_killed());
    let entries = log.entries();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(entries[2], "a unwound", "{entries:?}");
    assert!(
        entries[..2].contains(&"b unwound".to_owned()),
        "{entries:?}"
    );
    assert!(
        entries[..2].contains(&"c unwound".to_owned()),
        "{entries:?}"
    );
    assert!(pool.is_empty());
    for g in others {
        assert!(g.join().unwrap_err().is_killed());
    }
}

// ---- Pool: map -----------------------------------------------------------

#[test]
fn pool_map_returns_results_in_input_order_even_when_later_items_finish_first() {
    let pool = Pool::new(4);
    let items = [4u32, 3, 2, 1]; // item n takes n rounds: the last finishes first
    let finished = Log::default();
    let results = {
        let finished = finished.clone();
        pool.map(items, move |n: u32| {
            yield_times(n);
            finished.push(n.to_string());
            n * 10
        })
    };
    let expected: Vec<u32> = items.iter().map(|n| n * 10).collect();
    assert_eq!(results, expected);
    let reversed: Vec<String> = items.iter().rev().map(u32::to_string).collect();
    assert_eq!(
        finished.entries(),
        reversed,
        "the items did not finish as set up"
    );
}

#[test]
fn pool_map_runs_at_most_size_calls_at_once() {
    let pool = Pool::new(2);
    let concurrency = Concurrency::default();
    let results = {
        let concurrency = concurrency.clone();
        pool.map(0..8u64, move |n| {
            concurrency.run(|| {
                sleep(ms(1 + n % 2));
                n
            })
        })
    };
    assert_eq!(results, (0..8).collect::<Vec<u64>>());
    assert_eq!(concurrency.most.get(), pool.size());
}

#[test]
fn pool_map_resumes_a_panic_of_f_in_the_caller() {
    let pool = Pool::new(3);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.map(0..5u32, |n| {
            if n == 2 {
                panic!("call {n} failed");
            }
            n
        })
    }));
    let payload = result.unwrap_err();
    assert_eq!(panic_text(&*payload), "call 2 failed");
}

#[test]
fn pool_map_kills_the_calls_still_running_when_one_panics() {
    let pool = Pool::new(4);
    let started: Vec<_> = (0..3).map(|_| flag()).collect();
    let dropped: Vec<_> = (0..3).map(|_| flag()).collect();
    // Three calls start sleeping for an hour; then the last one fails.
    type Flags = (Rc<Cell<bool>>, Rc<Cell<bool>>);
    let items: Vec<Option<Flags>> = started
        .iter()
        .cloned()
        .zip(dropped.iter().cloned())
        .map(Some)
        .chain(std::iter::once(None))
        .collect();
    let start = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.map(items, |item| match item {
            None => panic!("last call failed"),
            Some((started, dropped)) => {
                let _guard = DropFlag(dropped);
                started.set(true);
                sleep(LONG);
            }
        })
    }));
    assert_eq!(panic_text(&*result.unwrap_err()), "last call failed");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(
        started.iter().all(|s| s.get()),
        "the sleeping calls started"
    );
    assert!(dropped.iter().all(|d| d.get()), "and were killed");
    assert!(pool.is_empty());
}

// ---- Pool: imap_unordered ------------------------------------------------

#[test]
fn pool_imap_unordered_yields_results_in_completion_order() {
    let pool = Pool::new(3);
    let finished = Log::default();
    let results: Vec<u32> = {
        let finished = finished.clone();
        pool.imap_unordered([3u32, 1, 2], move |n| {
            yield_times(n);
            finished.push(n.to_string());
            n
        })
        .collect()
    };
    let completion: Vec<String> = finished.entries();
    let yielded: Vec<String> = results.iter().map(u32::to_string).collect();
    assert_eq!(yielded, completion);
    assert_eq!(results, [1, 2, 3], "the calls did not finish as set up");
}

#[test]
fn pool_imap_unordered_yields_every_result_exactly_once() {
    let pool = Pool::new(4);
    let mut results: Vec<u32> = pool
        .imap_unordered(0..50u32, |n| {
            yield_times(n % 7);
            n
        })
        .collect();
    results.sort_unstable();
    assert_eq!(results, (0..50).collect::<Vec<u32>>());
    assert!(pool.is_empty());
}

#[test]
fn pool_imap_unordered_takes_items_lazily() {
    let pool = Pool::new(2);
    let pulled = Rc::new(Cell::new(0usize));
    let items = {
        let pulled = pulled.clone();
        (0..100u32).inspect(move |_| pulled.set(pulled.get() + 1))
    };
    let mut results = pool.imap_unordered(items, |n| n);
    assert_eq!(pulled.get(), 0, "imap_unordered took items before next()");
    assert!(results.next().is_some());
    assert!(
        pulled.get() <= pool.size() + 2,
        "the first next() took {} items from a pool of {}",
        pulled.get(),
        pool.size()
    );
    assert_eq!(1 + results.count(), 100);
    assert_eq!(pulled.get(), 100);
}

#[test]
fn pool_imap_unordered_resumes_a_panic_of_f_at_next() {
    let pool = Pool::new(2);
    let mut results = pool.imap_unordered(0..4u32, |n| {
        if n == 1 {
            panic!("call {n} failed");
        }
        n
    });
    let mut got = Vec::new();
    let mut panicked = None;
    loop {
        match panic::catch_unwind(AssertUnwindSafe(|| results.next())) {
            Ok(Some(n)) => got.push(n),
            Ok(None) => break,
            Err(payload) => {
                panicked = Some(panic_text(&*payload));
                break;
            }
        }
    }
    assert_eq!(
        panicked.as_deref(),
        Some("call 1 failed"),
        "results before: {got:?}"
    );
    assert!(!got.contains(&1));
}

#[test]
fn pool_imap_unordered_of_no_items_yields_nothing() {
    let pool = Pool::new(2);
    assert_eq!(pool.imap_unordered(Vec::<u32>::new(), |n| n).count(), 0);
}

#[test]
fn imap_unordered_does_not_ask_an_input_that_ended_again() {
    let pool = Pool::new(2);
    let calls = Rc::new(Cell::new(0u32));
    let items = {
        let calls = calls.clone();
        // Not fused: asked again after its `None`, it fails the test.
        std::iter::from_fn(move || {
            calls.set(calls.get() + 1);
            match calls.get() {
                1 => Some(1234u32),
                2 => None,
                n => panic!("the input was asked for item {n} after it ended"),
            }
        })
    };
    let results: Vec<u32> = pool.imap_unordered(items, |n| n).collect();
    assert_eq!(results, [1234]);
    assert_eq!(calls.get(), 2);
}

/// gevent's `test_imap_unordered_no_stop`: the input is a queue whose
/// end is put in later; a `get` after it would wait for ever.
#[test]
fn imap_unordered_over_a_queue_ends_with_the_queue_and_does_not_wait_on_it_again() {
    let pool = Pool::new(2);
    let queue: Queue<Option<u32>> = Queue::new();
    queue.put(Some(1234));
    {
        let queue = queue.clone();
        greenlet::spawn_later(ms(100), move || queue.put(None));
    }
    let items = std::iter::from_fn(move || queue.get());
    let results: Vec<u32> = pool.imap_unordered(items, |n| n).collect();
    assert_eq!(results, [1234]);
}

// ---- Group ---------------------------------------------------------------

#[test]
fn group_spawn_never_parks_even_with_a_hundred_members() {
    let group = Group::new();
    let go = Event::new();
    let started = Rc::new(Cell::new(0usize));
    for _ in 0..100 {
        let (go, started) = (go.clone(), started.clone());
        group.spawn(move || {
            started.set(started.get() + 1);
            go.wait();
        });
    }
    // Had any spawn parked, the hub would have started members.
    assert_eq!(started.get(), 0);
    assert_eq!(group.len(), 100);
    yield_now();
    assert_eq!(started.get(), 100);
    go.set();
    group.join();
    assert!(group.is_empty());
}

#[test]
fn group_len_counts_the_members_not_yet_finished() {
    let group = Group::new();
    assert_eq!(group.len(), 0);
    assert!(group.is_empty());
    let events: Vec<Event> = (0..3).map(|_| Event::new()).collect();
    let members: Vec<Greenlet<()>> = events
        .iter()
        .map(|event| {
            let event = event.clone();
            group.spawn(move || event.wait())
        })
        .collect();
    assert_eq!(group.len(), 3);
    assert!(!group.is_empty());
    for (left, (event, member)) in (0..3).rev().zip(events.iter().zip(members)) {
        event.set();
        member.join().unwrap();
        assert_eq!(group.len(), left);
    }
    assert!(group.is_empty());
}

#[test]
fn group_join_waits_until_every_member_is_finished() {
    let group = Group::new();
    let members: Vec<Greenlet<()>> = [15u64, 5, 10]
        .into_iter()
        .map(|n| group.spawn(move || sleep(ms(n))))
        .collect();
    let start = Instant::now();
    group.join();
    assert!(members.iter().all(Greenlet::is_finished));
    assert!(group.is_empty());
    // The longest member alone sleeps 15 ms.
    assert_elapsed(start.elapsed(), ms(15), Duration::from_secs(2));
}

#[test]
fn group_kill_kills_every_member_and_waits_for_their_destructors() {
    let group = Group::new();
    let dropped: Vec<_> = (0..5).map(|_| flag()).collect();
    let members: Vec<Greenlet<()>> = dropped
        .iter()
        .map(|dropped| {
            let guard = DropFlag(dropped.clone());
            group.spawn(move || {
                let _guard = guard;
                sleep(LONG);
            })
        })
        .collect();
    yield_now();
    let start = Instant::now();
    group.kill();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(dropped.iter().all(|d| d.get()));
    assert!(group.is_empty());
    for g in members {
        assert!(g.join().unwrap_err().is_killed());
    }
}

#[test]
fn group_map_runs_every_call_at_once_and_returns_results_in_input_order() {
    let group = Group::new();
    let items = [5u32, 4, 3, 2, 1];
    let concurrency = Concurrency::default();
    let results = {
        let concurrency = concurrency.clone();
        group.map(items, move |n| {
            concurrency.run(|| {
                yield_times(n);
                n * 2
            })
        })
    };
    let expected: Vec<u32> = items.iter().map(|n| n * 2).collect();
    assert_eq!(results, expected);
    assert_eq!(concurrency.most.get(), items.len());
    assert!(group.is_empty());
}

#[test]
fn group_map_resumes_a_panic_of_f_in_the_caller() {
    let group = Group::new();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        group.map(0..3u32, |n| {
            if n == 0 {
                panic!("call {n} failed");
            }
            n
        })
    }));
    assert_eq!(panic_text(&*result.unwrap_err()), "call 0 failed");
}

#[test]
fn group_imap_unordered_yields_results_in_completion_order() {
    let group = Group::new();
    let finished = Log::default();
    let results: Vec<u32> = {
        let finished = finished.clone();
        group
            .imap_unordered([4u32, 2, 3, 1], move |n| {
                yield_times(n);
                finished.push(n.to_string());
                n
            })
            .collect()
    };
    let yielded: Vec<String> = results.iter().map(u32::to_string).collect();
    assert_eq!(yielded, finished.entries());
    let mut sorted = results.clone();
    sorted.sort_unstable();
    assert_eq!(results, sorted, "the calls did not finish as set up");
    assert!(group.is_empty());
}

#[test]
fn pool_map_takes_an_iterator_that_borrows_from_the_caller() {
    let pool = Pool::new(3);
    let words = [String::from("a"), String::from("bb"), String::from("ccc")];
    let lengths = pool.map(words.iter().map(String::len), |n: usize| n * 2);
    assert_eq!(lengths, [2, 4, 6]);
}

#[test]
fn pool_map_with_more_items_than_places_runs_every_item_once() {
    let pool = Pool::new(3);
    let calls = Rc::new(Cell::new(0));
    let results = {
        let calls = calls.clone();
        pool.map(0..1_000u32, move |n| {
            calls.set(calls.get() + 1);
            if n % 7 == 0 {
                yield_now(); // some calls switch, so the workers interleave
            }
            n + 1
        })
    };
    assert_eq!(results, (1..=1_000).collect::<Vec<_>>());
    assert_eq!(calls.get(), 1_000);
    assert!(pool.is_empty());
}

#[test]
fn pool_map_whose_calls_are_killed_by_pool_kill_panics_in_the_caller() {
    let pool = Pool::new(2);
    let caller = {
        let pool = pool.clone();
        spawn(move || {
            panic::catch_unwind(AssertUnwindSafe(|| pool.map(0..10u32, |_| sleep(LONG))))
                .map_err(|payload| panic_text(&*payload))
        })
    };
    yield_now(); // the caller starts the workers and parks feeding them
    yield_now(); // the workers take their first items and sleep
    assert_eq!(pool.len(), 2);
    pool.kill();
    let outcome = caller.join().unwrap();
    assert_eq!(
        outcome.unwrap_err(),
        "greenlet: a call of Pool::map was killed"
    );
}

#[test]
fn a_pool_map_whose_caller_is_killed_leaves_no_worker_behind() {
    let pool = Pool::new(2);
    let finished_calls = Rc::new(Cell::new(0));
    let caller = {
        let (pool, finished_calls) = (pool.clone(), finished_calls.clone());
        spawn(move || {
            pool.map(0..100u32, move |_| {
                sleep(ms(20));
                finished_calls.set(finished_calls.get() + 1);
            })
        })
    };
    yield_now(); // the caller starts the workers and parks feeding them
    yield_now(); // the workers take their first items and sleep
    assert_eq!(pool.len(), 2);
    caller.kill();
    assert!(caller.join().unwrap_err().is_killed());
    pool.join(); // the workers went with their caller (or this would deadlock)
    assert!(pool.is_empty());
    assert_eq!(finished_calls.get(), 0, "the running calls were killed");
}
