//! `greenlet::channel`: channels between threads, and between the greenlets
//! of one hub; waits that park a greenlet, the root context or a plain
//! thread; kills and timeouts that lose nothing; disconnection.

mod util;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use greenlet::channel::{
    self, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use greenlet::{Greenlet, spawn, with_timeout, yield_now};
use util::{Rng, assert_elapsed, ms};

const SENDERS: u64 = 4;
const ITEMS: u64 = 100_000;

/// `SENDERS` threads each send `ITEMS` items, tagged `(sender, seq)`, to
/// greenlets on this thread's hub, which send each one back to its sender's
/// own channel; each sender returns what came back to it, in order.
///
/// `Shared(n)`: every sender sends on one channel that `n` greenlets take
/// from. `PerSender`: each sender has a channel of its own and one greenlet
/// taking from it, so what comes back is in the order it was received
/// (with several receivers on one channel, two items received in order by
/// two greenlets go back in the order the greenlets run). `kill_seed` adds
/// a greenlet that kills receivers at random and starts new ones.
#[derive(Clone, Copy)]
enum Receivers {
    Shared(usize),
    PerSender,
}

fn round_trip(receivers: Receivers, kill_seed: Option<u64>) -> (Vec<Vec<u64>>, usize) {
    let channels = match receivers {
        Receivers::Shared(_) => 1,
        Receivers::PerSender => SENDERS as usize,
    };
    let (to_hub, inboxes): (Vec<_>, Vec<_>) = (0..channels)
        .map(|_| channel::bounded::<(u64, u64)>(1024))
        .unzip();
    let mut backs = Vec::new();
    let mut threads = Vec::new();
    for sender in 0..SENDERS {
        let (back, returned) = channel::unbounded::<(u64, u64)>();
        backs.push(back);
        let to_hub = to_hub[sender as usize % channels].clone();
        threads.push(thread::spawn(move || {
            for seq in 0..ITEMS {
                to_hub.send((sender, seq)).unwrap();
            }
            drop(to_hub);
            returned
                .iter()
                .take(ITEMS as usize)
                .map(|(from, seq)| {
                    assert_eq!(from, sender, "an item came back to the wrong sender");
                    seq
                })
                .collect::<Vec<_>>()
        }));
    }
    drop(to_hub);
    let backs = Rc::new(backs);
    let inboxes = Rc::new(inboxes);
    let start_receiver = {
        let (inboxes, backs) = (inboxes.clone(), backs.clone());
        move |inbox: usize| {
            let inbox = inboxes[inbox].clone();
            let backs = backs.clone();
            spawn(move || {
                // recv, then send back, with no switch in between: an item
                // is either still in the channel or on its way back.
                while let Ok((from, seq)) = inbox.recv() {
                    backs[from as usize].send((from, seq)).unwrap();
                }
            })
        }
    };
    let inbox_of: Vec<usize> = match receivers {
        Receivers::Shared(n) => vec![0; n],
        Receivers::PerSender => (0..channels).collect(),
    };
    let pool: Rc<RefCell<Vec<Greenlet<()>>>> = Rc::new(RefCell::new(
        inbox_of
            .iter()
            .map(|&inbox| start_receiver(inbox))
            .collect(),
    ));
    let stop = Rc::new(Cell::new(false));
    let kills = Rc::new(Cell::new(0));
    let killer = kill_seed.map(|seed| {
        let (pool, stop, kills) = (pool.clone(), stop.clone(), kills.clone());
        let start_receiver = start_receiver.clone();
        spawn(move || {
            let mut rng = Rng::new(seed, 0);
            while !stop.get() {
                rng.pause();
                // The victim has ended before its replacement starts: two
                // receivers on one channel would take turns.
                let victim = rng.below(inbox_of.len());
                pool.borrow()[victim].kill();
                kills.set(kills.get() + 1);
                let new = start_receiver(inbox_of[victim]);
                let old = std::mem::replace(&mut pool.borrow_mut()[victim], new);
                // `join` waits for the killed one to end, before its
                // replacement first runs: a kill does not wait.
                let _ = old.join();
            }
        })
    });
    drop(start_receiver);
    drop(inboxes);
    // The senders' threads end once all their items are back; the root
    // waits for that without blocking the hub.
    let (done, finished) = channel::unbounded();
    let waiters: Vec<_> = threads
        .into_iter()
        .map(|t| {
            let done = done.clone();
            thread::spawn(move || done.send(t.join()).unwrap())
        })
        .collect();
    drop(done);
    let results: Vec<_> = finished.iter().collect();
    stop.set(true);
    if let Some(killer) = killer {
        killer.join().unwrap();
    }
    for g in pool.borrow_mut().drain(..) {
        g.join().unwrap();
    }
    waiters.into_iter().for_each(|w| w.join().unwrap());
    let per_sender = results
        .into_iter()
        .map(|result| result.expect("a sender thread panicked"))
        .collect();
    (per_sender, kills.get())
}

#[test]
fn four_threads_sending_to_greenlets_and_back_get_every_item_once_in_order() {
    let (per_sender, _) = round_trip(Receivers::PerSender, None);
    assert_eq!(per_sender.len(), SENDERS as usize);
    let expected: Vec<u64> = (0..ITEMS).collect();
    for returned in per_sender {
        assert!(returned == expected, "items lost, repeated or reordered");
    }
}

#[test]
fn four_threads_sending_to_eight_greenlets_on_one_channel_get_every_item_back_once() {
    let (per_sender, _) = round_trip(Receivers::Shared(8), None);
    for returned in per_sender {
        let mut sorted = returned.clone();
        sorted.sort();
        assert!(
            sorted == (0..ITEMS).collect::<Vec<_>>(),
            "items lost or repeated"
        );
    }
}

#[test]
fn receivers_killed_at_random_lose_and_repeat_no_item() {
    let seed = 0x5EED_C4A7;
    let (per_sender, kills) = round_trip(Receivers::Shared(8), Some(seed));
    assert!(kills > 0, "seed {seed:#x}: the killer never ran");
    for returned in per_sender {
        // A receiver killed after an item was handed to it passes the item
        // on, so it may come back after a later one: count, not order.
        let unique: HashSet<u64> = returned.iter().copied().collect();
        assert_eq!(returned.len(), ITEMS as usize, "seed {seed:#x}");
        assert_eq!(
            unique.len(),
            ITEMS as usize,
            "seed {seed:#x}: an item came back twice"
        );
    }
}

#[test]
fn per_sender_receivers_killed_at_random_keep_each_senders_order() {
    // One receiver per channel: an item passed on by a killed receiver goes
    // back to the head, ahead of everything sent after it.
    let seed = 0x5EED_0DE2;
    let (per_sender, kills) = round_trip(Receivers::PerSender, Some(seed));
    assert!(kills > 0, "seed {seed:#x}: the killer never ran");
    let expected: Vec<u64> = (0..ITEMS).collect();
    for returned in per_sender {
        assert!(
            returned == expected,
            "seed {seed:#x}: items lost, repeated or reordered"
        );
    }
}

#[test]
fn a_rendezvous_across_threads_waits_for_the_other_side_both_ways() {
    let (tx, rx) = channel::bounded::<u32>(0);
    // A greenlet sends; a plain thread receives after a while.
    let receiver = thread::spawn(move || {
        thread::sleep(ms(30));
        (rx.recv().unwrap(), rx)
    });
    let sender = {
        let tx = tx.clone();
        spawn(move || {
            let start = Instant::now();
            tx.send(1).unwrap();
            start.elapsed()
        })
    };
    let waited = sender.join().unwrap();
    assert!(
        waited >= ms(20),
        "the send returned after {waited:?}, before a receiver came"
    );
    let (got, rx) = receiver.join().unwrap();
    assert_eq!(got, 1);
    // A plain thread sends; a greenlet waits to receive.
    let sender = thread::spawn(move || {
        thread::sleep(ms(30));
        tx.send(2).unwrap();
    });
    let start = Instant::now();
    let got = spawn(move || rx.recv().unwrap()).join().unwrap();
    assert_eq!(got, 2);
    assert!(start.elapsed() >= ms(20));
    sender.join().unwrap();
}

#[test]
fn a_rendezvous_with_no_receiver_waiting_refuses_a_try_send() {
    let (tx, rx) = channel::bounded(0);
    assert_eq!(tx.try_send(5), Err(TrySendError::Full(5)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(tx.is_full() && rx.is_empty());
}

#[test]
fn recv_timeout_across_threads_times_out_then_receives() {
    let (tx, rx) = channel::unbounded::<&str>();
    let start = Instant::now();
    let got = spawn({
        let rx = rx.clone();
        move || rx.recv_timeout(ms(50))
    })
    .join()
    .unwrap();
    assert_eq!(got, Err(RecvTimeoutError::Timeout));
    assert_elapsed(start.elapsed(), ms(50), ms(500));
    let sender = thread::spawn(move || {
        thread::sleep(ms(20));
        tx.send("late but in time").unwrap();
    });
    let got = spawn(move || rx.recv_timeout(Duration::from_secs(5)))
        .join()
        .unwrap();
    assert_eq!(got, Ok("late but in time"));
    sender.join().unwrap();
}

#[test]
fn a_plain_thread_times_out_in_recv_and_send() {
    let result = thread::spawn(|| {
        let (tx, rx) = channel::bounded::<u8>(1);
        let start = Instant::now();
        let recv = rx.recv_timeout(ms(30));
        let recv_took = start.elapsed();
        tx.send(1).unwrap();
        let start = Instant::now();
        let send = tx.send_timeout(2, ms(30));
        (recv, recv_took, send, start.elapsed(), rx.recv())
    })
    .join()
    .unwrap();
    assert_eq!(result.0, Err(RecvTimeoutError::Timeout));
    assert_elapsed(result.1, ms(30), ms(500));
    assert_eq!(result.2, Err(SendTimeoutError::Timeout(2)));
    assert_elapsed(result.3, ms(30), ms(500));
    assert_eq!(result.4, Ok(1));
}

#[test]
fn greenlets_parked_in_recv_see_the_last_sender_drop_on_another_thread() {
    let (tx, rx) = channel::unbounded::<u8>();
    let parked: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            spawn(move || rx.recv())
        })
        .collect();
    yield_now(); // all three are parked in `recv`
    thread::spawn(move || {
        thread::sleep(ms(20));
        drop(tx);
    });
    for g in parked {
        assert_eq!(g.join().unwrap(), Err(RecvError));
    }
}

#[test]
fn greenlets_parked_in_send_see_the_last_receiver_drop_on_another_thread_and_get_their_items_back()
{
    let (tx, rx) = channel::bounded::<u32>(1);
    tx.send(0).unwrap(); // full
    let parked: Vec<_> = (1..=3)
        .map(|n| {
            let tx = tx.clone();
            spawn(move || tx.send(n))
        })
        .collect();
    yield_now();
    thread::spawn(move || {
        thread::sleep(ms(20));
        drop(rx);
    });
    let mut back: Vec<u32> = parked
        .into_iter()
        .map(|g| g.join().unwrap().unwrap_err().into_inner())
        .collect();
    back.sort();
    assert_eq!(back, [1, 2, 3]);
    assert_eq!(tx.send(9), Err(SendError(9)));
}

#[test]
fn a_rendezvous_receiver_killed_after_an_item_was_handed_to_it_passes_the_item_to_the_next() {
    let (tx, rx) = channel::bounded::<&str>(0);
    let first = spawn({
        let rx = rx.clone();
        move || rx.recv()
    });
    let second = spawn({
        let rx = rx.clone();
        move || rx.recv()
    });
    yield_now(); // both parked, `first` ahead
    tx.send("only one").unwrap(); // handed to `first`: the send is done
    first.kill();
    assert!(first.join().is_err());
    assert_eq!(second.join().unwrap(), Ok("only one"));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn an_item_a_killed_rendezvous_receiver_hands_back_goes_first_and_a_waiting_sender_still_waits() {
    let (tx, rx) = channel::bounded::<u32>(0);
    let first = spawn({
        let rx = rx.clone();
        move || rx.recv()
    });
    yield_now();
    tx.send(1).unwrap(); // handed to `first`
    first.kill();
    assert!(first.join().is_err());
    assert_eq!(rx.len(), 1, "the item went back to the channel");
    let second = spawn({
        let tx = tx.clone();
        move || tx.send(2)
    });
    yield_now(); // `second` waits: no receiver is there for it
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(
        rx.len(),
        0,
        "the waiting sender's item did not enter the channel"
    );
    assert!(!second.is_finished());
    assert_eq!(rx.recv(), Ok(2));
    assert_eq!(second.join().unwrap(), Ok(()));
}

#[test]
fn a_woken_receiver_that_is_killed_before_it_runs_wakes_the_next_which_takes_the_item() {
    let (tx, rx) = channel::unbounded::<&str>();
    let first = spawn({
        let rx = rx.clone();
        move || rx.recv()
    });
    let second = spawn({
        let rx = rx.clone();
        move || rx.recv()
    });
    yield_now(); // both parked, `first` ahead
    tx.send("only one").unwrap(); // wakes `first`, which has not run yet
    first.kill();
    assert!(first.join().is_err());
    assert_eq!(second.join().unwrap(), Ok("only one"));
    assert!(rx.is_empty());
}

#[test]
fn a_receiver_timed_out_after_it_was_woken_leaves_the_items_in_order() {
    let (tx, rx) = channel::unbounded::<u32>();
    let waiter = spawn({
        let rx = rx.clone();
        move || with_timeout(ms(1), || rx.recv())
    });
    yield_now(); // parked in `recv`
    tx.send(1).unwrap(); // wakes the waiter
    tx.send(2).unwrap(); // queued behind it
    // The timeout interrupts the waiter before it runs again.
    thread::sleep(ms(5));
    match waiter.join().unwrap() {
        // The timeout came first: the items are still there, in order.
        Err(_) => assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]),
        // The item was taken before the timeout was raised.
        Ok(got) => {
            assert_eq!(got, Ok(1));
            assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2]);
        }
    }
}

