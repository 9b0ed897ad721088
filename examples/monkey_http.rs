//! Monkey patching: 100 HTTP GETs with `ureq` (a blocking client written on
//! `std::net`) from 100 greenlets of one thread, against a local server
//! written with plain `std::net` whose handler waits 100 ms with
//! `std::thread::sleep`. Neither knows about greenlets.
//!
//! First without the patch: every GET blocks the thread, so they go one
//! after another (the server then needs a thread of its own): about 10 s.
//! Then after `greenlet::monkey::patch_all()`, with the server in greenlets
//! of the same thread: the GETs and the handlers' sleeps overlap, about
//! 0.1 s.
//!
//! Run: `cargo run --release --features hook --example monkey_http [-- --requests N]`

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::exit;
use std::thread;
use std::time::{Duration, Instant};

const HANDLER_DELAY: Duration = Duration::from_millis(100);

const USAGE: &str = "\
usage: cargo run --release --features hook --example monkey_http -- [--requests N]

  --requests N   GETs in each run, one greenlet each (default 100)";

fn parse_args() -> usize {
    let mut requests = 100;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--requests" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => requests = n,
                _ => usage_error("--requests needs a positive number"),
            },
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    requests
}

fn usage_error(message: &str) -> ! {
    eprintln!("monkey_http: {message}\n{USAGE}");
    exit(2);
}

/// Answers one request after `HANDLER_DELAY`, the way a blocking server does.
fn handle(mut stream: TcpStream) -> io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(()); // the client went away
        }
        request.extend_from_slice(&buf[..n]);
    }
    thread::sleep(HANDLER_DELAY);
    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
}

/// Serves `connections` connections, a greenlet each. Unpatched, the
/// `yield_now` runs each handler to its end before the next accept (they
/// block the thread); patched, it only lets the others run.
fn serve(listener: TcpListener, connections: usize) {
    let handlers: Vec<_> = (0..connections)
        .filter_map(|_| match listener.accept() {
            Ok((stream, _)) => Some(greenlet::spawn(move || {
                if let Err(e) = handle(stream) {
                    log::warn!("handler: {e}");
                }
            })),
            Err(e) => {
                log::warn!("accept: {e}");
                None
            }
        })
        .inspect(|_| greenlet::yield_now())
        .collect();
    greenlet::joinall(handlers);
}

/// `requests` GETs from a greenlet each; returns how many said "hello".
fn fan_out(addr: SocketAddr, requests: usize) -> usize {
    let url = format!("http://{addr}/");
    let clients: Vec<_> = (0..requests)
        .map(|_| {
            let url = url.clone();
            greenlet::spawn(move || -> Result<String, ureq::Error> {
                ureq::get(&url).call()?.body_mut().read_to_string()
            })
        })
        .collect();
    greenlet::joinall(clients)
        .into_iter()
        .filter(|result| matches!(result, Ok(Ok(body)) if body == "hello"))
        .count()
}

fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| {
        eprintln!("monkey_http: cannot listen on 127.0.0.1: {e}");
        exit(1);
    });
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    (listener, addr)
}

fn main() {
    env_logger::init();
    let requests = parse_args();

    // Unpatched: the server needs a thread of its own, and the GETs run one
    // after another however many greenlets make them.
    let (listener, addr) = bind();
    let server = thread::spawn(move || serve(listener, requests));
    let start = Instant::now();
    let ok = fan_out(addr, requests);
    let unpatched = start.elapsed();
    server.join().expect("the server thread panicked");
    println!(
        "without the patch: {ok}/{requests} GETs in {:.2} s (one after another)",
        unpatched.as_secs_f64()
    );

    greenlet::monkey::patch_all();
    let (listener, addr) = bind();
    let start = Instant::now();
    let server = greenlet::spawn(move || serve(listener, requests));
    let ok = fan_out(addr, requests);
    server.join().expect("the server greenlet panicked");
    let patched = start.elapsed();
    println!(
        "with patch_all:    {ok}/{requests} GETs in {:.2} s (server and clients in greenlets of one thread)",
        patched.as_secs_f64()
    );
    println!(
        "speed-up: {:.0}x",
        unpatched.as_secs_f64() / patched.as_secs_f64()
    );
}
