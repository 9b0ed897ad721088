//! A TCP proxy: every connection to `--listen` is relayed to `--target`,
//! both ways, by two greenlets.
//!
//! A `StreamServer` hands each client connection to a greenlet, which
//! connects to the target and relays target to client itself, while a
//! second greenlet relays client to target; they share the two sockets by
//! reference (`Read` and `Write` are implemented for `&TcpStream`). When one
//! side ends its half of the connection (end of stream), the relay shuts
//! down the write half of the other side, so half-closes pass through and a
//! client that sends a request and then `shutdown(Write)` still gets the
//! whole answer. When one side fails (a reset), both connections are shut
//! down, which ends the other relay too.
//!
//! `--demo` starts an echo server and the proxy in this process, sends five
//! clients' worth of data (1 MiB each, at once) through the proxy, checks
//! that each got its own bytes back after its half-close, and exits (1 if a
//! check failed).
//!
//! Run: `cargo run --release --example tcp_proxy -- --listen 127.0.0.1:9000
//! --target 127.0.0.1:8000`, or `... -- --demo`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::net::{Shutdown, TcpStream};
use greenlet::server::StreamServer;
use greenlet::{Greenlet, with_timeout};

const USAGE: &str = "\
usage: cargo run --release --example tcp_proxy -- --listen HOST:PORT --target HOST:PORT
       cargo run --release --example tcp_proxy -- --demo

  --listen HOST:PORT   the address to accept clients on
  --target HOST:PORT   the address to relay them to
  --demo               relay to an in-process echo server, check, and exit";

/// How long the demo may take before it is called a failure.
const DEMO_LIMIT: Duration = Duration::from_secs(20);
const DEMO_CLIENTS: usize = 5;
const DEMO_BYTES: usize = 1 << 20;

enum Mode {
    Proxy { listen: String, target: String },
    Demo,
}

/// Parses the arguments; prints `--help`, or rejects a bad one with exit code 2.
fn parse_args() -> Mode {
    let (mut listen, mut target, mut demo) = (None, None, false);
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
            "--listen" => listen = Some(value()),
            "--target" => target = Some(value()),
            "--demo" if inline.is_none() => demo = true,
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    match (listen, target, demo) {
        (None, None, true) => Mode::Demo,
        (_, _, true) => usage_error("--demo takes no --listen or --target"),
        (Some(listen), Some(target), false) => Mode::Proxy { listen, target },
        (None, _, false) => usage_error("--listen is required"),
        (_, None, false) => usage_error("--target is required"),
    }
}

fn usage_error(message: &str) -> ! {
    eprintln!("tcp_proxy: {message}\n{USAGE}");
    exit(2);
}

/// Copies `from` to `to` until `from` ends, then passes the end on with
/// `shutdown(Write)`. On an error, shuts both sockets down so that the
/// relay in the other direction ends too. Returns the bytes copied.
fn relay(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut copied = 0;
    let outcome = loop {
        match (&*from).read(&mut buf) {
            Ok(0) => break to.shutdown(Shutdown::Write),
            Ok(n) => match (&*to).write_all(&buf[..n]) {
                Ok(()) => copied += n as u64,
                Err(e) => break Err(e),
            },
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok(()) => Ok(copied),
        // The peer is gone already: nothing to pass the end on to.
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(copied),
        Err(e) => {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            Err(e)
        }
    }
}

/// Kills the relay greenlet it holds if dropped before it is taken back (the
/// connection greenlet was killed, by `StreamServer::stop` say).
struct KillOnDrop(Option<Greenlet<io::Result<u64>>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(greenlet) = self.0.take() {
            greenlet.kill();
        }
    }
}

