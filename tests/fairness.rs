//! A busy hub still checks its timers and sockets by elapsed time, not only
//! every so many turns: a greenlet that computes for milliseconds between its
//! switches delays a sleeper by about one such stretch, not by dozens.

mod util;

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::ms;

/// The tests take turns: each keeps a core busy, and on a small machine two
/// at once would starve the ticker thread they depend on.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Spins the CPU for `d` without switching.
fn compute(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A greenlet that computes 2 ms, yields, and again, until `stop` is set.
fn busy_neighbour(stop: &Rc<Cell<bool>>) -> greenlet::Greenlet<()> {
    let stop = stop.clone();
    greenlet::spawn(move || {
        while !stop.get() {
            compute(ms(2));
            greenlet::yield_now();
        }
    })
}

/// The median of `samples`.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
fn a_one_ms_sleep_beside_a_greenlet_busy_two_ms_between_yields_returns_within_five_ms() {
    let _turn = take_turn();
    let stop = Rc::new(Cell::new(false));
    let busy = busy_neighbour(&stop);
    greenlet::yield_now();
    let samples: Vec<Duration> = (0..15)
        .map(|_| {
            let start = Instant::now();
            greenlet::sleep(ms(1));
            start.elapsed()
        })
        .collect();
    stop.set(true);
    busy.join().unwrap();
    let worst = *samples.iter().max().unwrap();
    // Without time-based checks one sleep took 61 busy turns: 122 ms.
    assert!(median(samples.clone()) < ms(5), "sleeps took {samples:?}");
    assert!(worst < ms(60), "sleeps took {samples:?}");
}

#[test]
fn a_socket_read_beside_a_greenlet_busy_two_ms_between_yields_wakes_within_five_ms() {
    let _turn = take_turn();
    let listener = greenlet::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = greenlet::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let server = listener.accept().unwrap().0.into_std().unwrap();
    // The writer is another OS thread, so the data arrives while the hub is busy.
    let (to_writer, writes) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut server = server;
        for () in writes {
            server.write_all(b"x").unwrap();
        }
    });
    let stop = Rc::new(Cell::new(false));
    let busy = busy_neighbour(&stop);
    greenlet::yield_now();
    let samples: Vec<Duration> = (0..15)
        .map(|_| {
            let start = Instant::now();
            to_writer.send(()).unwrap();
            let mut byte = [0; 1];
            assert_eq!(client.read(&mut byte).unwrap(), 1);
            start.elapsed()
        })
        .collect();
    stop.set(true);
    busy.join().unwrap();
    drop(to_writer);
    writer.join().unwrap();
    assert!(median(samples.clone()) < ms(5), "reads took {samples:?}");
}

/// How many times the thread named `name` has woken (its voluntary context
/// switches), if this process has one.
fn wake_ups_of(name: &str) -> Option<u64> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .find(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            comm.trim() == name
        })
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap();
            status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0)
        })
}

#[test]
fn fast_turns_that_arm_timers_all_the_time_do_not_keep_the_ticker_running() {
    let _turn = take_turn();
    // In a child process: the ticker is one thread for the whole process.
    util::child::run_scenario(
        "fast_turns_that_arm_timers_all_the_time_do_not_keep_the_ticker_running",
        &[],
        || {
            let start = Instant::now();
            let workers: Vec<_> = (0..10)
                .map(|_| {
                    greenlet::spawn(move || {
                        while start.elapsed() < ms(600) {
                            // A timed wait that ends at once, as a server's
                            // per-request timeout does, between quick yields.
                            let _ = greenlet::with_timeout(ms(50), greenlet::yield_now);
                        }
                    })
                })
                .collect();
            greenlet::joinall(workers);
            // Kept running, it would have woken ~600 times; a stray start
            // (a preempted turn looks slow) parks it again after ~100.
            let wake_ups = wake_ups_of("greenlet-ticker").unwrap_or(0);
            assert!(wake_ups < 300, "the ticker woke {wake_ups} times");
        },
    );
}
