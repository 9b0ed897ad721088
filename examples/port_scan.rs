//! A concurrent TCP port scanner, the classic gevent demonstration: one
//! greenlet per connection attempt, at most `--concurrency` at once.
//!
//! A `greenlet::pool::Pool` of connectors maps `TcpStream::connect_timeout`
//! over the ports (`Pool::map` keeps the ports' order). A port that accepts
//! the connection is open; one that refuses it is closed; one that does not
//! answer within the timeout is filtered. Each attempt parks only its own
//! greenlet, so a hundred wait together on one thread. It prints the open
//! ports in order and a summary with the elapsed time.
//!
//! `--demo` opens three listening sockets of its own on 127.0.0.1, scans
//! the ports around them and checks that all three are found open (exit 1
//! if not).
//!
//! Run: `cargo run --release --example port_scan -- [--host HOST] [--ports 1-1024]
//! [--concurrency 100] [--timeout-ms 500]`, or `... -- --demo`.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};
use std::process::exit;
use std::time::{Duration, Instant};

use greenlet::net::{TcpStream, lookup_host};
use greenlet::pool::Pool;

const USAGE: &str = "\
usage: cargo run --release --example port_scan -- [--host HOST] [--ports LIST]
           [--concurrency N] [--timeout-ms MS] [--demo]

  --host HOST        the host to scan (default 127.0.0.1; a name is looked up)
  --ports LIST       ports or ranges, comma-separated: 22,80,8000-8100
                     (default 1-1024)
  --concurrency N    connection attempts at once (default 100)
  --timeout-ms MS    how long an attempt waits for an answer (default 500)
  --demo             open three ports of its own, scan around them, check
                     that they are found, and exit";

struct Args {
    host: String,
    ports: Vec<u16>,
    concurrency: usize,
    timeout: Duration,
    demo: bool,
}

/// Parses the arguments; prints `--help`, or rejects a bad one with exit code 2.
fn parse_args() -> Args {
    let mut parsed = Args {
        host: String::from("127.0.0.1"),
        ports: (1..=1024).collect(),
        concurrency: 100,
        timeout: Duration::from_millis(500),
        demo: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage_error(&format!("{name} needs a value")))
        };
        match name.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--host" => parsed.host = value(),
            "--ports" => {
                let text = value();
                parsed.ports = parse_ports(&text).unwrap_or_else(|e| usage_error(&e));
            }
            "--concurrency" => parsed.concurrency = positive(&name, &value()) as usize,
            "--timeout-ms" => parsed.timeout = Duration::from_millis(positive(&name, &value())),
            "--demo" if inline.is_none() => parsed.demo = true,
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    parsed
}

fn positive(name: &str, text: &str) -> u64 {
    match text.parse::<u64>() {
        Ok(n) if n > 0 && n <= 1_000_000 => n,
        _ => usage_error(&format!(
            "{name} wants a whole number from 1 to 1000000, not {text:?}"
        )),
    }
}

/// Parses `22,80,8000-8100` into the ports, in order, without repeats.
fn parse_ports(text: &str) -> Result<Vec<u16>, String> {
    let port = |s: &str| match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "bad port {s:?} in --ports {text:?} (ports are 1 to 65535)"
        )),
    };
    let mut ports = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (port(first)?, port(last)?);
                if first > last {
                    return Err(format!(
                        "bad range {part:?} in --ports: {first} is above {last}"
                    ));
                }
                ports.extend(first..=last);
            }
            None => ports.push(port(part)?),
        }
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

fn usage_error(message: &str) -> ! {
    eprintln!("port_scan: {message}\n{USAGE}");
    exit(2);
}

/// What one connection attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Open,
    Closed,
    Filtered,
    /// Anything else (out of descriptors, network unreachable): the error
    /// kind, to report.
    Failed(ErrorKind),
}

fn probe(ip: IpAddr, port: u16, timeout: Duration) -> Port {
    match TcpStream::connect_timeout(&SocketAddr::new(ip, port), timeout) {
        Ok(_stream) => Port::Open, // closed again at once
        Err(e) => match e.kind() {
            ErrorKind::ConnectionRefused => Port::Closed,
            ErrorKind::TimedOut => Port::Filtered,
            kind => Port::Failed(kind),
        },
    }
}

/// Scans `ports` of `ip`; prints the open ones and a summary. Returns the
/// open ports.
fn scan(ip: IpAddr, ports: Vec<u16>, concurrency: usize, timeout: Duration) -> Vec<u16> {
    println!(
        "scanning {} ports of {ip}, {concurrency} at once, {} ms timeout",
        ports.len(),
        timeout.as_millis()
    );
    let start = Instant::now();
    let pool = Pool::new(concurrency);
    let results = pool.map(ports.clone(), move |port| probe(ip, port, timeout));
    let elapsed = start.elapsed();

    let mut open = Vec::new();
    let (mut closed, mut filtered, mut failed) = (0, 0, Vec::new());
    for (&port, &result) in ports.iter().zip(&results) {
        match result {
            Port::Open => {
                println!("{port:>5}/tcp open");
                open.push(port);
            }
            Port::Closed => closed += 1,
            Port::Filtered => filtered += 1,
            Port::Failed(kind) => failed.push((port, kind)),
        }
    }
    if let Some((port, kind)) = failed.first() {
        println!(
            "{} attempts failed otherwise, the first on port {port}: {kind}",
            failed.len()
        );
    }
    println!(
        "{} open, {closed} closed, {filtered} filtered, {} failed: {} ports in {:.2} s",
        open.len(),
        failed.len(),
        ports.len(),
        elapsed.as_secs_f64()
    );
    open
}

/// Scans three ports of its own, opened for the purpose, and the ports
/// around them; true if all three are found open.
fn demo(concurrency: usize, timeout: Duration) -> io::Result<bool> {
    // Plain std listeners: the kernel completes a connection to a listening
    // socket without anyone calling accept.
    let listeners: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<_>>()?;
    let mine: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<io::Result<_>>()?;
    let spec = mine
        .iter()
        .map(|&p| format!("{}-{}", p.saturating_sub(5).max(1), p.saturating_add(5)))
        .collect::<Vec<_>>()
        .join(",");
    println!("listening on ports {mine:?}; scanning {spec}");
    let ports = parse_ports(&spec).map_err(io::Error::other)?;
    let open = scan(IpAddr::from([127, 0, 0, 1]), ports, concurrency, timeout);
    let found = mine.iter().all(|port| open.contains(port));
    println!(
        "the three listening ports were {}found",
        if found { "" } else { "NOT all " }
    );
    Ok(found)
}

fn main() {
    let args = parse_args();
    env_logger::init();
    if args.demo {
        match demo(args.concurrency, args.timeout) {
            Ok(true) => println!("ok"),
            Ok(false) => {
                println!("FAILED");
                exit(1);
            }
            Err(e) => {
                eprintln!("port_scan: demo: {e}");
                exit(1);
            }
        }
        return;
    }
    let ip = match lookup_host((args.host.as_str(), 0)).map(|mut addrs| addrs.next()) {
        Ok(Some(addr)) => addr.ip(),
        Ok(None) => {
            eprintln!("port_scan: {} has no address", args.host);
            exit(1);
        }
        Err(e) => {
            eprintln!("port_scan: cannot look up {}: {e}", args.host);
            exit(1);
        }
    };
    if ip.to_string() != args.host {
        println!("{} is {ip}", args.host);
    }
    scan(ip, args.ports, args.concurrency, args.timeout);
}
