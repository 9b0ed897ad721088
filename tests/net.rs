//! `greenlet::net` TCP on real loopback sockets: many clients at once, large
//! transfers through one shared stream, timeouts, kills, host names, and the
//! std-shaped methods.
//!
//! A socket that a bug could leave waiting for ever gets a read (and write)
//! timeout of [`PATIENCE`], so such a bug fails the test instead of hanging it.

mod util;

use std::cell::Cell;
use std::io::{BufRead, BufReader, ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use greenlet::net::{Shutdown, TcpListener, TcpStream, lookup_host};
use greenlet::{Elapsed, joinall, sleep, spawn, stats, with_timeout, yield_now};
use util::{LONG, assert_elapsed, flag, ms};

/// How long a test waits for something that should happen at once before it
/// calls it a failure.
const PATIENCE: Duration = Duration::from_secs(5);

/// A connected pair on 127.0.0.1: (client, server).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect_timeout(&listener.local_addr().unwrap(), PATIENCE).unwrap();
    let (server, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// Bounds every wait on `stream`, so that a lost wake-up fails the test.
fn with_patience(stream: TcpStream) -> TcpStream {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// A loopback address with nothing listening on it (a port that was free a
/// moment ago).
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A std listener (backlog 128) that is never accepted on, filled until a
/// further connection attempt goes unanswered: its address, and the
/// connections that hold the queue full.
fn full_listener() -> (std::net::TcpListener, Vec<std::net::TcpStream>, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&addr, ms(100)) {
            Ok(stream) => held.push(stream),
            Err(e) if e.kind() == ErrorKind::TimedOut => return (listener, held, addr),
            Err(e) => panic!("filling the backlog: {e}"),
        }
        assert!(held.len() < 2000, "the backlog never filled");
    }
}

/// Reads `len` bytes from a non-blocking `stream`, calling `between` after
/// each WouldBlock; fails after 2 s.
fn read_polling(stream: &TcpStream, len: usize, mut between: impl FnMut()) -> Vec<u8> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < len {
        let mut buf = [0; 64];
        match (&*stream).read(&mut buf[..len - got.len()]) {
            Ok(0) => panic!("end of stream after {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(
                    start.elapsed() < Duration::from_secs(2),
                    "only {got:?} showed in 2 s"
                );
                between();
            }
            Err(e) => panic!("{e}"),
        }
    }
    got
}

/// Byte `i` of a test transfer: a multiplicative hash of `i`, so that a lost,
/// repeated or reordered chunk of any size shows.
fn pattern_byte(i: usize) -> u8 {
    ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Echoes lines until end of stream; returns how many it echoed.
fn echo_lines(stream: TcpStream) -> usize {
    let stream = with_patience(stream);
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    let mut echoed = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            return echoed;
        }
        (&stream).write_all(line.as_bytes()).unwrap();
        echoed += 1;
    }
}

// ---- many connections, large transfers ------------------------------------

#[test]
fn a_thousand_concurrent_clients_each_get_exactly_their_own_lines_echoed() {
    const CLIENTS: usize = 1000;
    const LINES: usize = 5;
    let start = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn(move || {
        let handlers: Vec<_> = listener
            .incoming()
            .take(CLIENTS)
            .map(|stream| {
                let stream = stream.unwrap();
                spawn(move || echo_lines(stream))
            })
            .collect();
        joinall(handlers)
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<usize>>()
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            spawn(move || {
                let stream = with_patience(TcpStream::connect(addr).unwrap());
                let mut reader = BufReader::new(&stream);
                let mut replies = Vec::new();
                for line in 0..LINES {
                    // Lines of different lengths, some longer than one read.
                    let sent = format!("client {client} line {line} {}\n", "x".repeat(line * 37));
                    (&stream).write_all(sent.as_bytes()).unwrap();
                    let mut reply = String::new();
                    reader.read_line(&mut reply).unwrap();
                    replies.push((sent, reply));
                }
                stream.shutdown(Shutdown::Write).unwrap();
                let mut rest = String::new();
                reader.read_to_string(&mut rest).unwrap();
                (replies, rest)
            })
        })
        .collect();
    for (client, result) in joinall(clients).into_iter().enumerate() {
        let (replies, rest) = result.unwrap();
        for (sent, reply) in replies {
            assert_eq!(reply, sent, "client {client}");
        }
        assert_eq!(rest, "", "client {client} got more than its lines");
    }
    let echoed = server.join().unwrap();
    assert_eq!(echoed, vec![LINES; CLIENTS]);
    eprintln!("1,000 echo clients took {:?}", start.elapsed());
}

