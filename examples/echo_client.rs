//! SEEDS.md row 12, the client half: a load generator for an echo server,
//! with one greenlet per connection.
//!
//! It opens `--connections` connections (one after another, before the clock
//! starts, so a server's accept path and listen backlog play no part in the
//! figures), then each connection's greenlet loops until `--duration` is up:
//! write a message of `--size` bytes, read the same number of bytes back,
//! record the round trip's latency. At the end it prints the requests per
//! second and the latency percentiles; the last line is meant for scripts:
//!
//! ```text
//! requests/s: 123456  p50: 80 us  p99: 300 us
//! ```
//!
//! Latencies go into one histogram shared by all greenlets (log-linear
//! buckets, 1.6% wide), so a request allocates nothing. A connection that
//! fails mid-run is reported and the client exits with status 1 after
//! printing what it measured.
//!
//! Run: `cargo run --release --example echo_client -- [--addr HOST:PORT]
//! [--connections N] [--duration SECS] [--size BYTES]` against
//! `echo_server` (or any echo server).

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::net::TcpStream;

const USAGE: &str = "\
usage: cargo run --release --example echo_client -- [options]

  --addr HOST:PORT     the echo server (default 127.0.0.1:7000)
  --connections N      connections, one greenlet each (default 100)
  --duration SECS      how long to send, fractions allowed (default 5)
  --size BYTES         bytes per message, 1 to 65536 (default 64)

The last line printed is `requests/s: R  p50: L us  p99: L us`.";

const MAX_SIZE: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

struct Args {
    addr: String,
    connections: usize,
    duration: Duration,
    size: usize,
}

/// Parses the options; prints `--help`, or rejects a bad argument with exit
/// code 2.
fn parse_args() -> Args {
    let mut parsed = Args {
        addr: String::from("127.0.0.1:7000"),
        connections: 100,
        duration: Duration::from_secs(5),
        size: 64,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            exit(0);
        }
        // Both `--name value` and `--name=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if !["--addr", "--connections", "--duration", "--size"].contains(&name.as_str()) {
            usage_error(&format!("unknown argument {arg:?}"));
        }
        let Some(value) = inline.or_else(|| args.next()) else {
            usage_error(&format!("{name} needs a value"));
        };
        let bad = |what: &str| -> ! { usage_error(&format!("{name} {value:?}: {what}")) };
        match name.as_str() {
            "--addr" => parsed.addr = value.clone(),
            "--connections" => match value.parse() {
                Ok(n) if n > 0 => parsed.connections = n,
                _ => bad("expected a whole number of connections, at least 1"),
            },
            "--duration" => match value.parse::<f64>().map(Duration::try_from_secs_f64) {
                Ok(Ok(d)) if !d.is_zero() => parsed.duration = d,
                _ => bad("expected a positive number of seconds, such as 5 or 2.5"),
            },
            "--size" => match value.parse() {
                Ok(n) if (1..=MAX_SIZE).contains(&n) => parsed.size = n,
                _ => bad("expected a whole number of bytes from 1 to 65536"),
            },
            _ => unreachable!("names checked above"),
        }
    }
    parsed
}

fn usage_error(message: &str) -> ! {
    eprintln!("echo_client: {message}\n{USAGE}");
    exit(2);
}

/// Latencies in nanoseconds, counted in log-linear buckets: exact below 128,
/// then 64 buckets per power of two (each at most 1/64 of its values wide).
/// One is shared by all the greenlets, which run on one thread.
struct Histogram {
    counts: Box<[Cell<u64>]>,
}

const EXACT: u64 = 128;
const SUB_BUCKETS: u64 = 64;

impl Histogram {
    fn new() -> Histogram {
        // Exact values, then 64 buckets for each power of two from 2^7 to 2^63.
        let len = EXACT + (64 - 7) * SUB_BUCKETS;
        Histogram {
            counts: (0..len).map(|_| Cell::new(0)).collect(),
        }
    }

    fn index(nanos: u64) -> usize {
        if nanos < EXACT {
            return nanos as usize;
        }
        let exponent = u64::from(nanos.ilog2()); // 7..=63
        let shift = exponent - 6;
        let mantissa = nanos >> shift; // 64..128
        (EXACT + (exponent - 7) * SUB_BUCKETS + (mantissa - SUB_BUCKETS)) as usize
    }

