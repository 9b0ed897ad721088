//! `greenlet::hub`: handles to other threads' hubs, `spawn_thread`, and
//! greenlets spawned, joined and killed across threads.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use greenlet::{JoinError, channel, hub};
use util::{LONG, ms};

/// Whether this process has a thread named `name`.
fn thread_named(name: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .any(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
}

/// Waits (this thread blocked, at most `limit`) until `done()`.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        thread::sleep(ms(2));
    }
    true
}

/// Sets a flag when dropped: a greenlet's destructors ran.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_plain_thread_spawns_on_a_hub_thread_and_joins() {
    let hub = hub::spawn_thread("plain-to-hub").unwrap();
    let ran_on = thread::spawn(move || {
        let g = hub.spawn(|| thread::current().name().map(String::from));
        g.join().unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(ran_on.as_deref(), Some("plain-to-hub"));
}

#[test]
fn a_greenlet_of_one_hub_spawns_on_another_and_joins_without_blocking_its_own() {
    let other = hub::spawn_thread("other-hub").unwrap();
    // The remote greenlet answers only once this hub's ticker has ticked
    // five times: the join can end only if the ticker ran meanwhile.
    let (ticked, ticks_done) = channel::bounded::<()>(1);
    let ticks = std::rc::Rc::new(std::cell::Cell::new(0));
    let ticker = {
        let ticks = ticks.clone();
        greenlet::spawn(move || {
            for _ in 0..5 {
                greenlet::sleep(ms(5));
                ticks.set(ticks.get() + 1);
            }
            ticked.send(()).unwrap();
        })
    };
    let joiner = greenlet::spawn(move || {
        let g = other.spawn(move || {
            ticks_done.recv().unwrap();
            "slow answer"
        });
        g.join().unwrap()
    });
    assert_eq!(joiner.join().unwrap(), "slow answer");
    // The join parked the joining greenlet: this hub's other greenlet ran.
    assert_eq!(ticks.get(), 5);
    ticker.join().unwrap();
}

#[test]
fn a_remote_greenlet_that_panics_joins_with_its_payload() {
    let hub = hub::spawn_thread("panics").unwrap();
    let g = hub.spawn(|| -> u32 { panic!("remote boom") });
    match g.join() {
        Err(JoinError::Panicked(payload)) => {
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"remote boom"))
        }
        other => panic!("expected the panic, got {other:?}"),
    }
}

#[test]
fn a_remote_kill_unwinds_the_greenlet_where_it_runs() {
    let hub = hub::spawn_thread("kill-target").unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let (started, started_rx) = channel::bounded(1);
    let g = {
        let dropped = dropped.clone();
        hub.spawn(move || {
            let _guard = SetOnDrop(dropped);
            started.send(()).unwrap();
            greenlet::sleep(LONG);
        })
    };
    started_rx.recv().unwrap();
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(
        dropped.load(Ordering::SeqCst),
        "the greenlet's destructors did not run"
    );
}

#[test]
fn kill_from_a_plain_thread_after_the_greenlet_finished_changes_nothing() {
    let hub = hub::spawn_thread("finished-kill").unwrap();
    let g = hub.spawn(|| 5);
    assert!(eventually(Duration::from_secs(5), || g.is_finished()));
    g.kill();
    assert_eq!(g.join().unwrap(), 5);
}

#[test]
fn spawning_on_this_threads_own_handle_is_an_ordinary_spawn() {
    let here = hub::current();
    let g = here.spawn(|| thread::current().id());
    // Started already: it runs as soon as the root waits.
    assert_eq!(g.join().unwrap(), thread::current().id());
}

#[test]
fn another_thread_spawns_on_this_threads_hub_while_the_root_waits_on_a_channel() {
    let here = hub::current();
    let (tx, rx) = channel::bounded(1);
    let sender = thread::spawn(move || {
        let g = here.spawn(|| thread::current().name().map(String::from));
        tx.send(g.join().unwrap()).unwrap();
    });
    let name = rx.recv().unwrap();
    assert_eq!(name, thread::current().name().map(String::from));
    sender.join().unwrap();
}

#[test]
fn a_hub_thread_whose_handles_are_all_dropped_ends_its_greenlets_then_exits() {
    let name = "drop-handles";
    let hub = hub::spawn_thread(name).unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let finished = finished.clone();
        // Detached: the handle to each greenlet is dropped at once.
        drop(hub.spawn(move || {
            greenlet::sleep(ms(40));
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let clone = hub.clone();
    assert!(thread_named(name));
    drop(hub);
    thread::sleep(ms(10));
    assert!(thread_named(name), "a clone of the handle is still alive");
    drop(clone);
    assert!(
        eventually(Duration::from_secs(5), || !thread_named(name)),
        "the thread did not exit"
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        3,
        "it exited before its greenlets ended"
    );
}

#[test]
fn a_hub_thread_left_with_greenlets_that_can_never_wake_unwinds_them_and_exits() {
    let name = "stuck-greenlet";
    let hub = hub::spawn_thread(name).unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let (started, started_rx) = channel::bounded(1);
    {
        let dropped = dropped.clone();
        drop(hub.spawn(move || {
            let _guard = SetOnDrop(dropped);
            let never = greenlet::event::Event::new();
            started.send(()).unwrap();
            never.wait(); // nothing on its hub will ever set it
        }));
    }
    started_rx.recv().unwrap();
    drop(hub);
    assert!(
        eventually(Duration::from_secs(5), || !thread_named(name)),
        "the thread did not exit"
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the stuck greenlet was not unwound"
    );
}

#[test]
fn work_handed_to_a_hub_whose_thread_has_exited_joins_as_killed() {
    // An ordinary thread's hub lives as long as its thread, handles or not.
    let gone = thread::spawn(|| {
        greenlet::yield_now(); // the thread has a hub
        hub::current()
    })
    .join()
    .unwrap();
    let g = gone.spawn(|| 1);
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn handles_and_remote_greenlets_are_send() {
    fn check<T: Send>() {}
    check::<hub::Handle>();
    check::<greenlet::RemoteGreenlet<String>>();
    fn check_sync<T: Sync>() {}
    check_sync::<hub::Handle>();
}

#[test]
fn greenlets_on_two_hubs_get_every_reply_whether_it_comes_at_once_or_after_the_hub_slept() {
    // A hub that has just sent to another hub watches for the reply for a
    // moment before it sleeps in its poller: replies that come at once are
    // taken awake, the slower ones (a 1 ms sleep, far past that moment) by
    // a wake-up of the sleeping poller. Neither may be slept through: a
    // lost wake-up would leave its round trip waiting out the 2 s timeout,
    // where every other round trip takes microseconds (milliseconds at
    // worst, on a slow machine or under valgrind).
    const ROUND_TRIPS: u64 = 2_000;
    const SLOW_EVERY: u64 = 50;
    let (requests, requests_rx) = channel::unbounded::<u64>();
    let (replies_tx, replies) = channel::unbounded::<u64>();
    let replier = hub::spawn_thread("replier").unwrap();
    let requester = hub::spawn_thread("requester").unwrap();
    let served = replier.spawn(move || {
        for request in requests_rx.iter() {
            if request % SLOW_EVERY == 0 {
                greenlet::sleep(ms(1));
            }
            replies_tx.send(request * 2).unwrap();
        }
    });
    let asked =
        requester.spawn(move || util::slowest_of_round_trips(ROUND_TRIPS, &requests, &replies));
    let slowest = asked.join().unwrap();
    served.join().unwrap();
    assert!(
        slowest < Duration::from_secs(1),
        "a round trip took {slowest:?}"
    );
}