#[test]
fn eight_mib_written_by_one_greenlet_come_back_intact_to_another_reading_the_same_shared_stream() {
    const TOTAL: usize = 8 << 20;
    let (client, server) = pair();
    let server = with_patience(server);
    let echo = spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        let mut echoed = 0;
        loop {
            let n = (&server).read(&mut buf).unwrap();
            if n == 0 {
                return echoed; // dropping `server` ends the client's stream
            }
            (&server).write_all(&buf[..n]).unwrap();
            echoed += n;
        }
    });
    let client = Rc::new(with_patience(client));
    let writer = {
        let client = client.clone();
        spawn(move || {
            let data: Vec<u8> = (0..TOTAL).map(pattern_byte).collect();
            // An odd chunk size, so writes straddle the socket buffers.
            for chunk in data.chunks(100_003) {
                (&*client).write_all(chunk).unwrap();
            }
            client.shutdown(Shutdown::Write).unwrap();
        })
    };
    let reader = {
        let client = client.clone();
        spawn(move || {
            let mut got = Vec::with_capacity(TOTAL);
            (&*client).read_to_end(&mut got).unwrap();
            got
        })
    };
    writer.join().unwrap();
    let got = reader.join().unwrap();
    assert_eq!(echo.join().unwrap(), TOTAL);
    assert_eq!(got.len(), TOTAL);
    let first_wrong = (0..TOTAL).find(|&i| got[i] != pattern_byte(i));
    assert_eq!(first_wrong, None, "the bytes differ from this offset on");
}

// ---- timeouts and errors ---------------------------------------------------

#[test]
fn a_read_past_its_read_timeout_fails_with_would_block_as_std_does_on_linux() {
    let (client, _server) = pair();
    client.set_read_timeout(Some(ms(20))).unwrap();
    let ours = (&client).read(&mut [0; 8]).unwrap_err().kind();

    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_client = std::net::TcpStream::connect(std_listener.local_addr().unwrap()).unwrap();
    std_client.set_read_timeout(Some(ms(20))).unwrap();
    let std_kind = (&std_client).read(&mut [0; 8]).unwrap_err().kind();

    assert_eq!(ours, std_kind);
    assert_eq!(ours, ErrorKind::WouldBlock);
}

#[test]
fn a_read_timeout_fires_after_about_the_timeout() {
    let (client, _server) = pair();
    client.set_read_timeout(Some(ms(100))).unwrap();
    let start = Instant::now();
    let _ = (&client).read(&mut [0; 8]);
    // 1.5 x 100 ms plus 100 ms of slack for a busy machine.
    assert_elapsed(start.elapsed(), ms(100), ms(250));
}

#[test]
fn a_read_timeout_in_a_greenlet_fires_after_about_the_timeout() {
    let (client, _server) = pair();
    let g = spawn(move || {
        client.set_read_timeout(Some(ms(100))).unwrap();
        let start = Instant::now();
        let kind = (&client).read(&mut [0; 8]).unwrap_err().kind();
        (kind, start.elapsed())
    });
    let (kind, took) = g.join().unwrap();
    assert_eq!(kind, ErrorKind::WouldBlock);
    assert_elapsed(took, ms(100), ms(250));
}

#[test]
fn a_read_with_a_read_timeout_returns_data_that_arrives_in_time() {
    let (client, server) = pair();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let _writer = spawn(move || {
        sleep(ms(20));
        (&server).write_all(b"in time").unwrap();
        sleep(LONG); // keeps the stream open
    });
    let mut buf = [0; 16];
    let n = (&client).read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"in time");
}

#[test]
fn a_stream_is_still_usable_after_a_read_timed_out() {
    let (client, server) = pair();
    client.set_read_timeout(Some(ms(10))).unwrap();
    let kind = (&client).read(&mut [0; 8]).unwrap_err().kind();
    assert_eq!(kind, ErrorKind::WouldBlock);
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    (&server).write_all(b"later").unwrap();
    let mut buf = [0; 5];
    (&client).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"later");
}

