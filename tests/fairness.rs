//! A busy hub still checks its timers and sockets by elapsed time, not only
//! every so many turns: a greenlet that computes for milliseconds between its
//! switches delays a sleeper by about one such stretch, not by dozens.
//!
//! The delays are counted in the busy greenlet's stretches, not in
//! milliseconds: on a loaded machine the scheduler may hold the hub's thread
//! off its core for a whole time slice (a 1 ms sleep then takes ~8 ms), but a
//! stretch is 2 ms of wall time however often the thread is preempted, so the
//! count says what the hub did.

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

/// A greenlet that computes 2 ms, yields, and again, until `stop` is set;
/// `stretches` counts the stretches it has finished.
fn busy_neighbour(stop: &Rc<Cell<bool>>, stretches: &Rc<Cell<u32>>) -> greenlet::Greenlet<()> {
    let stop = stop.clone();
    let stretches = stretches.clone();
    greenlet::spawn(move || {
        while !stop.get() {
            compute(ms(2));
            stretches.set(stretches.get() + 1);
            greenlet::yield_now();
        }
    })
}

/// How many of the neighbour's stretches `wait` spanned, and its wall time.
fn spanned(stretches: &Cell<u32>, wait: impl FnOnce()) -> (u32, Duration) {
    let (before, start) = (stretches.get(), Instant::now());
    wait();
    (stretches.get() - before, start.elapsed())
}

/// The median of `samples`.
fn median<T: Ord + Copy>(samples: &[T]) -> T {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

#[test]
fn a_one_ms_sleep_beside_a_greenlet_busy_two_ms_between_yields_spans_a_few_of_its_stretches_not_sixty()
 {
    let _turn = take_turn();
    let stop = Rc::new(Cell::new(false));
    let stretches = Rc::new(Cell::new(0));
    let busy = busy_neighbour(&stop, &stretches);
    greenlet::yield_now();
    let samples: Vec<(u32, Duration)> = (0..15)
        .map(|_| spanned(&stretches, || greenlet::sleep(ms(1))))
        .collect();
    stop.set(true);
    busy.join().unwrap();
    let spans: Vec<u32> = samples.iter().map(|&(n, _)| n).collect();
    // Two: the stretch running when the sleep is due, and the one the
    // neighbour queued before the sleeper woke (three if a tick comes late).
    // Without time-based checks one sleep spanned 61 stretches (122 ms).
    assert!(
        median(&spans) <= 3,
        "(stretches, time) of each sleep: {samples:?}"
    );
    assert!(
        spans.iter().all(|&n| n < 30),
        "(stretches, time) of each sleep: {samples:?}"
    );
}

#[test]
fn a_socket_read_beside_a_greenlet_busy_two_ms_between_yields_spans_a_few_of_its_stretches_not_sixty()
 {
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
    let stretches = Rc::new(Cell::new(0));
    let busy = busy_neighbour(&stop, &stretches);
    greenlet::yield_now();
    let samples: Vec<(u32, Duration)> = (0..15)
        .map(|_| {
            spanned(&stretches, || {
                to_writer.send(()).unwrap();
                let mut byte = [0; 1];
                assert_eq!(client.read(&mut byte).unwrap(), 1);
            })
        })
        .collect();
    stop.set(true);
    busy.join().unwrap();
    drop(to_writer);
    writer.join().unwrap();
    let spans: Vec<u32> = samples.iter().map(|&(n, _)| n).collect();
    assert!(
        median(&spans) <= 3,
        "(stretches, time) of each read: {samples:?}"
    );
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
            // Stalls: a millisecond or more between two turns, which only the
            // OS taking the thread off its core makes (a turn here takes
            // microseconds).
            let last_turn = Rc::new(Cell::new(start));
            let stalls = Rc::new(Cell::new(0u32));
            let workers: Vec<_> = (0..10)
                .map(|_| {
                    let (last_turn, stalls) = (last_turn.clone(), stalls.clone());
                    greenlet::spawn(move || {
                        loop {
                            let now = Instant::now();
                            if now - last_turn.replace(now) >= ms(1) {
                                stalls.set(stalls.get() + 1);
                            }
                            if now - start >= ms(600) {
                                break;
                            }
                            // A timed wait that ends at once, as a server's
                            // per-request timeout does, between quick yields.
                            let _ = greenlet::with_timeout(ms(50), greenlet::yield_now);
                        }
                    })
                })
                .collect();
            greenlet::joinall(workers);
            // Kept running, it would have woken ~600 times. A stalled turn
            // looks slow to the hub, which may start the ticker for ~100
            // ticks: on a busy machine (another process sharing the core)
            // stalls come every few milliseconds and the bound grows with
            // them; on a quiet one there are none or a few.
            let wake_ups = wake_ups_of("greenlet-ticker").unwrap_or(0);
            let stalls = stalls.get();
            let allowed = 300 + 100 * u64::from(stalls);
            assert!(
                wake_ups < allowed,
                "the ticker woke {wake_ups} times, with {stalls} stalls"
            );
        },
    );
}
