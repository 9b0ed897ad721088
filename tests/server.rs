//! `StreamServer` on real loopback sockets: a greenlet per connection,
//! `max_connections`, `stop` (from outside and from a handler, with its
//! timeout), panicking handlers, running out of descriptors in a child
//! process; and the `file_server` example's request handling, which this
//! file includes as a module.
//!
//! A socket that a bug could leave waiting for ever gets a read timeout of
//! [`PATIENCE`], so such a bug fails the test instead of hanging it.

mod util;

#[path = "../examples/file_server.rs"]
#[allow(dead_code)] // its `main` and argument parsing
mod file_server;

use std::cell::{Cell, RefCell};
use std::env;
use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use greenlet::event::Event;
use greenlet::net::{Shutdown, TcpStream};
use greenlet::queue::Queue;
use greenlet::server::StreamServer;
use greenlet::{Greenlet, joinall, sleep, spawn, yield_now};
use util::{DropFlag, LONG, assert_elapsed, flag, ms, panic_text, wait_until};

/// How long a test waits for something that should happen at once before it
/// calls it a failure.
const PATIENCE: Duration = Duration::from_secs(5);

/// Connects to `addr`, every wait bounded by [`PATIENCE`].
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Connects to `addr` and reads until the server closes the connection.
fn fetch_all(addr: SocketAddr) -> io::Result<String> {
    let mut reply = String::new();
    connect(addr).read_to_string(&mut reply)?;
    Ok(reply)
}

/// Counts handlers inside at once, and the most ever.
#[derive(Clone, Default)]
struct Inside {
    now: Rc<Cell<usize>>,
    most: Rc<Cell<usize>>,
}

impl Inside {
    fn enter(&self) -> InsideGuard {
        self.now.set(self.now.get() + 1);
        self.most.set(self.most.get().max(self.now.get()));
        InsideGuard(self.now.clone())
    }
}

struct InsideGuard(Rc<Cell<usize>>);

impl Drop for InsideGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// A server whose handlers each wait for a token from `gate`, then reply
/// "served"; `inside` counts the handlers running.
fn gated_server(max: usize) -> (StreamServer, Queue<()>, Inside) {
    let gate = Queue::new();
    let inside = Inside::default();
    let server = {
        let (gate, inside) = (gate.clone(), inside.clone());
        StreamServer::bind("127.0.0.1:0", move |mut stream, _| {
            let _inside = inside.enter();
            gate.get();
            stream.write_all(b"served").unwrap();
        })
        .unwrap()
        .max_connections(max)
    };
    (server, gate, inside)
}

/// `n` clients, each in a greenlet, each reading its whole reply.
fn clients(addr: SocketAddr, n: usize) -> Vec<Greenlet<io::Result<String>>> {
    (0..n).map(|_| spawn(move || fetch_all(addr))).collect()
}

#[test]
fn each_connection_is_served_in_its_own_greenlet_so_many_are_served_at_once() {
    const CLIENTS: usize = 50;
    let deadline = Instant::now() + PATIENCE;
    let arrived = Rc::new(Cell::new(0));
    let all_here = Event::new();
    let server = {
        let (arrived, all_here) = (arrived.clone(), all_here.clone());
        // Each handler waits until every client's handler has started: only
        // handlers that run at once can all get there.
        StreamServer::bind("127.0.0.1:0", move |mut stream, _| {
            arrived.set(arrived.get() + 1);
            if arrived.get() == CLIENTS {
                all_here.set();
            }
            let together =
                all_here.wait_timeout(deadline.saturating_duration_since(Instant::now()));
            let reply: &[u8] = if together { b"together" } else { b"alone" };
            stream.write_all(reply).unwrap();
        })
        .unwrap()
    };
    server.start();
    let replies = joinall(clients(server.local_addr().unwrap(), CLIENTS));
    for reply in replies {
        assert_eq!(reply.unwrap().unwrap(), "together");
    }
    server.stop();
}