#[test]
fn a_zero_read_or_write_timeout_is_invalid_input_as_in_std() {
    let (client, _server) = pair();
    let read = client.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    let write = client.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(read.kind(), ErrorKind::InvalidInput);
    assert_eq!(write.kind(), ErrorKind::InvalidInput);
    assert_eq!(client.read_timeout().unwrap(), None);
}

#[test]
fn a_write_that_cannot_finish_before_its_write_timeout_fails_with_would_block() {
    let (client, _server) = pair(); // the server never reads
    client.set_write_timeout(Some(ms(100))).unwrap();
    let chunk = vec![7; 1 << 20];
    let start = Instant::now();
    let mut written = 0usize;
    let error = loop {
        match (&client).write(&chunk) {
            Ok(n) => written += n,
            Err(e) => break e,
        }
        assert!(written < 1 << 30, "wrote 1 GiB without filling the buffers");
    };
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    // The buffers fill at once; then one write waits its 100 ms.
    assert_elapsed(start.elapsed(), ms(100), ms(1000));
}

#[test]
fn connect_to_a_closed_port_fails_with_connection_refused() {
    let error = TcpStream::connect(closed_port()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn connect_to_a_closed_port_in_a_greenlet_fails_with_connection_refused() {
    let addr = closed_port();
    let g = spawn(move || TcpStream::connect(addr).map(drop));
    assert_eq!(
        g.join().unwrap().unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn connect_timeout_with_a_zero_timeout_fails_with_invalid_input() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let error = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[test]
fn connect_timeout_to_a_closed_port_fails_with_connection_refused() {
    let error = TcpStream::connect_timeout(&closed_port(), PATIENCE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn connect_timeout_to_a_listener_connects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
    assert_eq!(stream.peer_addr().unwrap(), addr);
}

#[test]
fn connect_timeout_to_a_listener_that_never_answers_fails_with_timed_out_after_about_the_timeout() {
    let (_listener, _held, addr) = full_listener();
    let start = Instant::now();
    let error = TcpStream::connect_timeout(&addr, ms(100)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert_elapsed(start.elapsed(), ms(100), ms(250));
}

#[test]
fn with_timeout_interrupts_a_connect_to_a_listener_that_never_answers() {
    let (_listener, _held, addr) = full_listener();
    let g = spawn(move || with_timeout(ms(50), || TcpStream::connect(addr).map(drop)));
    assert_eq!(g.join().unwrap().unwrap_err(), Elapsed::default());
}

#[test]
fn a_greenlet_waiting_in_connect_does_not_stop_others_running() {
    let (_listener, _held, addr) = full_listener();
    let connecting = spawn(move || TcpStream::connect_timeout(&addr, PATIENCE).map(drop));
    let other = spawn(|| {
        sleep(ms(20));
        "ran"
    });
    assert_eq!(other.join().unwrap(), "ran");
    assert!(!connecting.is_finished());
    connecting.kill();
    assert!(connecting.join().unwrap_err().is_killed());
}

// ---- with_timeout and kill -------------------------------------------------

#[test]
fn with_timeout_around_accept_returns_elapsed_and_the_listener_dropped_inside_frees_its_port() {
    let bound = Rc::new(Cell::new(None));
    let g = {
        let bound = bound.clone();
        spawn(move || {
            with_timeout(ms(50), || {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                bound.set(Some(listener.local_addr().unwrap()));
                listener.accept().map(drop)
            })
        })
    };
    let result = g.join().unwrap();
    assert_eq!(result.unwrap_err(), Elapsed::default());
    let addr = bound.get().unwrap();
    let again = TcpListener::bind(addr).unwrap();
    assert_eq!(again.local_addr().unwrap(), addr);
}

#[test]
fn binding_the_port_of_a_live_listener_fails_with_addr_in_use() {
    // Shows that the test above would notice a listener that was not closed.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let error = TcpListener::bind(listener.local_addr().unwrap()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AddrInUse);
}

#[test]
fn a_listener_still_accepts_after_with_timeout_interrupted_its_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(with_timeout(ms(20), || listener.accept().map(drop)).is_err());
    let client = spawn(move || TcpStream::connect(addr).unwrap().local_addr().unwrap());
    let (_stream, peer) = with_timeout(PATIENCE, || listener.accept())
        .expect("accept was not woken")
        .unwrap();
    assert_eq!(peer, client.join().unwrap());
}

#[test]
fn a_stream_still_reads_after_with_timeout_interrupted_a_read() {
    let (client, server) = pair();
    let interrupted = with_timeout(ms(20), || (&client).read(&mut [0; 8]).map(drop));
    assert_eq!(interrupted.unwrap_err(), Elapsed::default());
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    (&server).write_all(b"after").unwrap();
    let mut buf = [0; 5];
    (&client).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"after");
}

/// A greenlet that owns `stream` and parks reading it; `returned` is set if
/// its read ever returns.
fn parked_reader(stream: TcpStream, returned: &Rc<Cell<bool>>) -> greenlet::Greenlet<()> {
    let returned = returned.clone();
    let g = spawn(move || {
        let _ = (&stream).read(&mut [0; 8]);
        returned.set(true);
    });
    yield_now(); // let it start and park in its read
    assert_eq!(stats().parked, 1, "the reader did not park");
    g
}

#[test]
fn a_greenlet_killed_while_parked_in_read_joins_as_killed_without_its_read_returning() {
    let (_client, server) = pair();
    let returned = flag();
    let g = parked_reader(server, &returned);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(!returned.get());
}

#[test]
fn the_peer_of_a_greenlet_killed_while_parked_in_read_sees_end_of_stream() {
    let (client, server) = pair();
    let client = with_patience(client);
    let g = parked_reader(server, &flag());
    g.kill();
    let _ = g.join();
    assert_eq!((&client).read(&mut [0; 8]).unwrap(), 0);
}

#[test]
fn killing_one_of_two_greenlets_parked_on_a_shared_stream_leaves_the_other_reading() {
    let (client, server) = pair();
    let client = Rc::new(with_patience(client));
    let victim = {
        let client = client.clone();
        spawn(move || (&*client).read(&mut [0; 8]).map(drop))
    };
    let survivor = {
        let client = client.clone();
        spawn(move || {
            let mut buf = [0; 4];
            (&*client).read_exact(&mut buf).map(|()| buf)
        })
    };
    yield_now();
    assert_eq!(stats().parked, 2);
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    (&server).write_all(b"mine").unwrap();
    assert_eq!(&survivor.join().unwrap().unwrap(), b"mine");
}

// ---- host names and address lists ------------------------------------------

#[test]
fn lookup_host_of_localhost_gives_loopback_addresses_with_the_port() {
    let addrs: Vec<_> = lookup_host("localhost:1").unwrap().collect();
    eprintln!("localhost:1 resolves to {addrs:?}");
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 1));
}

#[test]
fn lookup_host_in_a_greenlet_gives_loopback_addresses() {
    let g = spawn(|| lookup_host(("localhost", 80)).map(Iterator::collect::<Vec<_>>));
    let addrs = g.join().unwrap().unwrap();
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
}

/// A listener on 127.0.0.1 that `localhost` reaches whichever family the
/// name resolves to first: connect tries each address in turn.
fn localhost_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn connect_to_a_host_and_port_pair_reaches_a_listener_on_127_0_0_1() {
    let (listener, port) = localhost_listener();
    let stream = TcpStream::connect(("localhost", port)).unwrap();
    let (_server, peer) = listener.accept().unwrap();
    assert_eq!(peer, stream.local_addr().unwrap());
}

#[test]
fn connect_to_a_host_colon_port_string_reaches_a_listener_on_127_0_0_1() {
    let (listener, port) = localhost_listener();
    let stream = TcpStream::connect(format!("localhost:{port}")).unwrap();
    let (_server, peer) = listener.accept().unwrap();
    assert_eq!(peer, stream.local_addr().unwrap());
}

#[test]
fn connect_to_a_host_name_in_a_greenlet_reaches_the_listener() {
    let (listener, port) = localhost_listener();
    let g = spawn(move || {
        let stream = TcpStream::connect(format!("localhost:{port}")).unwrap();
        stream.local_addr().unwrap()
    });
    let (_server, peer) = listener.accept().unwrap();
    assert_eq!(peer, g.join().unwrap());
}

/// The resolver's threads alive now, found by their name.
fn resolver_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "greenlet-lookup")
        .count()
}

