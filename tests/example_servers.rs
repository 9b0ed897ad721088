//! The example servers on real loopback sockets, each included here as a
//! module: `file_server`'s bound on the time a request head may take, and
//! `chat_server` passing a long paste to every member while still dropping
//! one that never reads.
//!
//! Every client socket gets a read timeout of [`PATIENCE`], so a bug that
//! would leave it waiting for ever fails the test instead of hanging it.

mod util;

#[path = "../examples/file_server.rs"]
#[allow(dead_code)] // its `main`, argument parsing and demo
mod file_server;

#[path = "../examples/chat_server.rs"]
#[allow(dead_code)] // its `main`, argument parsing and demo
mod chat_server;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
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

// ---- chat_server ----

/// A chat client that has answered the name prompt.
struct Member {
    name: &'static str,
    reader: BufReader<TcpStream>,
}

impl Member {
    /// Connects as `name` and reads up to the server's greeting.
    fn join(addr: SocketAddr, name: &'static str) -> Member {
        let mut member = Member {
            name,
            reader: BufReader::new(connect(addr)),
        };
        member.expect("Welcome! Your name? (Enter for a guest name)");
        writeln!(member.reader.get_mut(), "{name}").unwrap();
        let greeting = member.line();
        assert!(
            greeting.starts_with(&format!("* you are {name};")),
            "{name} was greeted with {greeting:?}"
        );
        member
    }

    /// The next line, without its line ending; fails at the end of the
    /// stream or after [`PATIENCE`] without one.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{} read no line: {e}", self.name));
        assert!(n > 0, "{} got the end of the stream", self.name);
        line.trim_end_matches('\n').to_owned()
    }

    #[track_caller]
    fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "{} got another line", self.name);
    }
}

#[test]
fn chat_server_delivers_a_thousand_line_paste_to_every_member() {
    let server = chat_server::chat_server("127.0.0.1:0")
        .unwrap()
        .stop_timeout(Duration::from_secs(1));
    server.start();
    let addr = server.local_addr().unwrap();
    let mut alice = Member::join(addr, "alice");
    let mut bob = Member::join(addr, "bob");
    alice.expect("* bob joined");
    let mut carol = Member::join(addr, "carol");
    alice.expect("* carol joined");
    bob.expect("* carol joined");

    let paste: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    alice.reader.get_mut().write_all(paste.as_bytes()).unwrap();
    for member in [&mut bob, &mut carol] {
        for i in 0..1000 {
            let line = member.line();
            assert_eq!(
                line,
                format!("alice: line {i}"),
                "{} got another line",
                member.name
            );
        }
    }
    drop((alice, bob, carol));
    server.stop();
}

#[test]
fn chat_server_still_drops_a_member_that_never_reads_and_the_others_carry_on() {
    let server = chat_server::chat_server("127.0.0.1:0")
        .unwrap()
        .stop_timeout(Duration::from_secs(1));
    server.start();
    let addr = server.local_addr().unwrap();
    let mut alice = Member::join(addr, "alice");
    let mut bob = Member::join(addr, "bob");
    alice.expect("* bob joined");
    let sloth = connect(addr);
    (&sloth).write_all(b"sloth\n").unwrap(); // and never reads
    alice.expect("* sloth joined");
    bob.expect("* sloth joined");

    // Batches of long lines until sloth's socket buffers and outbox are
    // full; bob reads each batch.
    let text = "z".repeat(1000);
    let batch: String = (0..100).map(|_| format!("{text}\n")).collect();
    let mut sloth_left = false;
    for _ in 0..1000 {
        alice.reader.get_mut().write_all(batch.as_bytes()).unwrap();
        let mut got = 0;
        while got < 100 {
            let line = bob.line();
            if line == "* sloth left" {
                sloth_left = true;
            } else {
                assert_eq!(line, format!("alice: {text}"), "bob got another line");
                got += 1;
            }
        }
        if sloth_left {
            break;
        }
    }
    assert!(sloth_left, "sloth was never dropped");
    alice.expect("* sloth left");
    writeln!(alice.reader.get_mut(), "still here?").unwrap();
    bob.expect("alice: still here?");
    drop((alice, bob, sloth));
    server.stop();
}