#[test]
fn max_connections_never_runs_more_than_n_handlers_at_once() {
    let (server, gate, inside) = gated_server(4);
    server.start();
    let clients = clients(server.local_addr().unwrap(), 20);
    wait_until(PATIENCE, || inside.now.get() == 4);
    // Let the server run a while with 16 clients queued: it must not take
    // a fifth.
    for _ in 0..100 {
        yield_now();
    }
    assert_eq!(inside.now.get(), 4);
    assert_eq!(server.connections(), 4);
    for _ in 0..20 {
        gate.put(());
    }
    for reply in joinall(clients) {
        assert_eq!(reply.unwrap().unwrap(), "served");
    }
    assert_eq!(inside.most.get(), 4);
    assert_eq!(server.connections(), 0);
    server.stop();
}

#[test]
fn clients_beyond_max_connections_wait_and_are_all_served_none_closed() {
    let (server, gate, inside) = gated_server(2);
    server.start();
    let clients = clients(server.local_addr().unwrap(), 10);
    wait_until(PATIENCE, || inside.now.get() == 2);
    // The eight others are connected and waiting, not closed: none of them
    // has seen the end of its stream.
    for _ in 0..100 {
        yield_now();
    }
    assert!(clients.iter().all(|c| !c.is_finished()));
    // Let them through one at a time; each release lets exactly one more in.
    for served in 1..=10 {
        gate.put(());
        wait_until(PATIENCE, || {
            clients.iter().filter(|c| c.is_finished()).count() == served
        });
        assert!(inside.now.get() <= 2);
    }
    for reply in joinall(clients) {
        assert_eq!(reply.unwrap().unwrap(), "served");
    }
    assert_eq!(inside.most.get(), 2);
    server.stop();
}