#[test]
fn a_thousand_concurrent_localhost_connects_never_run_more_resolver_threads_than_the_cap() {
    const CLIENTS: usize = 1_000;
    const RESOLVER_CAP: usize = 8; // as `lookup_host` documents
    let (listener, port) = localhost_listener();
    let acceptor = spawn(move || {
        let mut accepted = Vec::with_capacity(CLIENTS);
        while accepted.len() < CLIENTS {
            accepted.push(listener.accept().unwrap());
        }
        accepted.len()
    });
    // An OS thread samples, so that it sees threads that live only while
    // the hub is busy.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = thread::spawn({
        let done = done.clone();
        move || {
            let start = Instant::now();
            let mut most = 0;
            while !done.load(Ordering::Relaxed) && start.elapsed() < PATIENCE {
                most = most.max(resolver_threads());
            }
            most
        }
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| spawn(move || TcpStream::connect(("localhost", port))))
        .collect();
    let streams: Vec<_> = joinall(clients)
        .into_iter()
        .map(|client| client.unwrap().unwrap())
        .collect();
    done.store(true, Ordering::Relaxed);
    let most = sampler.join().unwrap();
    assert_eq!(streams.len(), CLIENTS);
    let accepted = with_timeout(PATIENCE, || acceptor.join().unwrap());
    assert_eq!(accepted.ok(), Some(CLIENTS));
    // Threads stay a while after their last job, so the sampler saw them.
    assert!(
        (1..=RESOLVER_CAP).contains(&most),
        "{most} resolver threads at once; expected 1 to {RESOLVER_CAP}"
    );
}

