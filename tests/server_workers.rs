//! `StreamServer::bind_workers` and `TcpListener::bind_reuseport`: a port
//! served by a hub on each of several threads.
#![cfg(target_os = "linux")]

mod util;

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenlet::net::{TcpListener, TcpStream};
use greenlet::server::StreamServer;
use util::ms;

/// A server whose handlers answer with their worker thread's name.
fn naming_server(workers: usize) -> StreamServer {
    StreamServer::bind_workers("127.0.0.1:0", workers, || {
        let name = std::thread::current().name().unwrap().to_string();
        move |mut stream: TcpStream, _| {
            let _ = stream.write_all(name.as_bytes());
        }
    })
    .unwrap()
}

fn ask(addr: std::net::SocketAddr) -> String {
    let mut reply = String::new();
    TcpStream::connect(addr)
        .unwrap()
        .read_to_string(&mut reply)
        .unwrap();
    reply
}

#[test]
fn two_workers_serve_a_thousand_connections_and_both_serve_some() {
    let server = naming_server(2);
    server.start();
    let addr = server.local_addr().unwrap();
    let clients: Vec<_> = (0..20)
        .map(|_| greenlet::spawn(move || (0..50).map(|_| ask(addr)).collect::<Vec<_>>()))
        .collect();
    let mut served: HashMap<String, usize> = HashMap::new();
    for client in greenlet::joinall(clients) {
        for worker in client.unwrap() {
            *served.entry(worker).or_default() += 1;
        }
    }
    assert_eq!(served.values().sum::<usize>(), 1000);
    assert_eq!(served.len(), 2, "served by {served:?}");
    assert!(
        served
            .keys()
            .all(|name| name.starts_with("StreamServer worker "))
    );
    server.stop();
}

#[test]
fn stop_stops_every_worker_and_the_port_refuses_connections() {
    let server = naming_server(3);
    server.start();
    let addr = server.local_addr().unwrap();
    assert!(!ask(addr).is_empty());
    server.stop();
    let refused = TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    server.stop(); // a second stop returns at once
}

#[test]
fn serve_forever_returns_once_another_greenlet_stops_the_workers() {
    let server = Rc::new(naming_server(2));
    let addr = server.local_addr().unwrap();
    let stopper = {
        let server = server.clone();
        greenlet::spawn(move || {
            let reply = ask(addr);
            server.stop();
            reply
        })
    };
    server.serve_forever();
    assert!(stopper.join().unwrap().starts_with("StreamServer worker "));
}

#[test]
fn each_worker_makes_its_own_handler_on_its_own_thread() {
    let made = Arc::new(AtomicUsize::new(0));
    let server = {
        let made = made.clone();
        StreamServer::bind_workers("127.0.0.1:0", 2, move || {
            made.fetch_add(1, Ordering::SeqCst);
            // Not `Send`: the handler stays on its worker's thread.
            let count = Rc::new(Cell::new(0u32));
            move |mut stream: TcpStream, _| {
                count.set(count.get() + 1);
                let _ = write!(stream, "{}", count.get());
            }
        })
        .unwrap()
    };
    server.start();
    let addr = server.local_addr().unwrap();
    let replies: Vec<u32> = (0..10).map(|_| ask(addr).parse().unwrap()).collect();
    // Each worker counts its own connections: the counts add up to 10.
    let mut per_worker: Vec<u32> = Vec::new();
    for reply in replies {
        if reply == 1 {
            per_worker.push(1);
        } else {
            let last = per_worker.iter_mut().rev().find(|n| **n == reply - 1);
            *last.expect("a count that did not go up by one") = reply;
        }
    }
    assert_eq!(per_worker.iter().sum::<u32>(), 10);
    assert_eq!(made.load(Ordering::SeqCst), 2);
    server.stop();
}

#[test]
fn max_connections_applies_to_each_worker() {
    let (release, released) = greenlet::channel::unbounded::<()>();
    let server = StreamServer::bind_workers("127.0.0.1:0", 2, move || {
        let released = released.clone();
        move |mut stream: TcpStream, _| {
            let _ = stream.write_all(b"in");
            let _ = released.recv(); // hold the connection until released
        }
    })
    .unwrap()
    .max_connections(1);
    server.start();
    let addr = server.local_addr().unwrap();
    // Open connections until two are being served: one per worker.
    let mut held = Vec::new();
    while server.connections() < 2 && held.len() < 64 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(ms(50))).unwrap();
        let mut greeting = [0; 2];
        let served = stream.read_exact(&mut greeting).is_ok();
        held.push((stream, served));
    }
    greenlet::sleep(ms(50));
    assert_eq!(server.connections(), 2, "one per worker, at most");
    assert_eq!(held.iter().filter(|(_, served)| *served).count(), 2);
    drop(release); // the handlers end
    drop(held);
    server.stop();
}

#[test]
fn two_reuseport_listeners_share_a_port() {
    let first = TcpListener::bind_reuseport("127.0.0.1:0").unwrap();
    let addr = first.local_addr().unwrap();
    let second = TcpListener::bind_reuseport(addr).unwrap();
    assert_eq!(second.local_addr().unwrap(), addr);
    // A plain listener may not join them.
    assert!(TcpListener::bind(addr).is_err());
    drop(first);
    let client = greenlet::spawn(move || TcpStream::connect(addr).map(drop));
    let accepted = greenlet::with_timeout(Duration::from_secs(5), || second.accept());
    assert!(matches!(accepted, Ok(Ok(_))));
    client.join().unwrap().unwrap();
}
