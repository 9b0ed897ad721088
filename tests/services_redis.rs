//! Monkey patching against a real Redis server, through the `redis` crate's
//! sync API (written on `std::net`). Needs a server: `.ci/run` starts a
//! throwaway one and passes its URL in `GREENLET_REDIS_URL`; by hand:
//!
//! ```text
//! redis-server --port 16379 --save '' --appendonly no &
//! GREENLET_REDIS_URL=redis://127.0.0.1:16379/ cargo test --features hook,services --test services_redis
//! ```
//!
//! Each test body runs under a watchdog, so a missing hook fails the test
//! instead of hanging it.

#![cfg(all(feature = "hook", feature = "services", target_os = "linux"))]

use std::thread;
use std::time::{Duration, Instant};

mod util;

use util::watchdog;

fn url() -> String {
    std::env::var("GREENLET_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "GREENLET_REDIS_URL is not set: these tests need a Redis server (see the file's docs)"
        )
    })
}

fn connect() -> redis::Connection {
    redis::Client::open(url().as_str())
        .and_then(|client| client.get_connection())
        .unwrap_or_else(|e| panic!("cannot connect to Redis at {}: {e}", url()))
}

/// A key no other test run uses.
fn key(name: &str) -> String {
    format!("greenlet-test:{}:{name}", std::process::id())
}

#[test]
fn twenty_blpops_on_connections_of_one_thread_are_released_together() {
    let (popped, elapsed) = watchdog(Duration::from_secs(8), || {
        let start = Instant::now();
        let waiters: Vec<_> = (0..20)
            .map(|i| {
                greenlet::spawn(move || {
                    let mut con = connect();
                    let got: Option<(String, String)> = redis::cmd("BLPOP")
                        .arg(key(&format!("blpop-{i}")))
                        .arg(5)
                        .query(&mut con)
                        .unwrap();
                    got.map(|(_, value)| value)
                })
            })
            .collect();
        let producer = greenlet::spawn(|| {
            let mut con = connect();
            thread::sleep(Duration::from_millis(300));
            for i in 0..20 {
                redis::cmd("RPUSH")
                    .arg(key(&format!("blpop-{i}")))
                    .arg(format!("item {i}"))
                    .query::<i64>(&mut con)
                    .unwrap();
            }
        });
        let popped: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        producer.join().unwrap();
        (popped, start.elapsed())
    });
    for (i, value) in popped.iter().enumerate() {
        assert_eq!(value.as_deref(), Some(format!("item {i}").as_str()));
    }
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    // One after another the BLPOPs would block the thread: 20 x 300 ms.
    assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}");
}

#[test]
fn a_killed_greenlets_connection_is_closed_on_the_server() {
    let (killed, gone) = watchdog(Duration::from_secs(8), || {
        let name = format!("greenlet-victim-{}", std::process::id());
        let victim_name = name.clone();
        let victim = greenlet::spawn(move || {
            let mut con = connect();
            // The kill may come while this waits for SETNAME's reply (the
            // server lists the name before the reply arrives): then this
            // fails with ECANCELED, and so does the BLPOP.
            let _ = redis::cmd("CLIENT")
                .arg("SETNAME")
                .arg(&victim_name)
                .query::<()>(&mut con);
            // Blocks until killed.
            let _ = redis::cmd("BLPOP")
                .arg(key("never"))
                .arg(0)
                .query::<Option<(String, String)>>(&mut con);
        });
        let mut observer = connect();
        let listed = |observer: &mut redis::Connection| {
            let clients: String = redis::cmd("CLIENT").arg("LIST").query(observer).unwrap();
            clients.contains(&format!("name={name} "))
        };
        // Wait until the victim is connected and named.
        let start = Instant::now();
        while !listed(&mut observer) {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "the victim never connected"
            );
            greenlet::sleep(Duration::from_millis(10));
        }
        victim.kill();
        let killed = matches!(victim.join(), Err(greenlet::JoinError::Killed));
        let start = Instant::now();
        let mut gone = false;
        while start.elapsed() < Duration::from_secs(3) {
            if !listed(&mut observer) {
                gone = true;
                break;
            }
            greenlet::sleep(Duration::from_millis(10));
        }
        (killed, gone)
    });
    assert!(killed, "join reports the kill");
    assert!(
        gone,
        "the server still lists the killed greenlet's connection"
    );
}

#[test]
fn ten_thousand_incrs_from_a_hundred_greenlets_lose_nothing() {
    let total = watchdog(Duration::from_secs(8), || {
        let counter = key("incr");
        let mut con = connect();
        redis::cmd("DEL")
            .arg(&counter)
            .query::<i64>(&mut con)
            .unwrap();
        let workers: Vec<_> = (0..100)
            .map(|_| {
                let counter = counter.clone();
                greenlet::spawn(move || {
                    let mut con = connect();
                    for _ in 0..100 {
                        redis::cmd("INCR")
                            .arg(&counter)
                            .query::<i64>(&mut con)
                            .unwrap();
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let total: i64 = redis::cmd("GET").arg(&counter).query(&mut con).unwrap();
        redis::cmd("DEL")
            .arg(&counter)
            .query::<i64>(&mut con)
            .unwrap();
        total
    });
    assert_eq!(total, 10_000);
}