#[test]
fn connect_tries_each_address_in_turn_until_one_accepts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap();
    let addrs = [closed_port(), closed_port(), open];
    let stream = TcpStream::connect(&addrs[..]).unwrap();
    assert_eq!(stream.peer_addr().unwrap(), open);
}

#[test]
fn connect_to_a_list_of_closed_ports_gives_the_last_error() {
    let addrs = [closed_port(), closed_port()];
    let error = TcpStream::connect(&addrs[..]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn connect_to_an_empty_address_list_fails_with_invalid_input_as_in_std() {
    let none: &[SocketAddr] = &[];
    let ours = TcpStream::connect(none).unwrap_err().kind();
    let std_kind = std::net::TcpStream::connect(none).unwrap_err().kind();
    assert_eq!(ours, ErrorKind::InvalidInput);
    assert_eq!(ours, std_kind);
}

#[test]
fn a_round_trip_over_ipv6_loopback_works() {
    let listener = match TcpListener::bind("[::1]:0") {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("skipped: ::1 is not available here ({e})");
            return;
        }
    };
    let addr = listener.local_addr().unwrap();
    assert!(addr.is_ipv6());
    let echo = spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        echo_lines(stream)
    });
    let client = with_patience(TcpStream::connect(addr).unwrap());
    (&client).write_all(b"over ipv6\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    (&client).read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "over ipv6\n");
    assert_eq!(echo.join().unwrap(), 1);
}

// ---- the hub keeps running -------------------------------------------------

#[test]
fn a_greenlet_parked_in_read_does_not_delay_a_greenlet_ticking_every_10_ms() {
    const TICKS: usize = 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The peer is another thread, so that a read that blocked the whole
    // thread would show as late ticks rather than as a hang.
    let peer = thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        thread::sleep(ms(200));
        stream.write_all(b"!").unwrap();
    });
    let (server, _) = listener.accept().unwrap();
    let server = with_patience(server);
    let start = Instant::now();
    let reader = spawn(move || {
        let mut buf = [0; 1];
        (&server).read_exact(&mut buf).unwrap();
        start.elapsed()
    });
    let ticker = spawn(move || {
        let mut ticks = Vec::with_capacity(TICKS);
        for _ in 0..TICKS {
            sleep(ms(10));
            ticks.push(start.elapsed());
        }
        ticks
    });
    let ticks = ticker.join().unwrap();
    let read_at = reader.join().unwrap();
    peer.join().unwrap();
    assert!(ticks[0] < read_at, "no tick came while the read waited");
    let mut previous = Duration::ZERO;
    for tick in ticks {
        // Each tick is due 10 ms after the last; 50 ms is 5x that.
        assert_elapsed(tick - previous, ms(10), ms(50));
        previous = tick;
    }
    // The read returns when the peer writes, at about 200 ms.
    assert_elapsed(read_at, ms(150), ms(1000));
}

