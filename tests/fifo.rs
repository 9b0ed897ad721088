//! Waiters are served first come, first served, even after one of them left
//! the line (by timeout) from the middle.

mod util;

use std::io::{Read, Write};

use greenlet::net::{TcpListener, TcpStream};
use util::{LONG, Log, ms};

/// How long a test waits for what must happen soon before it fails.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Three greenlets join one that ends once released; `leaver` gives up
/// after 10 ms, and the target is released only after it has.
fn joiners_wake_order(leaver: &'static str) -> Vec<String> {
    let release = greenlet::event::Event::new();
    let target = {
        let release = release.clone();
        std::rc::Rc::new(greenlet::spawn(move || release.wait()))
    };
    let log = Log::default();
    let joiners: Vec<_> = ["first", "middle", "last"]
        .into_iter()
        .map(|name| {
            let (target, log) = (target.clone(), log.clone());
            greenlet::spawn(move || {
                let patience = if name == leaver { ms(10) } else { LONG };
                let finished = target.wait_timeout(patience);
                log.push(format!("{name} {finished}"));
            })
        })
        .collect();
    util::wait_until(PATIENCE, || !log.entries().is_empty()); // the leaver left
    release.set();
    greenlet::joinall(joiners);
    log.entries()
}

#[test]
fn three_joiners_are_woken_in_arrival_order_after_the_middle_one_left_by_timeout() {
    assert_eq!(
        joiners_wake_order("middle"),
        ["middle false", "first true", "last true"]
    );
}

#[test]
fn joiners_are_woken_in_arrival_order_after_the_first_one_left_by_timeout() {
    assert_eq!(
        joiners_wake_order("first"),
        ["first false", "middle true", "last true"]
    );
}

/// Three greenlets read one byte each from one socket; `leaver` gives up
/// after 10 ms. Returns what each saw, in the order they saw it.
fn readers_wake_order(leaver: &'static str) -> Vec<String> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let server = std::rc::Rc::new(server);
    let log = Log::default();
    let readers: Vec<_> = ["first", "middle", "last"]
        .into_iter()
        .map(|name| {
            let (server, log) = (server.clone(), log.clone());
            greenlet::spawn(move || {
                let mut byte = [0; 1];
                if name == leaver {
                    let outcome = greenlet::with_timeout(ms(10), || (&*server).read(&mut byte));
                    log.push(format!("{name} timed out {}", outcome.is_err()));
                } else {
                    let n = (&*server).read(&mut byte).unwrap();
                    log.push(format!(
                        "{name} read {}",
                        String::from_utf8_lossy(&byte[..n])
                    ));
                }
            })
        })
        .collect();
    util::wait_until(PATIENCE, || !log.entries().is_empty()); // the leaver left
    // One byte at a time, so each wake-up serves exactly one reader.
    client.write_all(b"a").unwrap();
    greenlet::sleep(ms(20));
    client.write_all(b"b").unwrap();
    greenlet::joinall(readers);
    log.entries()
}

#[test]
fn three_readers_of_one_socket_are_woken_in_arrival_order_after_the_middle_one_left_by_timeout() {
    assert_eq!(
        readers_wake_order("middle"),
        ["middle timed out true", "first read a", "last read b"]
    );
}

#[test]
fn readers_of_one_socket_are_woken_in_arrival_order_after_the_first_one_left_by_timeout() {
    assert_eq!(
        readers_wake_order("first"),
        ["first timed out true", "middle read a", "last read b"]
    );
}
