//! SEEDS.md row 11: a pool capping concurrency, and a TCP server whose
//! connections are served by a pool of 50, replying "111".
//!
//! The server is gevent's `StreamServer(addr, handle, spawn=Pool(50))`
//! written out: an accept loop hands each connection to
//! `greenlet::pool::Pool::spawn`, which parks the loop while all 50 places
//! are taken, so never more than 50 connections are served at once and the
//! others wait in the kernel's queue. Each handler pauses 50 ms (standing for
//! some work) and replies "111". (`StreamServer::bind(addr, handle)
//! .max_connections(50)` does the same in one line.)
//!
//! `--demo N` runs the server in the background and N clients against it.
//! The clients themselves go through a pool of 100 workers (`Pool::map`),
//! the tutorial's "pool of 100 workers capping concurrency": at most 100
//! connect at once, of which the server serves at most 50. It checks that
//! every client got "111" and that the server never served more than 50 at
//! once, prints the figures, stops the server and exits (1 if a check failed).
//!
//! Run: `cargo run --release --example pool_server -- [--addr HOST:PORT]`
//! (then `nc 127.0.0.1 8000`), or `... -- --demo 200`.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::net::{TcpListener, TcpStream};
use greenlet::pool::Pool;

const USAGE: &str = "\
usage: cargo run --release --example pool_server -- [--addr HOST:PORT] [--demo N]

  --addr HOST:PORT   the address to listen on (default 127.0.0.1:8000, or a
                     free port with --demo; port 0 picks a free one, printed)
  --demo N           serve in the background, run N clients (through a pool
                     of 100) against the server, check every reply, then exit";

/// Places in the server's pool: connections served at once.
const SERVER_POOL: usize = 50;
/// Places in the demo clients' pool: clients connecting at once.
const CLIENT_POOL: usize = 100;
/// The pause in each handler, so that connections overlap and the cap shows.
const WORK: Duration = Duration::from_millis(50);
/// How long a demo client waits for its reply before calling it a failure.
const CLIENT_PATIENCE: Duration = Duration::from_secs(10);

struct Args {
    addr: Option<String>,
    demo: Option<usize>,
}

/// Parses the arguments; prints `--help`, or rejects a bad one with exit code 2.
fn parse_args() -> Args {
    let mut parsed = Args {
        addr: None,
        demo: None,
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
            "--addr" => parsed.addr = Some(value()),
            "--demo" => {
                let text = value();
                match text.parse::<usize>() {
                    Ok(n) if n > 0 => parsed.demo = Some(n),
                    _ => usage_error(&format!(
                        "--demo wants a number of clients above 0, not {text:?}"
                    )),
                }
            }
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    parsed
}

fn usage_error(message: &str) -> ! {
    eprintln!("pool_server: {message}\n{USAGE}");
    exit(2);
}

/// Connections being served now, the most at once, and the total served.
#[derive(Default)]
struct Load {
    now: Cell<usize>,
    most: Cell<usize>,
    served: Cell<usize>,
}

/// Counts a connection as served while it lives.
struct Serving(Rc<Load>);

impl Serving {
    fn new(load: &Rc<Load>) -> Serving {
        load.now.set(load.now.get() + 1);
        load.most.set(load.most.get().max(load.now.get()));
        Serving(load.clone())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.now.set(self.0.now.get() - 1);
        self.0.served.set(self.0.served.get() + 1);
    }
}

/// One connection: a short pause for "work", then the reply.
fn handle(mut stream: TcpStream, peer: SocketAddr, load: &Rc<Load>) {
    let _serving = Serving::new(load);
    greenlet::sleep(WORK);
    if let Err(e) = stream.write_all(b"111") {
        log::info!("{peer}: {e}");
    }
    // Dropping the stream closes the connection.
}

/// Accepts for ever, serving each connection in a greenlet of `pool`.
/// `Pool::spawn` parks this loop while the pool is full: that is the cap.
fn serve(listener: &TcpListener, pool: &Pool, load: &Rc<Load>) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                let load = load.clone();
                pool.spawn(move || handle(stream, peer, &load));
            }
            // Out of descriptors and the like: keep the open connections
            // going and try again shortly.
            Err(e) => {
                log::warn!("accept: {e}");
                greenlet::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// One demo client: connect, read the whole reply.
fn client(addr: SocketAddr) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(CLIENT_PATIENCE))?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

fn demo(listener: TcpListener, clients: usize) -> bool {
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let server_pool = Pool::new(SERVER_POOL);
    let load = Rc::new(Load::default());
    let server = {
        let (pool, load) = (server_pool.clone(), load.clone());
        greenlet::spawn(move || serve(&listener, &pool, &load))
    };

    println!(
        "{clients} clients, at most {CLIENT_POOL} at once (a Pool of {CLIENT_POOL}), \
         against a server with a Pool of {SERVER_POOL} on {addr}"
    );
    let start = Instant::now();
    let client_pool = Pool::new(CLIENT_POOL);
    let replies = client_pool.map(0..clients, move |_| client(addr));
    let elapsed = start.elapsed();

    // Killing the accept loop closes the listening socket; the pool's
    // handlers have all finished, since every client has its reply.
    server.kill();
    server_pool.join();

    let good = replies
        .iter()
        .filter(|r| matches!(r, Ok(text) if text == "111"))
        .count();
    for (i, reply) in replies.iter().enumerate() {
        match reply {
            Ok(text) if text == "111" => {}
            Ok(text) => println!("client {i}: got {text:?} instead of \"111\""),
            Err(e) => println!("client {i}: {e}"),
        }
    }
    println!(
        "{good} of {clients} clients got \"111\" in {:.2} s; the server served {} \
         connections, at most {} at once (limit {SERVER_POOL})",
        elapsed.as_secs_f64(),
        load.served.get(),
        load.most.get()
    );
    // Each round of 50 takes about WORK, so N clients take about
    // N / 50 * WORK: the pool, not the clients, sets the pace.
    println!(
        "rounds of {SERVER_POOL}: {} x {} ms = about {:.2} s expected",
        clients.div_ceil(SERVER_POOL),
        WORK.as_millis(),
        (clients.div_ceil(SERVER_POOL) as u32 * WORK).as_secs_f64()
    );
    good == clients && load.most.get() <= SERVER_POOL
}

fn main() {
    let args = parse_args();
    env_logger::init();
    // A demo needs no fixed port.
    let default = if args.demo.is_some() {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8000"
    };
    let addr = args.addr.unwrap_or_else(|| default.to_owned());
    let listener = match TcpListener::bind(addr.as_str()) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("pool_server: cannot listen on {addr}: {e}");
            exit(1);
        }
    };
    if let Some(clients) = args.demo {
        if demo(listener, clients) {
            println!("ok");
        } else {
            println!("FAILED");
            exit(1);
        }
        return;
    }
    let local = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!(
        "pool_server: listening on {local}, serving at most {SERVER_POOL} connections at once"
    );
    println!("try: nc {} {}", local.ip(), local.port());
    let load = Rc::new(Load::default());
    serve(&listener, &Pool::new(SERVER_POOL), &load);
}
