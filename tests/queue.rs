//! `greenlet::queue`: `Queue`, `PriorityQueue`, `LifoQueue`, `JoinableQueue`
//! and the rendezvous `Channel` — parking, FIFO service of waiters, no
//! barging, timeouts, and hand-over of items and slots when a waiter is
//! killed or timed out.

mod util;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::queue::{Channel, JoinableQueue, LifoQueue, PriorityQueue, Queue};
use greenlet::{Builder, Elapsed, Greenlet, sleep, spawn, with_timeout, yield_now};
use util::{Log, assert_elapsed, ms, panic_text};

/// A greenlet that takes one item from `queue`.
fn getter<T: 'static>(queue: &Queue<T>) -> Greenlet<T> {
    let queue = queue.clone();
    spawn(move || queue.get())
}

/// A greenlet that puts `item` into `queue`.
fn putter<T: 'static>(queue: &Queue<T>, item: T) -> Greenlet<()> {
    let queue = queue.clone();
    spawn(move || queue.put(item))
}

/// A greenlet that takes one item from `channel`.
fn channel_getter<T: 'static>(channel: &Channel<T>) -> Greenlet<T> {
    let channel = channel.clone();
    spawn(move || channel.get())
}

/// A greenlet that hands `item` over through `channel`.
fn channel_putter<T: 'static>(channel: &Channel<T>, item: T) -> Greenlet<()> {
    let channel = channel.clone();
    spawn(move || channel.put(item))
}

/// Runs `f`, which must panic, and returns its panic message.
fn panic_message_of<R>(f: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => panic_text(&*payload),
    }
}

// ---- Queue: get and put ------------------------------------------------------

#[test]
fn get_parks_while_the_queue_is_empty_and_wakes_on_put() {
    let queue = Queue::new();
    let g = getter(&queue);
    yield_now();
    assert!(!g.is_finished(), "get returned from an empty queue");
    queue.put(7);
    assert_eq!(g.join().unwrap(), 7);
}

#[test]
fn get_in_the_root_runs_greenlets_until_one_puts_an_item() {
    let queue = Queue::new();
    let _producer = {
        let queue = queue.clone();
        spawn(move || {
            sleep(ms(10));
            queue.put("made");
        })
    };
    assert_eq!(queue.get(), "made");
}

#[test]
fn items_come_out_in_the_order_they_were_put() {
    let queue = Queue::new();
    for n in 1..=4 {
        queue.put(n);
    }
    let out: Vec<_> = (0..4).map(|_| queue.get()).collect();
    assert_eq!(out, [1, 2, 3, 4]);
}

#[test]
fn parked_getters_are_served_in_the_order_they_parked() {
    let queue = Queue::new();
    let getters: Vec<_> = (0..3).map(|_| getter(&queue)).collect();
    yield_now(); // all three park, in spawn order
    for item in [10, 11, 12] {
        queue.put(item);
    }
    let got: Vec<_> = getters.into_iter().map(|g| g.join().unwrap()).collect();
    assert_eq!(got, [10, 11, 12]);
}

#[test]
fn put_on_a_full_bounded_queue_parks_until_a_get_frees_a_slot() {
    let queue = Queue::bounded(1);
    queue.put(1);
    let p = putter(&queue, 2);
    yield_now();
    assert!(!p.is_finished(), "put returned while the queue was full");
    assert_eq!(queue.get(), 1);
    p.join().unwrap();
    assert_eq!(queue.try_get(), Some(2));
}

#[test]
fn parked_putters_are_served_in_the_order_they_parked() {
    let queue = Queue::bounded(1);
    queue.put(0);
    let putters: Vec<_> = (1..=3).map(|n| putter(&queue, n)).collect();
    yield_now(); // all three park on the full queue
    let got: Vec<_> = (0..4).map(|_| queue.get()).collect();
    assert_eq!(got, [0, 1, 2, 3]);
    for p in putters {
        p.join().unwrap();
    }
}

#[test]
fn a_parked_putter_gets_the_slot_left_free_when_an_earlier_putter_hands_its_item_to_a_getter() {
    let queue = Queue::bounded(1);
    queue.put(0);
    let first = putter(&queue, 1);
    let second = putter(&queue, 2);
    yield_now(); // both park on the full queue
    assert_eq!(queue.try_get(), Some(0)); // the freed slot is granted to `first`
    // The root parks in get; `first` hands its item straight to it, so the
    // queue's only slot is free again, and `second` waits for one.
    assert_eq!(queue.get(), 1);
    first.join().unwrap();
    yield_now();
    assert!(
        second.is_finished(),
        "the second putter is still parked although the queue (len {}, capacity 1) has room",
        queue.len()
    );
    assert_eq!(queue.try_get(), Some(2));
}