#[test]
fn stop_makes_the_port_refuse_connections_and_serve_forever_return() {
    let server = Rc::new(
        StreamServer::bind("127.0.0.1:0", |mut stream, _| {
            stream.write_all(b"hi").unwrap();
        })
        .unwrap(),
    );
    let addr = server.local_addr().unwrap();
    let serving = {
        let server = server.clone();
        spawn(move || server.serve_forever())
    };
    assert_eq!(fetch_all(addr).unwrap(), "hi");
    server.stop();
    assert!(
        serving.wait_timeout(PATIENCE),
        "serve_forever did not return"
    );
    serving.join().unwrap();
    let refused = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn stop_called_from_a_handler_stops_the_server_and_leaves_that_handler_running() {
    let me: Rc<RefCell<Option<Rc<StreamServer>>>> = Rc::default();
    let handler_finished = flag();
    let server = {
        let (me, handler_finished) = (me.clone(), handler_finished.clone());
        Rc::new(
            StreamServer::bind("127.0.0.1:0", move |mut stream, _| {
                let server = me.borrow().clone().expect("the server is set");
                server.stop();
                stream.write_all(b"after stop").unwrap();
                handler_finished.set(true);
            })
            .unwrap(),
        )
    };
    *me.borrow_mut() = Some(server.clone());
    let addr = server.local_addr().unwrap();
    let client = spawn(move || fetch_all(addr));
    server.serve_forever(); // returns once the handler has stopped it
    assert_eq!(client.join().unwrap().unwrap(), "after stop");
    assert!(handler_finished.get());
    let refused = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    me.borrow_mut().take(); // the server held itself through its handler
}

#[test]
fn stop_lets_handlers_that_finish_within_stop_timeout_finish() {
    let server = StreamServer::bind("127.0.0.1:0", |mut stream, _| {
        sleep(ms(50));
        stream.write_all(b"done").unwrap();
    })
    .unwrap()
    .stop_timeout(PATIENCE);
    server.start();
    let addr = server.local_addr().unwrap();
    let client = spawn(move || fetch_all(addr));
    wait_until(PATIENCE, || server.connections() == 1);
    let start = Instant::now();
    server.stop();
    assert_elapsed(start.elapsed(), ms(0), ms(2000));
    assert_eq!(client.join().unwrap().unwrap(), "done");
}

#[test]
fn stop_kills_handlers_still_running_after_stop_timeout() {
    let dropped = flag();
    let server = {
        let dropped = dropped.clone();
        StreamServer::bind("127.0.0.1:0", move |_stream, _| {
            let _flag = DropFlag(dropped.clone());
            sleep(LONG);
        })
        .unwrap()
        .stop_timeout(ms(100))
    };
    server.start();
    let addr = server.local_addr().unwrap();
    let client = spawn(move || fetch_all(addr));
    wait_until(PATIENCE, || server.connections() == 1);
    let start = Instant::now();
    server.stop();
    assert_elapsed(start.elapsed(), ms(100), ms(1000));
    assert!(dropped.get(), "the handler was not unwound");
    assert_eq!(server.connections(), 0);
    // Its connection was closed with it.
    assert_eq!(client.join().unwrap().unwrap(), "");
}

#[test]
fn a_panicking_handler_ends_only_its_own_connection() {
    let server = StreamServer::bind("127.0.0.1:0", |stream, _| {
        let mut lines = BufReader::new(&stream);
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap() > 0 {
            assert_ne!(line, "panic\n", "told to panic");
            (&stream).write_all(line.as_bytes()).unwrap();
            line.clear();
        }
    })
    .unwrap();
    server.start();
    let addr = server.local_addr().unwrap();
    let ask = |stream: &TcpStream, line: &str| {
        (&*stream).write_all(line.as_bytes()).unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        reply
    };

    let calm = connect(addr);
    assert_eq!(ask(&calm, "hello\n"), "hello\n");
    let doomed = connect(addr);
    assert_eq!(ask(&doomed, "panic\n"), ""); // closed by the unwinding
    assert_eq!(ask(&calm, "still here\n"), "still here\n");
    let fresh = connect(addr);
    assert_eq!(ask(&fresh, "new\n"), "new\n");
    assert_eq!(server.connections(), 2);
    server.stop();
}

#[test]
fn start_twice_panics() {
    let server = StreamServer::bind("127.0.0.1:0", |_, _| {}).unwrap();
    server.start();
    let second = panic::catch_unwind(AssertUnwindSafe(|| server.start())).unwrap_err();
    assert!(
        panic_text(&*second).contains("already serving"),
        "{}",
        panic_text(&*second)
    );
    server.stop();
}

// ---- Running out of descriptors, in a child process ----

/// Set in the child's environment: the child test then serves.
const CHILD_ENV: &str = "GREENLET_EMFILE_CHILD";
/// The child's descriptor limit.
const CHILD_FD_LIMIT: usize = 64;
/// What the child prints before its address.
const ADDR_LINE: &str = "emfile child listening on ";

/// Not a test of its own: the server that
/// `a_child_with_a_low_descriptor_limit_keeps_serving_after_the_limit_is_hit_and_released`
/// runs in a child process. Without `GREENLET_EMFILE_CHILD` set it returns
/// at once.
#[test]
fn three_thousand_back_to_back_connects_to_a_stream_server_take_under_a_second() {
    // About 0.1 s here; a connect whose SYN the kernel dropped would wait a
    // second for its retry. The client is a greenlet of the server's own
    // hub, so at most one connection waits to be accepted at a time: a
    // client thread that outpaced the accept loop could fill any backlog.
    const CONNECTS: usize = 3_000;
    let server = StreamServer::bind("127.0.0.1:0", |stream, _| drop(stream)).unwrap();
    server.start();
    let addr = server.local_addr().unwrap();
    let start = Instant::now();
    let client = spawn(move || {
        for _ in 0..CONNECTS {
            TcpStream::connect(addr)?;
        }
        io::Result::Ok(())
    });
    client.join().unwrap().unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "{CONNECTS} connects one after another took {elapsed:?}"
    );
    server.stop();
}

/// The handler of `StreamServer`'s doc example: echoes each line.
fn doc_example_echo(stream: TcpStream, _peer: SocketAddr) {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if (&stream).write_all(line.as_bytes()).is_err() {
            break;
        }
        line.clear();
    }
}

#[test]
fn the_stream_server_doc_example_keeps_pipelined_lines() {
    let server = StreamServer::bind("127.0.0.1:0", doc_example_echo).unwrap();
    server.start();
    let mut client = connect(server.local_addr().unwrap());
    client.write_all(b"one\ntwo\n").unwrap(); // both lines in one segment
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "one\ntwo\n");
    server.stop();
}

#[test]
fn a_thousand_simultaneous_connects_to_a_stream_server_all_connect_within_a_second() {
    // Every SYN is sent before the accept loop runs again, so all 1,000 wait
    // in the accept queue at once: with std's backlog of 128 the kernel drops
    // the rest, and their clients send them again only after a second.
    const CLIENTS: usize = 1_000;
    let server = StreamServer::bind("127.0.0.1:0", |stream, _| drop(stream)).unwrap();
    server.start();
    let addr = server.local_addr().unwrap();
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| spawn(move || TcpStream::connect(addr).map(drop)))
        .collect();
    for client in joinall(clients) {
        client.unwrap().unwrap();
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "{CLIENTS} simultaneous connects took {elapsed:?}: some SYNs were dropped and sent again"
    );
    server.stop();
}