#[test]
fn a_read_in_the_root_runs_the_hub_until_a_greenlet_writes() {
    let (client, server) = pair();
    let client = with_patience(client);
    let writer = spawn(move || {
        sleep(ms(20));
        (&server).write_all(b"from a greenlet").unwrap();
        server // kept open until joined
    });
    let mut buf = [0; 15];
    (&client).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"from a greenlet");
    drop(writer.join().unwrap());
}

#[test]
fn the_root_blocked_in_accept_returns_once_a_sleeping_greenlet_connects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = spawn(move || {
        sleep(ms(50));
        TcpStream::connect(addr).unwrap().local_addr().unwrap()
    });
    let start = Instant::now();
    let (_stream, peer) = listener.accept().unwrap();
    assert_elapsed(start.elapsed(), ms(50), PATIENCE);
    assert_eq!(peer, client.join().unwrap());
}

// ---- std's methods -----------------------------------------------------------

#[test]
fn peek_waits_for_data_and_leaves_it_for_the_next_read() {
    let (client, server) = pair();
    let server = with_patience(server);
    let _writer = spawn(move || {
        sleep(ms(10));
        (&client).write_all(b"peekaboo").unwrap();
        sleep(LONG);
    });
    let mut peeked = [0; 4];
    assert_eq!(server.peek(&mut peeked).unwrap(), 4);
    assert_eq!(&peeked, b"peek");
    let mut read = [0; 8];
    (&server).read_exact(&mut read).unwrap();
    assert_eq!(&read, b"peekaboo");
}

#[test]
fn shutdown_write_gives_the_peer_the_data_then_end_of_stream() {
    let (client, server) = pair();
    let server = with_patience(server);
    let reader = spawn(move || {
        let mut got = Vec::new();
        (&server).read_to_end(&mut got).unwrap();
        got
    });
    yield_now(); // the reader parks first: the end must wake it
    (&client).write_all(b"last words").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(reader.join().unwrap(), b"last words");
}

#[test]
fn a_greenlet_parked_in_read_gets_end_of_stream_when_the_peer_closes() {
    let (client, server) = pair();
    let server = with_patience(server);
    let reader = spawn(move || (&server).read(&mut [0; 8]).unwrap());
    yield_now();
    drop(client);
    assert_eq!(reader.join().unwrap(), 0);
}

#[test]
fn shutdown_read_from_another_greenlet_gives_a_reader_parked_on_the_same_stream_end_of_stream() {
    let (_client, server) = pair();
    let server = Rc::new(with_patience(server));
    let reader = {
        let server = server.clone();
        spawn(move || (&*server).read(&mut [0; 8]).unwrap())
    };
    yield_now();
    assert_eq!(stats().parked, 1);
    server.shutdown(Shutdown::Read).unwrap();
    assert_eq!(reader.join().unwrap(), 0);
}

#[test]
fn several_greenlets_accepting_on_one_listener_share_its_connections() {
    let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let acceptors: Vec<_> = (0..4)
        .map(|_| {
            let listener = listener.clone();
            spawn(move || listener.accept().unwrap().1)
        })
        .collect();
    yield_now();
    assert_eq!(stats().parked, 4);
    let clients: Vec<_> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut peers: Vec<_> = joinall(acceptors).into_iter().map(Result::unwrap).collect();
    let mut addrs: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    peers.sort();
    addrs.sort();
    assert_eq!(peers, addrs);
}