#[test]
fn try_put_on_a_full_queue_hands_the_item_back() {
    let queue = Queue::bounded(1);
    assert_eq!(queue.try_put(String::from("first")), Ok(()));
    assert_eq!(
        queue.try_put(String::from("second")),
        Err(String::from("second"))
    );
    assert_eq!(queue.len(), 1);
}

#[test]
fn try_put_on_an_unbounded_queue_always_succeeds() {
    let queue = Queue::new();
    for n in 0..1000 {
        assert_eq!(queue.try_put(n), Ok(()));
    }
    assert_eq!(queue.len(), 1000);
}

#[test]
fn try_get_on_an_empty_queue_returns_none() {
    let queue = Queue::<u8>::new();
    assert_eq!(queue.try_get(), None);
}

#[test]
fn try_get_returns_the_next_item() {
    let queue = Queue::new();
    queue.put('a');
    queue.put('b');
    assert_eq!(queue.try_get(), Some('a'));
    assert_eq!(queue.len(), 1);
}

#[test]
fn get_timeout_returns_none_after_about_the_timeout() {
    let queue = Queue::<u8>::new();
    let start = Instant::now();
    assert_eq!(queue.get_timeout(ms(100)), None);
    assert_elapsed(start.elapsed(), ms(100), ms(600));
}

#[test]
fn get_timeout_returns_an_item_that_arrives_in_time_without_waiting_for_the_deadline() {
    let queue = Queue::new();
    let _producer = {
        let queue = queue.clone();
        spawn(move || {
            sleep(ms(20));
            queue.put(5);
        })
    };
    let start = Instant::now();
    assert_eq!(queue.get_timeout(Duration::from_secs(5)), Some(5));
    assert_elapsed(start.elapsed(), ms(20), Duration::from_secs(2));
}

#[test]
fn get_timeout_of_zero_on_an_empty_queue_returns_none_at_once() {
    let queue = Queue::<u8>::new();
    let start = Instant::now();
    assert_eq!(queue.get_timeout(Duration::ZERO), None);
    assert!(start.elapsed() < ms(100));
}

#[test]
fn a_getter_whose_get_timeout_expired_is_not_handed_a_later_item() {
    let queue = Queue::new();
    let g = {
        let queue = queue.clone();
        spawn(move || queue.get_timeout(ms(10)))
    };
    assert_eq!(g.join().unwrap(), None);
    queue.put(1);
    assert_eq!(queue.try_get(), Some(1));
}

#[test]
fn put_timeout_on_a_full_queue_hands_the_item_back_after_about_the_timeout() {
    let queue = Queue::bounded(1);
    queue.put(1);
    let start = Instant::now();
    assert_eq!(queue.put_timeout(2, ms(100)), Err(2));
    assert_elapsed(start.elapsed(), ms(100), ms(600));
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1]);
}

#[test]
fn put_timeout_succeeds_when_a_slot_frees_in_time() {
    let queue = Queue::bounded(1);
    queue.put(1);
    let _consumer = {
        let queue = queue.clone();
        spawn(move || {
            sleep(ms(20));
            queue.get()
        })
    };
    assert_eq!(queue.put_timeout(2, Duration::from_secs(5)), Ok(()));
    assert_eq!(queue.try_get(), Some(2));
}

// ---- Queue: size ---------------------------------------------------------------

#[test]
fn len_counts_the_items_queued() {
    let queue = Queue::new();
    assert_eq!(queue.len(), 0);
    queue.put(1);
    queue.put(2);
    assert_eq!(queue.len(), 2);
    queue.get();
    assert_eq!(queue.len(), 1);
}

#[test]
fn is_empty_is_true_only_while_no_item_is_queued() {
    let queue = Queue::new();
    assert!(queue.is_empty());
    queue.put(1);
    assert!(!queue.is_empty());
    queue.get();
    assert!(queue.is_empty());
}