/// Serves one client: connects to `target` and relays both ways until both
/// directions have ended.
fn proxy(client: TcpStream, peer: SocketAddr, target: &str) {
    let upstream = match TcpStream::connect(target) {
        Ok(upstream) => upstream,
        Err(e) => {
            log::warn!("{peer}: cannot connect to {target}: {e}");
            return; // dropping `client` closes it
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client, upstream) = (Rc::new(client), Rc::new(upstream));
    let mut up = KillOnDrop(Some({
        let (client, upstream) = (client.clone(), upstream.clone());
        greenlet::spawn(move || relay(&client, &upstream))
    }));
    let down = relay(&upstream, &client);
    let up = up.0.take().map(Greenlet::join);
    match (up, down) {
        (Some(Ok(Ok(sent))), Ok(received)) => {
            log::info!("{peer}: done, {sent} bytes to {target}, {received} back");
        }
        (up, down) => log::info!("{peer}: ended: up {up:?}, down {down:?}"),
    }
}

fn serve(listen: &str, target: String) -> io::Result<()> {
    println!("tcp_proxy: relaying {listen} to {target}");
    let server = StreamServer::bind(listen, move |client, peer| proxy(client, peer, &target))?;
    if listen.ends_with(":0") {
        println!("tcp_proxy: listening on {}", server.local_addr()?);
    }
    server.serve_forever();
    Ok(())
}

/// The demo's target: echoes until the client ends its side, then closes.
fn echo(stream: TcpStream, _peer: SocketAddr) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match (&stream).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if (&stream).write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// The bytes client `i` sends: different for every client and offset.
fn pattern(i: usize) -> Vec<u8> {
    (0..DEMO_BYTES)
        .map(|n| (n * 31 + i * 7 + n / 251) as u8)
        .collect()
}

/// Sends client `i`'s bytes through `proxy` from one greenlet while reading
/// the echo in another; the writer then half-closes. True if every byte
/// came back, in order, followed by the end of the stream.
fn demo_client(proxy: SocketAddr, i: usize) -> io::Result<bool> {
    let stream = Rc::new(TcpStream::connect(proxy)?);
    let sent = pattern(i);
    let writer = {
        let (stream, sent) = (stream.clone(), sent.clone());
        greenlet::spawn(move || -> io::Result<()> {
            for chunk in sent.chunks(10_000) {
                (&*stream).write_all(chunk)?;
            }
            stream.shutdown(Shutdown::Write) // the proxy passes this on
        })
    };
    let mut received = Vec::with_capacity(DEMO_BYTES);
    (&*stream).read_to_end(&mut received)?; // ends only if the FIN came back
    writer
        .join()
        .map_err(|e| io::Error::other(format!("writer: {e}")))??;
    Ok(received == sent)
}

fn demo() -> io::Result<bool> {
    let target = StreamServer::bind("127.0.0.1:0", echo)?;
    target.start();
    let target_addr = target.local_addr()?;
    let proxy_server = {
        let target = target_addr.to_string();
        StreamServer::bind("127.0.0.1:0", move |client, peer| {
            proxy(client, peer, &target)
        })?
    };
    proxy_server.start();
    let proxy_addr = proxy_server.local_addr()?;
    println!("echo server on {target_addr}, proxy on {proxy_addr}");

    let start = Instant::now();
    let clients: Vec<_> = (0..DEMO_CLIENTS)
        .map(|i| greenlet::spawn(move || demo_client(proxy_addr, i)))
        .collect();
    let mut good = 0;
    for (i, result) in greenlet::joinall(clients).into_iter().enumerate() {
        match result {
            Ok(Ok(true)) => good += 1,
            Ok(Ok(false)) => println!("client {i}: the bytes came back changed"),
            Ok(Err(e)) => println!("client {i}: {e}"),
            Err(e) => println!("client {i}: {e}"),
        }
    }
    println!(
        "{good} of {DEMO_CLIENTS} clients sent {} KiB each through the proxy, half-closed, \
         and got every byte back followed by the end of stream, in {:.2} s",
        DEMO_BYTES / 1024,
        start.elapsed().as_secs_f64()
    );
    // Each connection greenlet ends once both relays have: soon after its
    // client has read the end of stream.
    let deadline = Instant::now() + Duration::from_secs(2);
    while proxy_server.connections() > 0 && Instant::now() < deadline {
        greenlet::sleep(Duration::from_millis(1));
    }
    let open = proxy_server.connections();
    println!("connections the proxy still serves: {open}");
    proxy_server.stop();
    target.stop();
    Ok(good == DEMO_CLIENTS && open == 0)
}

fn main() {
    let mode = parse_args();
    env_logger::init();
    match mode {
        Mode::Demo => match with_timeout(DEMO_LIMIT, demo) {
            Ok(Ok(true)) => println!("ok"),
            Ok(Ok(false)) => {
                println!("FAILED");
                exit(1);
            }
            Ok(Err(e)) => {
                eprintln!("tcp_proxy: demo: {e}");
                exit(1);
            }
            Err(_) => {
                eprintln!("tcp_proxy: demo: not done within {DEMO_LIMIT:?}");
                exit(1);
            }
        },
        Mode::Proxy { listen, target } => {
            if let Err(e) = serve(&listen, target) {
                eprintln!("tcp_proxy: cannot listen on {listen}: {e}");
                exit(1);
            }
        }
    }
}