#[test]
fn a_nonblocking_read_with_nothing_to_read_fails_with_would_block_at_once() {
    let (client, _server) = pair();
    client.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let error = (&client).read(&mut [0; 8]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert!(start.elapsed() < ms(500), "took {:?}", start.elapsed());
}

#[test]
fn a_nonblocking_stream_reads_what_has_arrived() {
    let (client, server) = pair();
    client.set_nonblocking(true).unwrap();
    (&server).write_all(b"ready").unwrap();
    // Arrival over loopback is not instant everywhere: poll for it.
    assert_eq!(read_polling(&client, 5, || sleep(ms(1))), b"ready");
}

#[test]
fn a_nonblocking_read_sees_data_that_came_after_a_would_block_without_the_hub_running() {
    // As with std: each non-blocking read asks the socket, whether or not
    // the hub has polled since the last one said WouldBlock.
    let (client, server) = pair();
    client.set_nonblocking(true).unwrap();
    let first = (&client).read(&mut [0; 8]).unwrap_err();
    assert_eq!(first.kind(), ErrorKind::WouldBlock);
    (&server).write_all(b"ready").unwrap();
    // thread::sleep, not greenlet::sleep: the hub must not run meanwhile.
    assert_eq!(read_polling(&client, 5, || thread::sleep(ms(1))), b"ready");
}

#[test]
fn a_nonblocking_write_succeeds_once_the_peer_made_room_without_the_hub_running() {
    // As with std: each non-blocking write asks the socket, whether or not
    // the hub has polled since the last one said WouldBlock.
    let (client, server) = pair();
    let server = server.into_std().unwrap();
    client.set_nonblocking(true).unwrap();
    let chunk = vec![7; 1 << 20];
    let mut written = 0usize;
    while let Ok(n) = (&client).write(&chunk) {
        written += n;
        assert!(written < 1 << 30, "wrote 1 GiB without filling the buffers");
    }
    // Another thread empties the peer, so the hub does not run meanwhile.
    let drain = thread::spawn(move || {
        server.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut all = vec![0; written];
        (&server).read_exact(&mut all).unwrap();
        server
    });
    let _server = drain.join().unwrap();
    let start = Instant::now();
    loop {
        match (&client).write(b"more") {
            Ok(n) => break assert!(n > 0),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(
                    start.elapsed() < Duration::from_secs(2),
                    "no room ever showed"
                );
                thread::sleep(ms(1)); // not greenlet::sleep: the hub stays still
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_nonblocking_write_fails_with_would_block_once_the_buffers_are_full() {
    let (client, _server) = pair(); // the server never reads
    client.set_nonblocking(true).unwrap();
    let chunk = vec![7; 1 << 20];
    let mut written = 0usize;
    let error = loop {
        match (&client).write(&chunk) {
            Ok(n) => written += n,
            Err(e) => break e,
        }
        assert!(written < 1 << 30, "wrote 1 GiB without filling the buffers");
    };
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert!(written > 0);
}

#[test]
fn a_nonblocking_accept_with_no_client_fails_with_would_block() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let error = listener.accept().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
}

#[test]
fn a_stream_set_back_to_blocking_parks_until_data_comes() {
    let (client, server) = pair();
    let client = with_patience(client);
    client.set_nonblocking(true).unwrap();
    client.set_nonblocking(false).unwrap();
    let _writer = spawn(move || {
        sleep(ms(10));
        (&server).write_all(b"x").unwrap();
        sleep(LONG);
    });
    let mut buf = [0; 1];
    (&client).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"x");
}

#[test]
fn incoming_yields_each_connection_with_its_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = spawn(move || {
        let streams: Vec<_> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut addrs: Vec<_> = streams.iter().map(|s| s.local_addr().unwrap()).collect();
        addrs.sort();
        (streams, addrs)
    });
    let mut peers: Vec<_> = listener
        .incoming()
        .take(3)
        .map(|stream| stream.unwrap().peer_addr().unwrap())
        .collect();
    peers.sort();
    let (_streams, addrs) = clients.join().unwrap();
    assert_eq!(peers, addrs);
}

#[test]
fn a_clone_writes_while_the_original_reads_in_another_greenlet() {
    let (client, server) = pair();
    let client = with_patience(client);
    let clone = client.try_clone().unwrap();
    let echo = spawn(move || echo_lines(server));
    let reader = spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(&client).lines() {
            lines.push(line.unwrap());
        }
        lines
    });
    let writer = spawn(move || {
        for i in 0..100 {
            (&clone)
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        clone.shutdown(Shutdown::Write).unwrap();
    });
    writer.join().unwrap();
    let expected: Vec<_> = (0..100).map(|i| format!("line {i}")).collect();
    assert_eq!(reader.join().unwrap(), expected);
    assert_eq!(echo.join().unwrap(), 100);
}

#[test]
fn a_read_timeout_set_on_a_clone_does_not_apply_to_the_original() {
    let (client, server) = pair();
    let clone = client.try_clone().unwrap();
    clone.set_read_timeout(Some(ms(20))).unwrap();
    assert_eq!(client.read_timeout().unwrap(), None);
    let original = spawn(move || {
        let mut buf = [0; 4];
        (&client).read_exact(&mut buf).map(|()| buf)
    });
    yield_now();
    let kind = (&clone).read(&mut [0; 4]).unwrap_err().kind();
    assert_eq!(kind, ErrorKind::WouldBlock);
    // The original is still parked, with no timeout, until data comes.
    assert!(!original.is_finished());
    (&server).write_all(b"data").unwrap();
    assert_eq!(&original.join().unwrap().unwrap(), b"data");
}

