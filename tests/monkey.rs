//! Monkey patching (feature `hook`): unmodified std code in greenlets.
//!
//! Each test body runs under a watchdog: a hook that is missing or wrong
//! would block the thread instead of parking a greenlet, and the test
//! fails after a bound instead of hanging.

#![cfg(all(feature = "hook", target_os = "linux"))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use greenlet::monkey;

/// Runs `body` on a thread of its own (with patching on) and fails if it
/// takes longer than `limit`.
fn watchdog<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    monkey::patch_all();
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(body());
    });
    match finished.recv_timeout(limit) {
        Ok(value) => value,
        Err(_) => panic!("the test body did not finish within {limit:?} (a hook blocked?)"),
    }
}

#[test]
fn fifty_std_sleeps_in_greenlets_overlap() {
    let elapsed = watchdog(Duration::from_secs(5), || {
        let start = Instant::now();
        let sleepers: Vec<_> = (0..50)
            .map(|_| greenlet::spawn(|| thread::sleep(Duration::from_millis(200))))
            .collect();
        for sleeper in sleepers {
            sleeper.join().unwrap();
        }
        start.elapsed()
    });
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(600),
        "50 sleeps of 200 ms took {elapsed:?}"
    );
}

#[test]
fn a_std_sleep_in_the_root_context_blocks_the_thread_and_runs_no_greenlet() {
    let ran_meanwhile = watchdog(Duration::from_secs(5), || {
        let other = greenlet::spawn(Instant::now);
        let start = Instant::now();
        thread::sleep(Duration::from_millis(100));
        let slept = start.elapsed();
        let ran_at = other.join().unwrap();
        (slept, ran_at > start + Duration::from_millis(100))
    });
    assert!(ran_meanwhile.0 >= Duration::from_millis(100));
    assert!(
        ran_meanwhile.1,
        "the greenlet ran during the root's std sleep"
    );
}

#[test]
fn a_std_echo_server_and_two_hundred_std_clients_share_one_thread_with_a_ticker() {
    let (echoed, ticks) = watchdog(Duration::from_secs(8), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = greenlet::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..200 {
                let (mut stream, _) = listener.accept().unwrap();
                handlers.push(greenlet::spawn(move || {
                    let mut buf = [0; 64];
                    loop {
                        let n = stream.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n]).unwrap();
                    }
                }));
            }
            for handler in handlers {
                handler.join().unwrap();
            }
        });
        let ticker = greenlet::spawn(|| {
            let start = Instant::now();
            let mut ticks = 0;
            while start.elapsed() < Duration::from_millis(300) {
                thread::sleep(Duration::from_millis(10));
                ticks += 1;
            }
            ticks
        });
        let clients: Vec<_> = (0..200)
            .map(|i| {
                greenlet::spawn(move || {
                    let mut stream = TcpStream::connect(addr).unwrap();
                    let mut echoed = 0;
                    for round in 0..5 {
                        let message = format!("client {i} round {round}\n");
                        stream.write_all(message.as_bytes()).unwrap();
                        let mut back = vec![0; message.len()];
                        stream.read_exact(&mut back).unwrap();
                        assert_eq!(back, message.as_bytes());
                        echoed += 1;
                    }
                    echoed
                })
            })
            .collect();
        let echoed: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        server.join().unwrap();
        (echoed, ticker.join().unwrap())
    });
    assert_eq!(echoed, 200 * 5);
    // 30 ticks of 10 ms fit in 300 ms; a blocked hub would give far fewer.
    assert!(ticks >= 15, "the ticker ticked {ticks} times in 300 ms");
}