#[test]
fn is_full_is_true_when_a_bounded_queue_holds_its_capacity() {
    let queue = Queue::bounded(2);
    queue.put(1);
    assert!(!queue.is_full());
    queue.put(2);
    assert!(queue.is_full());
    queue.get();
    assert!(!queue.is_full());
}

#[test]
fn an_unbounded_queue_is_never_full() {
    let queue = Queue::new();
    for n in 0..100 {
        queue.put(n);
    }
    assert!(!queue.is_full());
}

#[test]
fn capacity_is_the_bound_or_none_for_an_unbounded_queue() {
    assert_eq!(Queue::<u8>::bounded(3).capacity(), Some(3));
    assert_eq!(Queue::<u8>::new().capacity(), None);
}

#[test]
fn bounded_zero_panics_and_points_to_channel() {
    let message = panic_message_of(|| Queue::<u8>::bounded(0));
    assert!(message.contains("Channel"), "{message}");
}

#[test]
fn drain_yields_the_queued_items_in_order_and_empties_the_queue() {
    let queue = Queue::new();
    for n in 1..=3 {
        queue.put(n);
    }
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1, 2, 3]);
    assert!(queue.is_empty());
}

#[test]
fn drain_of_an_empty_queue_ends_at_once_without_parking() {
    let queue = Queue::<u8>::new();
    let start = Instant::now();
    assert_eq!(queue.drain().next(), None);
    assert!(start.elapsed() < ms(100));
}

#[test]
fn clones_share_one_queue() {
    let queue = Queue::new();
    let other = queue.clone();
    queue.put(1);
    assert_eq!(other.len(), 1);
    assert_eq!(other.get(), 1);
    assert!(queue.is_empty());
}

// ---- Queue: no barging -------------------------------------------------------

#[test]
fn an_item_put_for_a_parked_getter_cannot_be_taken_by_try_get() {
    let queue = Queue::new();
    let g = getter(&queue);
    yield_now();
    queue.put(1);
    assert_eq!(
        queue.try_get(),
        None,
        "the root took the parked getter's item"
    );
    assert_eq!(g.join().unwrap(), 1);
}

#[test]
fn an_item_put_for_a_parked_getter_cannot_be_taken_by_another_greenlet() {
    let queue = Queue::new();
    let g = getter(&queue);
    yield_now();
    queue.put(1);
    let barger = {
        let queue = queue.clone();
        spawn(move || queue.try_get())
    };
    assert_eq!(barger.join().unwrap(), None);
    assert_eq!(g.join().unwrap(), 1);
}

#[test]
fn a_slot_freed_for_a_parked_putter_cannot_be_taken_by_try_put() {
    let queue = Queue::bounded(1);
    queue.put(0);
    let p = putter(&queue, 1);
    yield_now();
    assert_eq!(queue.try_get(), Some(0)); // the slot goes to the parked putter
    assert_eq!(queue.try_put(9), Err(9));
    p.join().unwrap();
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1]);
}

// ---- Queue: waiters that leave -------------------------------------------------

#[test]
fn a_getter_killed_while_parked_leaves_the_next_item_to_the_next_getter() {
    let queue = Queue::new();
    let first = getter(&queue);
    let second = getter(&queue);
    yield_now();
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    queue.put(1);
    assert_eq!(second.join().unwrap(), 1);
}

#[test]
fn an_item_put_after_the_only_getter_was_killed_stays_in_the_queue() {
    let queue = Queue::new();
    let g = getter(&queue);
    yield_now();
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    queue.put(1);
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.try_get(), Some(1));
}

#[test]
fn an_item_handed_to_a_getter_killed_before_it_ran_goes_to_the_next_getter() {
    let queue = Queue::new();
    let first = getter(&queue);
    let second = getter(&queue);
    yield_now();
    queue.put(1); // granted to `first`, which has not run yet
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    assert_eq!(second.join().unwrap(), 1);
    assert_eq!(queue.try_get(), None, "the item was delivered twice");
}

#[test]
fn an_item_handed_to_a_getter_killed_before_it_ran_goes_back_to_the_queue_if_no_getter_is_left() {
    let queue = Queue::new();
    let g = getter(&queue);
    yield_now();
    queue.put(1);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1]);
}