#[test]
fn vectored_writes_and_reads_carry_every_slice() {
    let (client, server) = pair();
    let server = with_patience(server);
    let slices = [
        IoSlice::new(b"one "),
        IoSlice::new(b"two "),
        IoSlice::new(b"three"),
    ];
    let n = (&client).write_vectored(&slices).unwrap();
    assert_eq!(n, 13);
    let (mut a, mut b) = ([0; 4], [0; 9]);
    let mut got = 0;
    while got < 13 {
        let mut bufs = [IoSliceMut::new(&mut a[..]), IoSliceMut::new(&mut b[..])];
        IoSliceMut::advance_slices(&mut &mut bufs[..], got);
        got += (&server).read_vectored(&mut bufs).unwrap();
    }
    assert_eq!(&a, b"one ");
    assert_eq!(&b, b"two three");
}

#[test]
fn a_std_stream_taken_by_from_std_parks_only_its_greenlet() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_client = std::net::TcpStream::connect(std_listener.local_addr().unwrap()).unwrap();
    let (std_server, _) = std_listener.accept().unwrap(); // blocking, as std makes it
    let server = TcpStream::from_std(std_server).unwrap();
    // A thread writes when told to, or after 2 s: if `from_std` left the
    // socket blocking, the read below would hold the thread until then.
    let (go, told) = mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let _ = told.recv_timeout(Duration::from_secs(2));
        (&std_client).write_all(b"hi").unwrap();
    });
    let start = Instant::now();
    let reader = spawn(move || {
        let mut buf = [0; 2];
        (&server).read_exact(&mut buf).unwrap();
        buf
    });
    let signaller = spawn(move || {
        sleep(ms(10));
        go.send(()).unwrap();
    });
    signaller.join().unwrap();
    assert_eq!(&reader.join().unwrap(), b"hi");
    peer.join().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_std_listener_taken_by_from_std_accepts() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listener = TcpListener::from_std(std_listener).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = spawn(move || TcpStream::connect(addr).unwrap().local_addr().unwrap());
    let (_stream, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.join().unwrap());
}

#[test]
fn into_std_gives_a_blocking_stream_that_another_thread_can_use() {
    let (client, server) = pair();
    let std_client = client.into_std().unwrap();
    let (timed_out_tx, timed_out) = mpsc::channel();
    let reader = thread::spawn(move || {
        // Blocking mode shows as a wait for the whole std read timeout (a
        // non-blocking socket would fail at once).
        std_client.set_read_timeout(Some(ms(50))).unwrap();
        let start = Instant::now();
        let kind = (&std_client).read(&mut [0; 4]).unwrap_err().kind();
        timed_out_tx.send((kind, start.elapsed())).unwrap();
        std_client.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = [0; 4];
        (&std_client).read_exact(&mut buf).unwrap();
        buf
    });
    // Nothing is written until the thread's first read has come back empty.
    let (kind, waited) = timed_out.recv().unwrap();
    (&server).write_all(b"data").unwrap();
    assert_eq!(&reader.join().unwrap(), b"data");
    assert_eq!(kind, ErrorKind::WouldBlock);
    assert!(waited >= ms(50), "the std read returned after {waited:?}");
}

#[test]
fn into_std_of_a_listener_gives_a_listener_std_can_accept_on() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let std_listener = listener.into_std().unwrap();
    let acceptor = thread::spawn(move || std_listener.accept().map(|(_, peer)| peer).unwrap());
    let client = TcpStream::connect(addr).unwrap();
    assert_eq!(acceptor.join().unwrap(), client.local_addr().unwrap());
}

#[test]
fn dropping_a_stream_closes_it_for_the_peer() {
    let (client, server) = pair();
    let server = with_patience(server);
    drop(client);
    assert_eq!((&server).read(&mut [0; 8]).unwrap(), 0);
}

#[test]
fn a_thousand_connections_opened_and_closed_in_turn_leave_the_hub_working() {
    // Each closed socket gives its poll token back for the next to reuse.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    for _ in 0..1000 {
        let client = TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        (&client).write_all(b"x").unwrap();
        drop(client);
        let mut rest = Vec::new();
        with_patience(server).read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"x");
    }
}