#[test]
fn descriptor_limit_child_serves_only_when_run_by_its_parent_test() {
    if env::var_os(CHILD_ENV).is_none() {
        return;
    }
    env_logger::Builder::new()
        .parse_filters("greenlet=info")
        .init();
    // Each connection gets "hello\n" and is then held open until the
    // client closes it.
    let server = StreamServer::bind("127.0.0.1:0", |stream, _| {
        if (&stream).write_all(b"hello\n").is_err() {
            return;
        }
        let mut buf = [0u8; 64];
        while matches!((&stream).read(&mut buf), Ok(n) if n > 0) {}
    })
    .unwrap();
    println!("{ADDR_LINE}{}", server.local_addr().unwrap());
    // Should the parent die without killing this process, it ends anyway.
    spawn(|| {
        sleep(Duration::from_secs(60));
        std::process::exit(3);
    });
    server.serve_forever();
}

/// Kills and reaps the child process however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's output so far (stdout and stderr, as lines arrive).
#[derive(Clone, Default)]
struct Output(Arc<Mutex<String>>);

impl Output {
    fn collect(&self, pipe: impl Read + Send + 'static, lines: mpsc::Sender<String>) {
        let text = self.0.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                text.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = lines.send(line);
            }
        });
    }

    fn contains(&self, needle: &str) -> bool {
        self.0.lock().unwrap().contains(needle)
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// CPU time (user + system) the process `pid` has used, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may
    // hold spaces: state is the first of them, utime the 12th, stime the 13th.
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

/// Reads the child's "hello\n" from `stream`: true once it arrives, false if
/// the child reports meanwhile that it cannot accept.
fn served_or_refused(stream: &mut std::net::TcpStream, output: &Output) -> bool {
    stream.set_read_timeout(Some(ms(10))).unwrap();
    let start = Instant::now();
    let mut hello = [0u8; 6];
    loop {
        match stream.read(&mut hello) {
            Ok(6) => {
                assert_eq!(&hello, b"hello\n");
                return true;
            }
            Ok(n) => panic!("the child sent {n} bytes instead of hello, or closed"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading from the child: {e}"),
        }
        if output.contains("cannot accept") {
            return false;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "neither served nor refused; child output:\n{}",
            output.text()
        );
    }
}

#[test]
fn a_child_with_a_low_descriptor_limit_keeps_serving_after_the_limit_is_hit_and_released() {
    if env::var_os(CHILD_ENV).is_some() {
        return; // this is the child
    }
    let exe = env::current_exe().unwrap();
    let script = format!(
        "ulimit -n {CHILD_FD_LIMIT} && exec \"$0\" --exact \
         descriptor_limit_child_serves_only_when_run_by_its_parent_test --nocapture"
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(exe)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let pid = child.0.id(); // `exec` keeps the shell's pid
    let output = Output::default();
    let (lines, addr_line) = mpsc::channel();
    output.collect(child.0.stdout.take().unwrap(), lines.clone());
    output.collect(child.0.stderr.take().unwrap(), lines);
    let addr: SocketAddr = loop {
        let line = addr_line
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no address from the child:\n{}", output.text()));
        if let Some(addr) = line.strip_prefix(ADDR_LINE) {
            break addr.parse().unwrap();
        }
    };

    // Open connections, each held, until the child cannot accept any more.
    let mut held = Vec::new();
    let mut served = 0;
    loop {
        assert!(
            held.len() <= CHILD_FD_LIMIT,
            "the child accepted more than its limit allows"
        );
        let mut stream = std::net::TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
        let was_served = served_or_refused(&mut stream, &output);
        held.push(stream);
        if !was_served {
            break;
        }
        served += 1;
    }
    assert!(served > 0, "the child served nobody");

    // While out of descriptors, the child waits on a timer rather than
    // retrying at once.
    let wall = Duration::from_millis(500);
    let before = cpu_time(pid);
    thread::sleep(wall);
    let used = cpu_time(pid) - before;
    println!("served {served} connections before running out; then {used:?} of CPU in {wall:?}");
    assert!(
        used < wall / 4,
        "the child used {used:?} of CPU in {wall:?} while out of descriptors"
    );
    // ... and the last connection is still waiting.
    let last = held.last_mut().unwrap();
    last.set_read_timeout(Some(ms(10))).unwrap();
    let still = last.read(&mut [0u8; 6]).unwrap_err();
    assert!(matches!(
        still.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));

    // Closing them frees the child's descriptors: it serves again.
    held.clear();
    let mut fresh = std::net::TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
    fresh.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut hello = [0u8; 6];
    fresh.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello\n");
    let start = Instant::now();
    while !output.contains("accepting again") {
        assert!(start.elapsed() < PATIENCE, "{}", output.text());
        thread::sleep(ms(5));
    }
    drop(child);
}

// ---- The file_server example ----

/// A directory tree for one test, removed when dropped:
/// `secret.txt` beside the served `site/`, which holds `hello.txt`,
/// `sub/page.html`, and two symbolic links to `secret.txt`: `escape` and
/// `linked/index.html`.
struct Site {
    base: PathBuf,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = env::temp_dir().join(format!(
            "greenlet-server-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let site = base.join("site");
        fs::create_dir_all(site.join("sub")).unwrap();
        fs::write(base.join("secret.txt"), "outside the root\n").unwrap();
        fs::write(site.join("hello.txt"), "hello, world\n").unwrap();
        fs::write(site.join("sub").join("page.html"), "<p>page</p>\n").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), site.join("escape")).unwrap();
        fs::create_dir(site.join("linked")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), site.join("linked/index.html"))
            .unwrap();
        let root = file_server::canonical_root(&site).unwrap();
        Site { base, root }
    }

    /// Serves the site with the example's `handle` until the server is
    /// stopped.
    fn serve(&self) -> StreamServer {
        let root = self.root.clone();
        let server = StreamServer::bind("127.0.0.1:0", move |stream, _| {
            let _ = file_server::handle(&stream, &root);
        })
        .unwrap();
        server.start();
        server
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// An HTTP answer, split up.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `request` as it is and reads the answer to its end.
fn http(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a blank line after the head");
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let status = head
        .strip_prefix("HTTP/1.0 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.0 status line: {head:?}"));
    Answer {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    http(addr, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
}

#[test]
fn file_server_serves_a_file_with_its_length_and_type() {
    let site = Site::new();
    let server = site.serve();
    let answer = get(server.local_addr().unwrap(), "/hello.txt");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, b"hello, world\n");
    assert_eq!(answer.header("Content-Length"), Some("13"));
    assert_eq!(
        answer.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let page = get(server.local_addr().unwrap(), "/sub/page.html?query=1");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.body, b"<p>page</p>\n");
    server.stop();
}

#[test]
fn file_server_serves_a_large_file_whole() {
    let site = Site::new();
    let data: Vec<u8> = (0..3_000_000u32).map(|n| (n % 251) as u8).collect();
    fs::write(site.root.join("big.bin"), &data).unwrap();
    let server = site.serve();
    let answer = get(server.local_addr().unwrap(), "/big.bin");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Content-Length"), Some("3000000"));
    assert_eq!(
        answer.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert!(answer.body == data, "the body differs from the file");
    server.stop();
}

#[test]
fn file_server_answers_head_with_the_length_and_no_body() {
    let site = Site::new();
    let server = site.serve();
    let answer = http(
        server.local_addr().unwrap(),
        b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Content-Length"), Some("13"));
    assert!(answer.body.is_empty());
    server.stop();
}

#[test]
fn file_server_answers_404_with_a_page_for_a_missing_file() {
    let site = Site::new();
    let server = site.serve();
    let addr = server.local_addr().unwrap();
    for path in [
        "/missing.txt",
        "/hello.txt/below-a-file",
        "/sub/missing/deeper",
    ] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 404, "{path}");
        assert!(String::from_utf8_lossy(&answer.body).contains("404 Not Found"));
        assert_eq!(
            answer.header("Content-Length"),
            Some(answer.body.len().to_string().as_str())
        );
    }
    server.stop();
}

#[test]
fn file_server_refuses_parent_directory_components() {
    let site = Site::new();
    let server = site.serve();
    let addr = server.local_addr().unwrap();
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/sub/../hello.txt",
        "/../site/hello.txt",
    ] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 403, "{path}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("outside the root"));
    }
    server.stop();
}

#[test]
fn file_server_refuses_percent_escaped_parent_directories() {
    let site = Site::new();
    let server = site.serve();
    let addr = server.local_addr().unwrap();
    for path in [
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/.%2e/secret.txt",
    ] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 403, "{path}");
    }
    server.stop();
}