#[test]
fn an_item_handed_back_by_a_killed_getter_comes_before_items_put_after_it() {
    let queue = Queue::new();
    let g = getter(&queue);
    yield_now();
    queue.put(1); // granted to `g`
    queue.put(2); // nobody else waits: queued
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn an_item_handed_back_by_a_killed_getter_of_a_bounded_queue_still_comes_first() {
    let queue = Queue::bounded(1);
    let g = getter(&queue);
    yield_now();
    queue.put(1); // granted to `g`
    queue.put(2); // fills the only slot
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn a_getter_whose_get_timeout_expires_leaves_its_place_to_the_getters_behind_it() {
    let queue = Queue::new();
    let first = getter(&queue);
    let leaving = {
        let queue = queue.clone();
        spawn(move || queue.get_timeout(ms(10)))
    };
    let last = getter(&queue);
    yield_now(); // all three park
    assert_eq!(leaving.join().unwrap(), None);
    queue.put(1);
    queue.put(2);
    assert_eq!(first.join().unwrap(), 1);
    assert_eq!(last.join().unwrap(), 2);
}

/// Sets up a getter whose item arrives after its timeout fired but before
/// it ran: a greenlet sleeps 5 ms, then puts `item` and tries to take it
/// back at once (it returns what that `try_get` found); another, started
/// after it, parks in `queue.get()` inside a 20 ms `with_timeout`, so its
/// deadline is later however slow the machine. The caller lets both
/// deadlines pass without running the hub (see [`let_deadlines_pass`]),
/// so both timers fire in one batch, the putter's first: the putter hands
/// the item to the getter, whose timeout has fired but which has not run.
fn getter_timed_out_with_an_item(
    queue: &Queue<u32>,
    item: u32,
) -> (Greenlet<Result<u32, Elapsed>>, Greenlet<Option<u32>>) {
    let p = {
        let queue = queue.clone();
        spawn(move || {
            sleep(ms(5));
            queue.put(item);
            queue.try_get()
        })
    };
    yield_now(); // `p` parks in its sleep
    let g = {
        let queue = queue.clone();
        spawn(move || with_timeout(ms(20), || queue.get()))
    };
    yield_now(); // `g` parks in get, its timeout armed
    (g, p)
}

/// Blocks the thread (not the hub) until the deadlines set up by
/// [`getter_timed_out_with_an_item`] have passed.
fn let_deadlines_pass() {
    std::thread::sleep(ms(50));
}

#[test]
fn an_item_handed_to_a_getter_whose_with_timeout_fired_goes_back_to_the_queue() {
    let queue = Queue::new();
    let (g, p) = getter_timed_out_with_an_item(&queue, 1);
    let_deadlines_pass();
    assert_eq!(g.join().unwrap(), Err(Elapsed::default()));
    assert_eq!(
        p.join().unwrap(),
        None,
        "the put did not hand the item to the timed-out getter"
    );
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1]);
}

#[test]
fn an_item_handed_to_a_getter_whose_with_timeout_fired_goes_to_the_next_getter() {
    let queue = Queue::new();
    let (g, p) = getter_timed_out_with_an_item(&queue, 1);
    let next = getter(&queue);
    yield_now(); // `next` parks behind `g`
    let_deadlines_pass();
    assert_eq!(g.join().unwrap(), Err(Elapsed::default()));
    assert_eq!(
        p.join().unwrap(),
        None,
        "the put did not hand the item to the timed-out getter"
    );
    assert_eq!(next.join().unwrap(), 1);
    assert!(queue.is_empty(), "the item was delivered twice");
}

#[test]
fn a_putter_killed_while_parked_on_a_full_queue_does_not_insert_its_item() {
    let queue = Queue::bounded(1);
    queue.put(0);
    let p = putter(&queue, 1);
    yield_now();
    p.kill();
    assert!(p.join().unwrap_err().is_killed());
    assert_eq!(queue.get(), 0);
    assert_eq!(queue.try_get(), None);
}

#[test]
fn a_slot_granted_to_a_putter_killed_before_it_ran_passes_to_the_next_putter() {
    let queue = Queue::bounded(1);
    queue.put(0);
    let first = putter(&queue, 1);
    let second = putter(&queue, 2);
    yield_now();
    assert_eq!(queue.try_get(), Some(0)); // the slot is granted to `first`
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    second.join().unwrap();
    assert_eq!(queue.drain().collect::<Vec<_>>(), [2]);
}

#[test]
fn a_slot_granted_to_a_putter_killed_before_it_ran_is_free_again_if_no_putter_is_left() {
    let queue = Queue::bounded(1);
    queue.put(0);
    let p = putter(&queue, 1);
    yield_now();
    assert_eq!(queue.try_get(), Some(0));
    p.kill();
    assert!(p.join().unwrap_err().is_killed());
    assert!(queue.is_empty());
    assert_eq!(queue.try_put(3), Ok(()));
}

