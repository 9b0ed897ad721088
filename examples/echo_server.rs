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
//! [--stack private|shared] [--workers N] [--work-us MICROS]`
//! (`RUST_LOG=debug` logs each connection).
//!
//! `--stack` pins the kind of stack each connection's greenlet runs on
//! (without it the hub chooses: private stacks for the first 256
//! connections, shared ones beyond). The buffer is on the heap,
//! so a shared-stack greenlet copies only its few hundred bytes of frames
//! at each switch, not 16 KiB of buffer.
//!
//! `--workers N` serves the port from N threads, each with its own hub and
//! its own `SO_REUSEPORT` listener (`StreamServer::bind_workers`): the
//! kernel spreads the connections over them, and each connection stays on
//! its worker's thread. One worker per core is the thread-per-core shape.
//! `--work-us` spends that many microseconds of CPU on every message before
//! echoing it, so that the server, not the client, is what runs out of CPU.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::time::{Duration, Instant};

use greenlet::StackKind;
use greenlet::net::{TcpListener, TcpStream};
#[cfg(target_os = "linux")]
use greenlet::server::StreamServer;

const USAGE: &str = "\
usage: cargo run --release --example echo_server -- [--addr HOST:PORT] [--stack KIND]
       [--workers N] [--work-us MICROS]

  --addr HOST:PORT   the address to listen on (default 127.0.0.1:7000;
                     port 0 picks a free one, printed at start-up)
  --stack KIND       `private` or `shared`: the stack kind of each
                     connection's greenlet (default: the hub's choice;
                     not with --workers)
  --workers N        serve from N threads, a hub and an SO_REUSEPORT
                     listener each (Linux; default: this thread alone)
  --work-us MICROS   spend MICROS microseconds of CPU on each message
                     before echoing it (default 0)";

/// What the command line asks for.
struct Args {
    addr: String,
    stack: Option<StackKind>,
    workers: Option<usize>,
    work: Duration,
}

/// Parses the arguments; prints `--help`, or rejects anything else with
/// exit code 2.
fn parse_args() -> Args {
    let mut addr = String::from("127.0.0.1:7000");
    let mut stack = None;
    let mut workers = None;
    let mut work = Duration::ZERO;
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
            "--workers" => match inline.or_else(|| args.next()).map(|v| v.parse()) {
                Some(Ok(n)) if n > 0 => workers = Some(n),
                _ => usage_error("--workers takes a number above 0"),
            },
            "--work-us" => match inline.or_else(|| args.next()).map(|v| v.parse()) {
                Some(Ok(micros)) => work = Duration::from_micros(micros),
                _ => usage_error("--work-us takes a number of microseconds"),
            },
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    if stack.is_some() && workers.is_some() {
        usage_error("--stack and --workers do not go together");
    }
    Args {
        addr,
        stack,
        workers,
        work,
    }
}

fn usage_error(message: &str) -> ! {
    eprintln!("echo_server: {message}\n{USAGE}");
    exit(2);
}

/// Keeps this thread's CPU busy for `work` (the request's own work).
fn compute(work: Duration) {
    if work.is_zero() {
        return;
    }
    let end = Instant::now() + work;
    let mut x = 1u64;
    while Instant::now() < end {
        for _ in 0..64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

/// Echoes everything `stream` sends until it closes its side, after
/// `work` of computing for each read.
fn echo(stream: TcpStream, peer: SocketAddr, work: Duration) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = (&stream).read(&mut buf)?;
        if n == 0 {
            log::debug!("{peer}: closed after {total} bytes");
            return Ok(total);
        }
        compute(work);
        (&stream).write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// `--workers` elsewhere than Linux: `SO_REUSEPORT` spreads connections
/// over listeners only there.
#[cfg(not(target_os = "linux"))]
fn serve_workers(_addr: &str, _workers: usize, _work: Duration) -> ! {
    usage_error("--workers needs Linux (SO_REUSEPORT load balancing)")
}

/// `--workers`: the port served from `workers` threads.
#[cfg(target_os = "linux")]
fn serve_workers(addr: &str, workers: usize, work: Duration) -> ! {
    let server = StreamServer::bind_workers(addr, workers, move || {
        move |stream, peer| {
            log::debug!("{peer}: connected");
            if let Err(e) = echo(stream, peer, work) {
                log::info!("{peer}: {e}");
            }
        }
    });
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {addr}: {e}");
            exit(1);
        }
    };
    let local = server.local_addr().expect("a bound server has an address");
    println!("echo_server: listening on {local} with {workers} workers");
    server.serve_forever();
    exit(0);
}

fn main() {
    let Args {
        addr,
        stack,
        workers,
        work,
    } = parse_args();
    env_logger::init();
    if let Some(workers) = workers {
        serve_workers(&addr, workers, work);
    }
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
                    if let Err(e) = echo(stream, peer, work) {
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
