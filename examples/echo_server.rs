//! SEEDS.md row 12, the server half: a TCP echo server with one greenlet per
//! connection, written as if each connection had a thread of its own.
//!
//! The accept loop runs in `main`; each accepted connection gets a greenlet
//! that reads into a buffer and writes back what it read, until the peer
//! closes. A read or write that would block parks only that greenlet, so
//! thousands of connections share the one thread. Run `echo_client` against
//! it to measure round trips (`benches/echo.rs` does so beside tokio and a
//! thread-per-connection server).
//!
//! Run: `cargo run --release --example echo_server -- [--addr HOST:PORT]
//! [--stack private|shared]` (`RUST_LOG=debug` logs each connection).
//!
//! `--stack` pins the kind of stack each connection's greenlet runs on
//! (without it the hub chooses: private stacks for the first 256
//! connections, shared ones beyond). The buffer is on the heap,
//! so a shared-stack greenlet copies only its few hundred bytes of frames
//! at each switch, not 16 KiB of buffer.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::time::Duration;

use greenlet::StackKind;
use greenlet::net::{TcpListener, TcpStream};

const USAGE: &str = "\
usage: cargo run --release --example echo_server -- [--addr HOST:PORT] [--stack KIND]

  --addr HOST:PORT   the address to listen on (default 127.0.0.1:7000;
                     port 0 picks a free one, printed at start-up)
  --stack KIND       `private` or `shared`: the stack kind of each
                     connection's greenlet (default: the hub's choice)";

/// Parses `--addr` and `--stack`; prints `--help`, or rejects anything else
/// with exit code 2.
fn parse_args() -> (String, Option<StackKind>) {
    let mut addr = String::from("127.0.0.1:7000");
    let mut stack = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        match name.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--addr" => match inline.or_else(|| args.next()) {
                Some(value) => addr = value,
                None => usage_error("--addr needs a value"),
            },
            "--stack" => match inline.or_else(|| args.next()).as_deref() {
                Some("private") => stack = Some(StackKind::Private),
                Some("shared") => stack = Some(StackKind::Shared),
                _ => usage_error("--stack takes `private` or `shared`"),
            },
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    (addr, stack)
}

fn usage_error(message: &str) -> ! {
    eprintln!("echo_server: {message}\n{USAGE}");
    exit(2);
}

/// Echoes everything `stream` sends until it closes its side.
fn echo(stream: TcpStream, peer: SocketAddr) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = (&stream).read(&mut buf)?;
        if n == 0 {
            log::debug!("{peer}: closed after {total} bytes");
            return Ok(total);
        }
        (&stream).write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn main() {
    let (addr, stack) = parse_args();
    env_logger::init();
    let listener = match TcpListener::bind(addr.as_str()) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {addr}: {e}");
            exit(1);
        }
    };
    let local = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!("echo_server: listening on {local}");

    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                log::debug!("{peer}: connected");
                let builder = match stack {
                    Some(kind) => greenlet::Builder::new().stack_kind(kind),
                    None => greenlet::Builder::new(),
                };
                let spawned = builder.spawn(move || {
                    if let Err(e) = echo(stream, peer) {
                        log::info!("{peer}: {e}");
                    }
                });
                if let Err(e) = spawned {
                    log::warn!("{peer}: {e}");
                }
            }
            // Out of descriptors and the like: say so, and keep serving the
            // connections already open.
            Err(e) => {
                log::warn!("accept: {e}");
                greenlet::sleep(Duration::from_millis(10));
            }
        }
    }
}