// ---- Queue: deadlock -------------------------------------------------------------

#[test]
fn get_in_the_root_on_a_queue_nobody_can_fill_panics_naming_queue_get() {
    let queue = Queue::<u8>::new();
    let message = panic_message_of(|| queue.get());
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("Queue::get"), "{message}");
}

#[test]
fn put_in_the_root_on_a_full_queue_nobody_can_empty_panics_naming_queue_put() {
    let queue = Queue::bounded(1);
    queue.put(1);
    let message = panic_message_of(|| queue.put(2));
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("Queue::put"), "{message}");
}

#[test]
fn the_deadlock_message_lists_a_greenlet_parked_in_queue_get() {
    let queue = Queue::<u8>::new();
    let g = {
        let queue = queue.clone();
        Builder::new()
            .name("consumer")
            .spawn(move || queue.get())
            .unwrap()
    };
    let id = g.id();
    let message = panic_message_of(|| g.join());
    assert!(message.contains("deadlock"), "{message}");
    let prefix = format!("greenlet {id} ");
    let line = message
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line about greenlet {id} in:\n{message}"));
    assert!(line.contains("consumer"), "{message}");
    assert!(line.contains("Queue::get"), "{message}");
}

// ---- PriorityQueue and LifoQueue --------------------------------------------

#[test]
fn a_priority_queue_hands_out_the_smallest_item_first() {
    let queue = PriorityQueue::new();
    for n in [5, 1, 4, 2, 3] {
        queue.put(n);
    }
    let out: Vec<_> = (0..5).map(|_| queue.get()).collect();
    assert_eq!(out, [1, 2, 3, 4, 5]);
}

#[test]
fn a_bounded_priority_queue_is_full_at_its_capacity_and_still_hands_out_the_smallest_first() {
    let queue = PriorityQueue::bounded(3);
    for n in [3, 1, 2] {
        queue.put(n);
    }
    assert!(queue.is_full());
    assert_eq!(queue.try_put(0), Err(0));
    assert_eq!(queue.drain().collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn a_putter_parked_on_a_full_priority_queue_is_served_when_a_get_frees_a_slot() {
    let queue = PriorityQueue::bounded(1);
    queue.put(5);
    let p = {
        let queue = queue.clone();
        spawn(move || queue.put(1))
    };
    yield_now();
    assert!(!p.is_finished());
    assert_eq!(queue.get(), 5);
    p.join().unwrap();
    assert_eq!(queue.get(), 1);
}

#[test]
fn a_parked_priority_queue_getter_gets_the_first_item_put() {
    let queue = PriorityQueue::new();
    let g = {
        let queue = queue.clone();
        spawn(move || queue.get())
    };
    yield_now();
    queue.put(9);
    queue.put(1);
    assert_eq!(g.join().unwrap(), 9);
    assert_eq!(queue.get(), 1);
}

#[test]
fn a_lifo_queue_hands_out_the_newest_item_first() {
    let queue = LifoQueue::new();
    for n in 1..=4 {
        queue.put(n);
    }
    let out: Vec<_> = (0..4).map(|_| queue.get()).collect();
    assert_eq!(out, [4, 3, 2, 1]);
}

#[test]
fn a_bounded_lifo_queue_refuses_a_put_when_full() {
    let queue = LifoQueue::bounded(2);
    queue.put(1);
    queue.put(2);
    assert!(queue.is_full());
    assert_eq!(queue.try_put(3), Err(3));
    assert_eq!(queue.drain().collect::<Vec<_>>(), [2, 1]);
}

// ---- JoinableQueue ---------------------------------------------------------------

#[test]
fn join_returns_at_once_when_nothing_was_put() {
    let queue = JoinableQueue::<u8>::new();
    let start = Instant::now();
    queue.join();
    assert!(start.elapsed() < ms(100));
}

#[test]
fn join_parks_until_every_item_put_was_taken_and_marked_done() {
    let queue = JoinableQueue::new();
    let done = Rc::new(Cell::new(0));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let queue = queue.clone();
            let done = done.clone();
            spawn(move || {
                loop {
                    let job: u64 = queue.get();
                    sleep(ms(job));
                    done.set(done.get() + 1);
                    queue.task_done();
                }
            })
        })
        .collect();
    for job in [3, 1, 4, 1, 5, 2, 6, 1] {
        queue.put(job);
    }
    queue.join();
    assert_eq!(done.get(), 8);
    assert_eq!(queue.unfinished(), 0);
    greenlet::killall(workers);
}