    /// The middle of bucket `index`, in nanoseconds.
    fn value(index: usize) -> u64 {
        let index = index as u64;
        if index < EXACT {
            return index;
        }
        let k = index - EXACT;
        let shift = k / SUB_BUCKETS + 1;
        let low = (SUB_BUCKETS + k % SUB_BUCKETS) << shift;
        low + (1 << shift) / 2
    }

    fn record(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let cell = &self.counts[Histogram::index(nanos)];
        cell.set(cell.get() + 1);
    }

    fn total(&self) -> u64 {
        self.counts.iter().map(Cell::get).sum()
    }

    /// The latency below which `fraction` of the requests fell.
    fn percentile(&self, fraction: f64) -> Duration {
        let total = self.total();
        let rank = ((fraction * total as f64).ceil() as u64).clamp(1, total.max(1));
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count.get();
            if seen >= rank {
                return Duration::from_nanos(Histogram::value(index));
            }
        }
        Duration::ZERO
    }
}

/// One connection's loop: send `size` bytes, read as many back, record the
/// round trip, until `deadline`.
fn drive(
    stream: TcpStream,
    size: usize,
    deadline: Instant,
    latencies: &Histogram,
) -> io::Result<()> {
    let message = vec![b'x'; size];
    // One byte more than a reply, so that the read completing a reply is a
    // short one: the stream then knows the socket is drained and waits for
    // the next reply without first trying a read that would fail.
    let mut reply = vec![0u8; size + 1];
    let mut sent_at = Instant::now();
    loop {
        (&stream).write_all(&message)?;
        let mut got = 0;
        while got < size {
            match (&stream).read(&mut reply[got..])? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => got += n,
            }
        }
        if got > size {
            return Err(io::Error::other("the server sent more than it was sent"));
        }
        let now = Instant::now();
        latencies.record(now - sent_at);
        if now >= deadline {
            return Ok(());
        }
        sent_at = now;
    }
}

fn connect_all(addr: SocketAddr, connections: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(connections);
    for opened in 0..connections {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                if let Err(e) = stream.set_nodelay(true) {
                    eprintln!("echo_client: set_nodelay: {e}");
                    exit(1);
                }
                streams.push(stream);
            }
            Err(e) => {
                eprintln!(
                    "echo_client: cannot connect to {addr} ({opened} of {connections} \
                     connections open): {e}"
                );
                exit(1);
            }
        }
    }
    streams
}

fn main() {
    let args = parse_args();
    env_logger::init();
    let addr = match greenlet::net::lookup_host(args.addr.as_str()).map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) => usage_error(&format!("--addr {:?}: no address found", args.addr)),
        Err(e) => usage_error(&format!("--addr {:?}: {e}", args.addr)),
    };
    println!(
        "echo_client: {} connections to {addr}, {}-byte messages, {:.1} s",
        args.connections,
        args.size,
        args.duration.as_secs_f64()
    );
    let streams = connect_all(addr, args.connections);

    let latencies = Rc::new(Histogram::new());
    let failures = Rc::new(Cell::new(0usize));
    let start = Instant::now();
    let deadline = start + args.duration;
    let workers: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            let (latencies, failures) = (latencies.clone(), failures.clone());
            let size = args.size;
            greenlet::spawn(move || {
                if let Err(e) = drive(stream, size, deadline, &latencies) {
                    eprintln!("echo_client: a connection failed: {e}");
                    failures.set(failures.get() + 1);
                }
            })
        })
        .collect();
    for result in greenlet::joinall(workers) {
        result.expect("a connection's greenlet panicked");
    }
    let elapsed = start.elapsed();

    let requests = latencies.total();
    let rate = requests as f64 / elapsed.as_secs_f64();
    let micros = |fraction| latencies.percentile(fraction).as_secs_f64() * 1e6;
    if failures.get() > 0 {
        eprintln!(
            "echo_client: {} of {} connections failed",
            failures.get(),
            args.connections
        );
    }
    println!(
        "requests: {requests} in {:.2} s; p99.9: {:.0} us, max: {:.0} us",
        elapsed.as_secs_f64(),
        micros(0.999),
        micros(1.0)
    );
    println!(
        "requests/s: {rate:.0}  p50: {:.0} us  p99: {:.0} us",
        micros(0.5),
        micros(0.99)
    );
    if failures.get() > 0 {
        exit(1);
    }
}