#[test]
fn waiting_receivers_are_served_in_arrival_order() {
    let (tx, rx) = channel::unbounded::<usize>();
    let order = Rc::new(RefCell::new(Vec::new()));
    let gs: Vec<_> = (0..5)
        .map(|i| {
            let (rx, order) = (rx.clone(), order.clone());
            spawn(move || {
                let got = rx.recv().unwrap();
                order.borrow_mut().push((i, got));
            })
        })
        .collect();
    yield_now();
    for n in 0..5 {
        tx.send(n * 10).unwrap();
    }
    greenlet::joinall(gs);
    assert_eq!(
        *order.borrow(),
        [(0, 0), (1, 10), (2, 20), (3, 30), (4, 40)]
    );
}

#[test]
fn a_bounded_channel_makes_a_greenlet_sender_wait_for_room() {
    let (tx, rx) = channel::bounded::<u32>(2);
    let sent = Rc::new(Cell::new(0));
    let producer = {
        let sent = sent.clone();
        spawn(move || {
            for n in 0..5 {
                tx.send(n).unwrap();
                sent.set(sent.get() + 1);
            }
        })
    };
    yield_now();
    assert_eq!(sent.get(), 2, "the third send should wait");
    assert_eq!(rx.len(), 2);
    let got: Vec<u32> = (0..5).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    producer.join().unwrap();
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn a_killed_sender_waiting_for_room_sends_nothing() {
    let (tx, rx) = channel::bounded::<u32>(1);
    tx.send(1).unwrap();
    let blocked = {
        let tx = tx.clone();
        spawn(move || tx.send(2))
    };
    yield_now();
    blocked.kill();
    assert!(blocked.join().is_err());
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn the_root_context_waiting_in_recv_runs_the_hubs_greenlets() {
    let (tx, rx) = channel::bounded(0);
    let ran = Rc::new(Cell::new(false));
    // The other thread sends once the greenlet has run (or, if it never
    // does, after 5 s): the root's wait can end only after the greenlet ran
    // while the root waited, or with `ran` false.
    let (went, go) = std::sync::mpsc::channel();
    let other = {
        let ran = ran.clone();
        spawn(move || {
            greenlet::sleep(ms(5));
            ran.set(true);
            went.send(()).unwrap();
        })
    };
    let sender = thread::spawn(move || {
        let _ = go.recv_timeout(Duration::from_secs(5));
        tx.send(()).unwrap();
    });
    rx.recv().unwrap();
    assert!(ran.get(), "the greenlet did not run while the root waited");
    other.join().unwrap();
    sender.join().unwrap();
}

#[test]
fn capacity_len_and_emptiness_are_reported_on_both_sides() {
    let (tx, rx) = channel::bounded::<u8>(3);
    assert_eq!((tx.capacity(), rx.capacity()), (Some(3), Some(3)));
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!((tx.len(), rx.len()), (2, 2));
    assert!(!tx.is_empty() && !rx.is_full());
    let (tx, rx) = channel::unbounded::<u8>();
    assert_eq!(tx.capacity(), None);
    assert!(rx.is_empty() && !tx.is_full());
}

#[test]
fn the_handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<channel::Sender<Vec<u8>>>();
    check::<channel::Receiver<Vec<u8>>>();
}

#[test]
fn items_left_when_the_last_receiver_goes_are_dropped_at_once() {
    struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    for cap in [None, Some(2)] {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = match cap {
            None => channel::unbounded(),
            Some(cap) => channel::bounded(cap),
        };
        for _ in 0..2 {
            assert!(tx.send(Counted(dropped.clone())).is_ok());
        }
        let rx2 = rx.clone();
        drop(rx);
        assert_eq!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a receiver is left"
        );
        drop(rx2);
        // The sender is still there: the items went with the last receiver.
        assert_eq!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "capacity {cap:?}"
        );
        let refused = tx.send(Counted(dropped.clone()));
        assert!(refused.is_err());
        drop(refused);
        assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}

#[test]
fn a_greenlet_and_a_plain_thread_get_every_reply_whether_it_comes_at_once_or_late() {
    // Each side, having just woken the other, watches for the reply for a
    // moment before it sleeps: quick replies are caught awake, the slower
    // ones (a 1 ms sleep, past the watch) by a real wake-up. A lost wake-up
    // would leave its round trip waiting out the 2 s timeout.
    const ROUND_TRIPS: u64 = 2_000;
    const SLOW_EVERY: u64 = 50;
    let (requests, requests_rx) = channel::unbounded::<u64>();
    let (replies_tx, replies) = channel::unbounded::<u64>();
    let replier = thread::spawn(move || {
        while let Ok(request) = requests_rx.recv_timeout(Duration::from_secs(2)) {
            if request % SLOW_EVERY == 0 {
                thread::sleep(ms(1));
            }
            replies_tx.send(request * 2).unwrap();
        }
    });
    let asked = spawn(move || util::slowest_of_round_trips(ROUND_TRIPS, &requests, &replies));
    let slowest = asked.join().unwrap();
    replier.join().unwrap();
    assert!(
        slowest < Duration::from_secs(1),
        "a round trip took {slowest:?}"
    );
}