#[test]
fn join_does_not_return_while_a_taken_item_is_not_marked_done() {
    let queue = JoinableQueue::new();
    queue.put(1);
    let joiner = {
        let queue = queue.clone();
        spawn(move || queue.join())
    };
    yield_now();
    assert_eq!(queue.get(), 1);
    yield_now();
    assert!(!joiner.is_finished(), "join returned before task_done");
    queue.task_done();
    joiner.join().unwrap();
}

#[test]
fn every_greenlet_in_join_returns_when_the_last_item_is_marked_done() {
    let queue = JoinableQueue::new();
    queue.put(1);
    let joiners: Vec<_> = (0..3)
        .map(|_| {
            let queue = queue.clone();
            spawn(move || queue.join())
        })
        .collect();
    yield_now();
    queue.get();
    queue.task_done();
    for j in joiners {
        j.join().unwrap();
    }
}

#[test]
fn unfinished_counts_items_put_and_not_yet_marked_done() {
    let queue = JoinableQueue::new();
    queue.put('a');
    queue.put('b');
    assert_eq!(queue.unfinished(), 2);
    queue.get();
    assert_eq!(queue.unfinished(), 2, "taking an item does not finish it");
    queue.task_done();
    assert_eq!(queue.unfinished(), 1);
}

#[test]
fn task_done_more_times_than_items_were_taken_panics() {
    let queue = JoinableQueue::new();
    queue.put(1);
    queue.get();
    queue.task_done();
    let message = panic_message_of(|| queue.task_done());
    assert!(message.contains("task_done"), "{message}");
    assert_eq!(queue.unfinished(), 0);
}

#[test]
fn task_done_for_an_item_put_but_not_yet_taken_panics() {
    let queue = JoinableQueue::new();
    queue.put(1);
    let message = panic_message_of(|| queue.task_done());
    assert!(message.contains("task_done"), "{message}");
    assert_eq!(queue.unfinished(), 1);
}

#[test]
fn an_item_handed_back_by_a_killed_getter_is_counted_once_by_a_joinable_queue() {
    let queue = JoinableQueue::new();
    let g = {
        let queue = queue.clone();
        spawn(move || queue.get())
    };
    yield_now();
    queue.put(1); // granted to `g`
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(queue.unfinished(), 1);
    assert_eq!(queue.get(), 1);
    queue.task_done();
    queue.join();
    // The killed getter never took the item: no task_done is owed for it.
    let message = panic_message_of(|| queue.task_done());
    assert!(message.contains("task_done"), "{message}");
}

// ---- Channel -------------------------------------------------------------------

#[test]
fn channel_put_parks_until_a_get_takes_the_item() {
    let channel = Channel::new();
    let p = channel_putter(&channel, "x");
    yield_now();
    assert!(
        !p.is_finished(),
        "put returned with nobody to take the item"
    );
    assert_eq!(channel.get(), "x");
    p.join().unwrap();
}

#[test]
fn channel_get_parks_until_a_put() {
    let channel = Channel::new();
    let g = channel_getter(&channel);
    yield_now();
    assert!(!g.is_finished());
    assert_eq!(channel.waiting_getters(), 1);
    channel.put(3);
    assert_eq!(g.join().unwrap(), 3);
}

#[test]
fn channel_try_put_hands_the_item_back_when_no_getter_waits() {
    let channel = Channel::new();
    assert_eq!(channel.try_put(String::from("x")), Err(String::from("x")));
}

#[test]
fn channel_try_put_succeeds_when_a_getter_waits() {
    let channel = Channel::new();
    let g = channel_getter(&channel);
    yield_now();
    assert_eq!(channel.try_put(4), Ok(()));
    assert_eq!(g.join().unwrap(), 4);
}

#[test]
fn channel_try_put_cannot_take_a_getter_promised_to_a_parked_putter() {
    let channel = Channel::new();
    let p = channel_putter(&channel, 1);
    yield_now(); // the putter parks
    let g = channel_getter(&channel);
    yield_now(); // the getter parks, promised to the putter; the putter is runnable
    assert_eq!(channel.try_put(9), Err(9));
    p.join().unwrap();
    assert_eq!(g.join().unwrap(), 1);
}

