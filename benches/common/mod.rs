//! Measurements shared by the benchmark files.

#![allow(dead_code)] // each benchmark file uses a different subset

use std::hint::black_box;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};
use greenlet::queue::Queue;

/// `iters` hand-offs between two OS threads over a pair of mpsc channels
/// (one message each way per round).
pub fn mpsc_ping_pong(iters: u64) -> Duration {
    let rounds = iters.div_ceil(2);
    let (to_peer, peer_rx) = mpsc::channel::<u64>();
    let (to_main, main_rx) = mpsc::channel::<u64>();
    let peer = thread::spawn(move || {
        for v in peer_rx {
            to_main.send(v).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..rounds {
        to_peer.send(i).unwrap();
        black_box(main_rx.recv().unwrap());
    }
    let elapsed = start.elapsed();
    drop(to_peer);
    peer.join().unwrap();
    elapsed
}

/// `iters` switches between two greenlets that do nothing but `yield_now`.
pub fn yield_ping_pong(iters: u64) -> Duration {
    let per_greenlet = iters.div_ceil(2);
    let ping_pong = || {
        greenlet::spawn(move || {
            for _ in 0..per_greenlet {
                greenlet::yield_now();
            }
        })
    };
    let (a, b) = (ping_pong(), ping_pong());
    let start = Instant::now();
    a.join().unwrap();
    b.join().unwrap();
    start.elapsed()
}

/// `iters` queue hand-offs between two greenlets: each item is put into a
/// `Queue` that the other greenlet is parked on, waiting for it (two queues,
/// one each way, so each side alternately produces and consumes). A hand-off
/// is the `put`, the `get` and the switch between them.
pub fn queue_ping_pong(iters: u64) -> Duration {
    let rounds = iters.div_ceil(2);
    let (ping, pong) = (Queue::new(), Queue::new());
    let peer = {
        let (ping, pong) = (ping.clone(), pong.clone());
        greenlet::spawn(move || {
            for _ in 0..rounds {
                let v: u64 = ping.get();
                pong.put(v);
            }
        })
    };
    let main = greenlet::spawn(move || {
        for i in 0..rounds {
            ping.put(i);
            black_box(pong.get());
        }
    });
    let start = Instant::now();
    main.join().unwrap();
    peer.join().unwrap();
    start.elapsed()
}

/// `iters` resume+suspend round trips into a coroutine that does nothing
/// else: corosensei's bare switch, the anchor of every switch figure.
pub fn corosensei_round_trips(iters: u64) -> Duration {
    let stack = DefaultStack::new(greenlet::DEFAULT_STACK_SIZE).unwrap();
    let mut coroutine: Coroutine<(), (), ()> =
        Coroutine::with_stack(stack, |yielder: &Yielder<(), ()>, ()| {
            loop {
                yielder.suspend(());
            }
        });
    coroutine.resume(()); // enters it: its first run, not a switch
    let start = Instant::now();
    for _ in 0..iters {
        black_box(coroutine.resume(()));
    }
    start.elapsed()
    // Dropping the suspended coroutine unwinds its stack, outside the timing.
}