#[test]
fn file_server_refuses_absolute_paths() {
    let site = Site::new();
    let server = site.serve();
    let addr = server.local_addr().unwrap();
    let secret = site.base.join("secret.txt");
    let escaped = format!("/%2F{}", &secret.display().to_string()[1..]);
    for path in [
        "//etc/passwd",
        "/%2fetc/passwd",
        &format!("/{}", secret.display()),
        &escaped,
    ] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 403, "{path}");
    }
    server.stop();
}

#[test]
fn file_server_refuses_symbolic_links_that_lead_out_of_the_root() {
    let site = Site::new();
    let server = site.serve();
    let addr = server.local_addr().unwrap();
    for path in ["/escape", "/linked/", "/linked"] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 403, "{path}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("outside the root"));
    }
    server.stop();
}

#[test]
fn file_server_lists_a_directory_without_an_index() {
    let site = Site::new();
    let server = site.serve();
    let answer = get(server.local_addr().unwrap(), "/sub/");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(answer.body).unwrap();
    assert!(
        page.contains("<a href=\"/sub/page.html\">page.html</a>"),
        "{page}"
    );
    server.stop();
}

#[test]
fn file_server_answers_400_to_malformed_requests() {
    let site = Site::new();
    let server = site.serve();
    let addr = server.local_addr().unwrap();
    let malformed: [&[u8]; 10] = [
        b"hello\r\n\r\n",
        b"GET /hello.txt\r\n\r\n",
        b"GET /hello.txt HTTP/1.0 extra\r\n\r\n",
        b"GET hello.txt HTTP/1.0\r\n\r\n",
        b"GET /hello.txt HTTP/9.9\r\n\r\n",
        b"GET /bad%zzescape HTTP/1.0\r\n\r\n",
        b"GET /nul%00byte HTTP/1.0\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.0\r\n\r\n",
        b"GET /hello.txt HTTP/1.0\r\nno colon here\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ];
    for request in malformed {
        let answer = http(addr, request);
        assert_eq!(answer.status, 400, "{:?}", String::from_utf8_lossy(request));
    }
    server.stop();
}

#[test]
fn file_server_answers_501_to_other_methods() {
    let site = Site::new();
    let server = site.serve();
    let answer = http(
        server.local_addr().unwrap(),
        b"DELETE /hello.txt HTTP/1.0\r\n\r\n",
    );
    assert_eq!(answer.status, 501);
    assert!(site.root.join("hello.txt").exists());
    server.stop();
}

#[test]
fn file_server_answers_431_to_a_head_over_its_limit() {
    let site = Site::new();
    let server = site.serve();
    let mut request = b"GET /hello.txt HTTP/1.0\r\n".to_vec();
    while request.len() <= file_server::MAX_HEAD + 100 {
        request.extend_from_slice(b"X-Padding: 0123456789abcdef0123456789abcdef\r\n");
    }
    request.extend_from_slice(b"\r\n");
    let answer = http(server.local_addr().unwrap(), &request);
    assert_eq!(answer.status, 431);
    server.stop();
}

#[test]
fn file_server_resolve_keeps_every_path_under_the_root() {
    let site = Site::new();
    let root: &Path = &site.root;
    use file_server::{Status, resolve};
    assert_eq!(resolve(root, "/hello.txt"), Ok(root.join("hello.txt")));
    assert_eq!(
        resolve(root, "/./sub/page.html"),
        Ok(root.join("sub/page.html"))
    );
    assert_eq!(resolve(root, "/"), Ok(root.to_path_buf()));
    assert_eq!(resolve(root, "/../secret.txt"), Err(Status::Forbidden));
    assert_eq!(resolve(root, "//etc/passwd"), Err(Status::Forbidden));
    assert_eq!(resolve(root, "/escape"), Err(Status::Forbidden));
    assert_eq!(resolve(root, "/nothing"), Err(Status::NotFound));
}