#[test]
fn channel_put_timeout_hands_the_item_back_after_about_the_timeout() {
    let channel = Channel::new();
    let start = Instant::now();
    assert_eq!(channel.put_timeout(1, ms(100)), Err(1));
    assert_elapsed(start.elapsed(), ms(100), ms(600));
}

#[test]
fn channel_get_timeout_returns_none_after_about_the_timeout() {
    let channel = Channel::<u8>::new();
    let start = Instant::now();
    assert_eq!(channel.get_timeout(ms(100)), None);
    assert_elapsed(start.elapsed(), ms(100), ms(600));
}

#[test]
fn channel_get_timeout_takes_an_item_put_in_time() {
    let channel = Channel::new();
    let _p = {
        let channel = channel.clone();
        spawn(move || {
            sleep(ms(20));
            channel.put(2);
        })
    };
    assert_eq!(channel.get_timeout(Duration::from_secs(5)), Some(2));
}

#[test]
fn channel_putters_are_served_in_the_order_they_parked() {
    let channel = Channel::new();
    let putters: Vec<_> = (1..=3).map(|n| channel_putter(&channel, n)).collect();
    yield_now(); // all three park
    let got: Vec<_> = (0..3).map(|_| channel.get()).collect();
    assert_eq!(got, [1, 2, 3]);
    for p in putters {
        p.join().unwrap();
    }
}

#[test]
fn channel_getters_are_served_in_the_order_they_parked() {
    let channel = Channel::new();
    let getters: Vec<_> = (0..3).map(|_| channel_getter(&channel)).collect();
    yield_now();
    for n in 1..=3 {
        channel.put(n);
    }
    let got: Vec<_> = getters.into_iter().map(|g| g.join().unwrap()).collect();
    assert_eq!(got, [1, 2, 3]);
}

#[test]
fn an_item_handed_to_a_channel_getter_killed_before_it_ran_goes_to_the_next_getter() {
    let channel = Channel::new();
    let first = channel_getter(&channel);
    let second = channel_getter(&channel);
    yield_now();
    channel.put(1); // handed to `first`, which has not run yet
    first.kill();
    assert!(first.join().unwrap_err().is_killed());
    assert_eq!(second.join().unwrap(), 1);
    assert_eq!(channel.get_timeout(Duration::ZERO), None, "delivered twice");
}

#[test]
fn an_item_handed_to_a_channel_getter_killed_before_it_ran_is_not_lost_if_no_getter_is_left() {
    let channel = Channel::new();
    let g = channel_getter(&channel);
    yield_now();
    channel.put(1);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(channel.get_timeout(ms(10)), Some(1));
}

#[test]
fn a_channel_putter_killed_while_parked_hands_nothing_over() {
    let channel = Channel::new();
    let p = channel_putter(&channel, 1);
    yield_now();
    p.kill();
    assert!(p.join().unwrap_err().is_killed());
    assert_eq!(channel.get_timeout(ms(20)), None);
}

#[test]
fn channel_clones_share_one_channel() {
    let channel = Channel::new();
    let other = channel.clone();
    let p = channel_putter(&other, 'c');
    assert_eq!(channel.get(), 'c');
    p.join().unwrap();
}

// ---- several greenlets -----------------------------------------------------------

#[test]
fn producers_and_consumers_on_a_small_bounded_queue_pass_every_item_once() {
    let queue = Queue::bounded(2);
    let log = Log::default();
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let queue = queue.clone();
            spawn(move || {
                for n in 0..20 {
                    queue.put(Some(p * 100 + n));
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let queue = queue.clone();
            let log = log.clone();
            spawn(move || {
                while let Some(n) = queue.get() {
                    log.push(n.to_string());
                    if n % 7 == 0 {
                        yield_now();
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    for _ in &consumers {
        queue.put(None); // one stop signal per consumer
    }
    for c in consumers {
        c.join().unwrap();
    }
    let mut got: Vec<u32> = log.entries().iter().map(|s| s.parse().unwrap()).collect();
    got.sort_unstable();
    let expected: Vec<u32> = (0..3)
        .flat_map(|p| (0..20).map(move |n| p * 100 + n))
        .collect();
    assert_eq!(got, expected);
    assert!(queue.is_empty());
}
