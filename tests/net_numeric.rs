//! Addresses written as numbers are converted on the calling thread: no
//! thread is started for them. Alone in its own test binary, so that no other
//! test starts threads in this process while the threads are counted.

use std::cell::Cell;
use std::fs;
use std::rc::Rc;

use greenlet::net::{TcpListener, TcpStream};
use greenlet::{spawn, yield_now};

/// The threads of this process now.
fn threads() -> usize {
    fs::read_dir("/proc/self/task").unwrap().count()
}

/// Whether a thread of this process has the name `name`.
fn has_thread(name: &str) -> bool {
    fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .any(|task| {
            let comm = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            comm.trim() == name
        })
}

/// Starts the hubs' ticker, the one thread the process gets (once) when a
/// hub with timers or sockets runs slow turns, and waits until it is named.
fn start_the_ticker() {
    let busy = spawn(|| {
        for _ in 0..10 {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(3) {
                std::hint::spin_loop();
            }
            yield_now();
        }
    });
    yield_now(); // one slow turn: the sleep below is armed beside it
    greenlet::sleep(std::time::Duration::from_millis(5));
    busy.join().unwrap();
    let start = std::time::Instant::now();
    while !has_thread("greenlet-ticker") {
        assert!(start.elapsed().as_secs() < 5, "the ticker never started");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_numeric_address_string_starts_no_thread() {
    const CONNECTS: usize = 100;
    // Never accepted on: its backlog (1024) holds every connection.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    start_the_ticker();
    let before = threads();
    // Counts threads at every turn of the hub while the connects run, so a
    // thread that ends before the last connect is seen too.
    let done = Rc::new(Cell::new(false));
    let sampler = spawn({
        let done = done.clone();
        move || {
            let mut most = threads();
            while !done.get() {
                most = most.max(threads());
                yield_now();
            }
            most
        }
    });
    let mut streams = Vec::with_capacity(CONNECTS);
    for _ in 0..CONNECTS {
        streams.push(TcpStream::connect(target.as_str()).unwrap());
        yield_now(); // the sampler's turn
    }
    done.set(true);
    let most = sampler.join().unwrap().max(threads());
    assert_eq!(
        most,
        before,
        "{CONNECTS} connects to {target:?} ran {} more thread(s)",
        most.saturating_sub(before)
    );
}
