//! The example servers on real loopback sockets, each included here as a
//! module: `file_server`'s bound on the time a request head may take.
//!
//! Every client socket gets a read timeout of [`PATIENCE`], so a bug that
//! would leave it waiting for ever fails the test instead of hanging it.

mod util;

#[path = "../examples/file_server.rs"]
#[allow(dead_code)] // its `main`, argument parsing and demo
mod file_server;

use std::fs;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::net::TcpStream;
use greenlet::server::StreamServer;
use greenlet::{sleep, spawn};
use util::{TempDir, assert_elapsed, ms};

/// How long a test waits for something that should happen at once before it
/// calls it a failure.
const PATIENCE: Duration = Duration::from_secs(5);

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

// ---- file_server ----

/// Serves a directory holding `hello.txt` with the example's handler and
/// `request_timeout`, until the server is stopped.
fn serve_files(request_timeout: Duration) -> (TempDir, StreamServer) {
    let dir = TempDir::new("file-server");
    fs::write(dir.path().join("hello.txt"), "hello, world\n").unwrap();
    let root = file_server::canonical_root(dir.path()).unwrap();
    let server = StreamServer::bind("127.0.0.1:0", move |stream, _| {
        let _ = file_server::handle_with_request_timeout(&stream, &root, request_timeout);
    })
    .unwrap();
    server.start();
    (dir, server)
}

#[test]
fn file_server_answers_408_to_a_request_head_not_complete_in_time() {
    let (_dir, server) = serve_files(ms(500));
    let start = Instant::now();
    let stream = Rc::new(connect(server.local_addr().unwrap()));
    (&*stream).write_all(b"GET / HTTP/1.0\r\n").unwrap();
    // A byte of a header every 100 ms, for up to 5 s: each well within the
    // 500 ms, the head never within it.
    let dribbler = {
        let stream = stream.clone();
        spawn(move || {
            for &byte in b"X-Slowloris: ".iter().chain([b'a'; 37].iter()) {
                sleep(ms(100));
                if (&*stream).write_all(&[byte]).is_err() {
                    return;
                }
            }
        })
    };
    let mut answer = Vec::new();
    (&*stream).read_to_end(&mut answer).unwrap();
    let elapsed = start.elapsed();
    dribbler.kill();
    let _ = dribbler.join();
    drop(stream); // the handler lingers until the client closes
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.0 408 Request Timeout\r\n"),
        "answer: {answer:?}"
    );
    assert_elapsed(elapsed, ms(500), ms(1500));
    server.stop();
}

#[test]
fn file_server_with_a_short_request_timeout_still_serves_a_prompt_request() {
    let (_dir, server) = serve_files(ms(500));
    let mut stream = connect(server.local_addr().unwrap());
    stream
        .write_all(b"GET /hello.txt HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.0 200 OK\r\n"),
        "answer: {answer:?}"
    );
    assert!(
        answer.ends_with("\r\n\r\nhello, world\n"),
        "answer: {answer:?}"
    );
    drop(stream); // the handler lingers until the client closes
    server.stop();
}
