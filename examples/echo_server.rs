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
//! Run: `cargo run --release --example echo_server -- [--addr HOST:PORT]`
//! (`RUST_LOG=debug` logs each connection).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::time::Duration;

use greenlet::net::{TcpListener, TcpStream};

const USAGE: &str = "\
usage: cargo run --release --example echo_server -- [--addr HOST:PORT]

  --addr HOST:PORT   the address to listen on (default 127.0.0.1:7000;
                     port 0 picks a free one, printed at start-up)";

/// Parses `--addr`; prints `--help`, or rejects anything else with exit code 2.
fn parse_args() -> String {
    let mut addr = String::from("127.0.0.1:7000");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--addr" => match args.next() {
                Some(value) => addr = value,
                None => usage_error("--addr needs a value"),
            },
            _ => match arg.strip_prefix("--addr=") {
                Some(value) => addr = value.to_owned(),
                None => usage_error(&format!("unknown argument {arg:?}")),
            },
        }
    }
    addr
}

fn usage_error(message: &str) -> ! {
    eprintln!("echo_server: {message}\n{USAGE}");
    exit(2);
}

/// Echoes everything `stream` sends until it closes its side.
fn echo(stream: TcpStream, peer: SocketAddr) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let mut buf = [0u8; 16 * 1024];
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
    let addr = parse_args();
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
                greenlet::spawn(move || {
                    if let Err(e) = echo(stream, peer) {
                        log::info!("{peer}: {e}");
                    }
                });
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
