//! `greenlet::net` UDP on loopback and Unix domain sockets: round trips
//! between greenlets, timeouts, kills, and the std conversions.
//!
//! A socket that a bug could leave waiting for ever gets a read (and write)
//! timeout of [`PATIENCE`], so such a bug fails the test instead of hanging it.
//! Unix socket files live in a fresh [`TempDir`], removed when it drops.

mod util;

use std::cell::Cell;
use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::net::{Shutdown, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use greenlet::{spawn, stats, yield_now};
use util::{TempDir, assert_elapsed, flag, ms};

/// How long a test waits for something that should happen at once before it
/// calls it a failure.
const PATIENCE: Duration = Duration::from_secs(5);

/// A UDP socket bound to an ephemeral port of `ip`, with bounded waits.
fn udp(ip: &str) -> UdpSocket {
    let ip: IpAddr = ip.parse().unwrap();
    let socket = UdpSocket::bind((ip, 0)).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket.set_write_timeout(Some(PATIENCE)).unwrap();
    socket
}

/// Bounds every wait on `stream`, so that a lost wake-up fails the test.
fn with_patience(stream: UnixStream) -> UnixStream {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Echoes `rounds` datagrams back to whoever sent them.
fn udp_echo(socket: UdpSocket, rounds: usize) -> greenlet::Greenlet<()> {
    spawn(move || {
        let mut buf = [0; 64];
        for _ in 0..rounds {
            let (n, peer) = socket.recv_from(&mut buf).unwrap();
            socket.send_to(&buf[..n], peer).unwrap();
        }
    })
}

/// Sends each message to `server` from a fresh socket on `ip` and checks
/// that it comes back from `server`; returns how many did.
fn udp_client(ip: &'static str, server: SocketAddr, messages: &'static [&'static [u8]]) -> usize {
    let socket = udp(ip);
    let mut buf = [0; 64];
    for message in messages {
        socket.send_to(message, server).unwrap();
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (*message, server));
    }
    messages.len()
}

const MESSAGES: &[&[u8]] = &[b"one", b"two", b"three"];

// ---- UDP -------------------------------------------------------------------

#[test]
fn udp_datagrams_make_a_round_trip_on_127_0_0_1_between_two_greenlets() {
    let server = udp("127.0.0.1");
    let addr = server.local_addr().unwrap();
    let echo = udp_echo(server, MESSAGES.len());
    let client = spawn(move || udp_client("127.0.0.1", addr, MESSAGES));
    assert_eq!(client.join().unwrap(), MESSAGES.len());
    echo.join().unwrap();
}

#[test]
fn udp_datagrams_make_a_round_trip_on_ipv6_loopback_between_two_greenlets() {
    let server = match UdpSocket::bind("[::1]:0") {
        Ok(server) => server,
        Err(e) if e.kind() == ErrorKind::AddrNotAvailable => {
            eprintln!("skipped: ::1 is not available here ({e})");
            return;
        }
        Err(e) => panic!("binding [::1]:0: {e}"),
    };
    server.set_read_timeout(Some(PATIENCE)).unwrap();
    let addr = server.local_addr().unwrap();
    assert!(addr.is_ipv6());
    let echo = udp_echo(server, MESSAGES.len());
    let client = spawn(move || udp_client("::1", addr, MESSAGES));
    assert_eq!(client.join().unwrap(), MESSAGES.len());
    echo.join().unwrap();
}

#[test]
fn recv_from_past_its_read_timeout_fails_with_would_block_after_about_the_timeout() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(ms(50))).unwrap();
    let start = Instant::now();
    let error = socket.recv_from(&mut [0; 8]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert_elapsed(start.elapsed(), ms(50), ms(2000));
}

#[test]
fn recv_from_in_a_greenlet_past_its_read_timeout_fails_with_would_block() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(ms(50))).unwrap();
    let g = spawn(move || socket.recv_from(&mut [0; 8]).map(drop));
    assert_eq!(g.join().unwrap().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn a_connected_udp_socket_sends_with_send_and_receives_with_recv() {
    let a = udp("127.0.0.1");
    let b = udp("127.0.0.1");
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    let echo = spawn(move || {
        let mut buf = [0; 64];
        let n = b.recv(&mut buf).unwrap();
        b.send(&buf[..n]).unwrap();
    });
    let client = spawn(move || {
        a.send(b"connected").unwrap();
        let mut buf = [0; 64];
        let n = a.recv(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    assert_eq!(client.join().unwrap(), b"connected");
    echo.join().unwrap();
}

#[test]
fn a_short_datagram_does_not_stop_the_next_queued_one_being_received_at_once() {
    // A stream's short read means its queue is empty; a datagram's does not.
    let receiver = udp("127.0.0.1");
    let sender = udp("127.0.0.1");
    let to = receiver.local_addr().unwrap();
    sender.send_to(b"first", to).unwrap();
    sender.send_to(b"second", to).unwrap();
    let mut buf = [0; 64];
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"first");
    let start = Instant::now();
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"second");
    assert!(start.elapsed() < PATIENCE / 2, "the second datagram waited");
}

#[test]
fn a_datagram_longer_than_the_buffer_is_truncated_and_the_rest_discarded() {
    let receiver = udp("127.0.0.1");
    let sender = udp("127.0.0.1");
    let to = receiver.local_addr().unwrap();
    sender.send_to(b"truncated", to).unwrap();
    sender.send_to(b"next", to).unwrap();
    let mut small = [0; 4];
    assert_eq!(receiver.recv(&mut small).unwrap(), 4);
    assert_eq!(&small, b"trun");
    let mut buf = [0; 64];
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"next");
}

#[test]
fn peek_from_waits_for_a_datagram_and_leaves_it_for_recv_from() {
    let receiver = udp("127.0.0.1");
    let to = receiver.local_addr().unwrap();
    let sender = spawn(move || {
        let socket = udp("127.0.0.1");
        socket.send_to(b"peeked", to).unwrap();
        socket.local_addr().unwrap()
    });
    let mut buf = [0; 64];
    let (n, from) = receiver.peek_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"peeked");
    assert_eq!(from, sender.join().unwrap());
    assert_eq!(receiver.recv_from(&mut buf).unwrap(), (n, from));
}

#[test]
fn send_to_an_empty_address_list_fails_with_invalid_input() {
    let socket = udp("127.0.0.1");
    let none: &[SocketAddr] = &[];
    let error = socket.send_to(b"lost", none).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[test]
fn send_to_a_host_and_port_pair_reaches_a_socket_on_127_0_0_1() {
    let receiver = udp("127.0.0.1");
    let port = receiver.local_addr().unwrap().port();
    let sender = udp("127.0.0.1");
    let sent = spawn(move || sender.send_to(b"by name", ("127.0.0.1", port)).unwrap());
    let mut buf = [0; 64];
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"by name");
    assert_eq!(sent.join().unwrap(), n);
}

#[test]
fn a_nonblocking_udp_socket_with_nothing_queued_fails_with_would_block_at_once() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let error = socket.recv_from(&mut [0; 8]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
}

#[test]
fn a_udp_socket_round_trips_through_into_std_and_from_std() {
    let socket = udp("127.0.0.1");
    let addr = socket.local_addr().unwrap();
    let std_socket = socket.into_std().unwrap();
    assert_eq!(std_socket.local_addr().unwrap(), addr);
    // Back in blocking mode: a receive waits out its timeout.
    std_socket.set_read_timeout(Some(ms(50))).unwrap();
    let start = Instant::now();
    let error = std_socket.recv_from(&mut [0; 8]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert_elapsed(start.elapsed(), ms(50), ms(2000));

    let socket = UdpSocket::from_std(std_socket).unwrap();
    assert_eq!(socket.local_addr().unwrap(), addr);
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let sender = spawn(move || udp("127.0.0.1").send_to(b"again", addr).unwrap());
    let mut buf = [0; 64];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"again");
    sender.join().unwrap();
}

// ---- Unix streams ----------------------------------------------------------

/// Echoes everything it reads until end of stream; returns the byte count.
fn echo_all(stream: UnixStream) -> usize {
    let stream = with_patience(stream);
    let mut buf = [0; 1024];
    let mut total = 0;
    loop {
        let n = (&stream).read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        (&stream).write_all(&buf[..n]).unwrap();
        total += n;
    }
}

#[test]
fn a_unix_stream_echoes_between_greenlets_through_a_socket_path_in_a_fresh_directory() {
    const CLIENTS: usize = 3;
    let dir = TempDir::new("echo");
    let path = dir.path().join("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    let server = spawn(move || {
        let handlers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (stream, _) = listener.accept().unwrap();
                spawn(move || echo_all(stream))
            })
            .collect();
        handlers
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum::<usize>()
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let path = path.clone();
            spawn(move || {
                let stream = with_patience(UnixStream::connect(&path).unwrap());
                let message = format!("hello from client {i}\n");
                (&stream).write_all(message.as_bytes()).unwrap();
                stream.shutdown(Shutdown::Write).unwrap();
                let mut reply = String::new();
                (&stream).read_to_string(&mut reply).unwrap();
                assert_eq!(reply, message);
                message.len()
            })
        })
        .collect();
    let sent: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(server.join().unwrap(), sent);
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn unix_stream_pair_gives_two_connected_ends_that_carry_data_both_ways() {
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (with_patience(a), with_patience(b));
    let other = spawn(move || {
        let mut buf = [0; 4];
        (&b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        (&b).write_all(b"pong").unwrap();
    });
    (&a).write_all(b"ping").unwrap();
    let mut buf = [0; 4];
    (&a).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    other.join().unwrap();
}

#[test]
fn one_mib_written_by_one_greenlet_arrives_intact_at_another_through_a_unix_stream() {
    const LEN: usize = 1 << 20;
    let pattern = |i: usize| (i % 251) as u8;
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (with_patience(a), with_patience(b));
    let writer = spawn(move || {
        let data: Vec<u8> = (0..LEN).map(pattern).collect();
        (&a).write_all(&data).unwrap();
    });
    let reader = spawn(move || {
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).unwrap();
        got
    });
    writer.join().unwrap();
    let got = reader.join().unwrap();
    assert_eq!(got.len(), LEN);
    assert!(got.iter().enumerate().all(|(i, &byte)| byte == pattern(i)));
}

#[test]
fn vectored_writes_and_reads_carry_every_slice_over_a_unix_stream() {
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (with_patience(a), with_patience(b));
    let n = (&a)
        .write_vectored(&[IoSlice::new(b"abc"), IoSlice::new(b"def")])
        .unwrap();
    assert_eq!(n, 6);
    let (mut first, mut second) = ([0; 2], [0; 4]);
    let mut bufs = [IoSliceMut::new(&mut first), IoSliceMut::new(&mut second)];
    assert_eq!((&b).read_vectored(&mut bufs).unwrap(), 6);
    assert_eq!((&first, &second), (b"ab", b"cdef"));
}

/// A greenlet that owns `stream` and parks reading it; `returned` is set if
/// its read ever returns.
fn parked_reader(stream: UnixStream, returned: &Rc<Cell<bool>>) -> greenlet::Greenlet<()> {
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
fn the_peer_of_a_greenlet_killed_while_parked_in_a_unix_stream_read_sees_end_of_stream() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let ours = with_patience(ours);
    let returned = flag();
    let g = parked_reader(theirs, &returned);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(!returned.get());
    assert_eq!((&ours).read(&mut [0; 8]).unwrap(), 0);
}

#[test]
fn a_unix_stream_read_past_its_read_timeout_fails_with_would_block() {
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_read_timeout(Some(ms(50))).unwrap();
    let start = Instant::now();
    let error = (&a).read(&mut [0; 8]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert_elapsed(start.elapsed(), ms(50), ms(2000));
}

#[test]
fn connect_to_a_path_with_no_socket_fails_with_not_found() {
    let dir = TempDir::new("missing");
    let error = UnixStream::connect(dir.path().join("nobody.sock")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[test]
fn connect_to_a_socket_file_whose_listener_is_gone_fails_with_connection_refused() {
    let dir = TempDir::new("refused");
    let path = dir.path().join("gone.sock");
    drop(UnixListener::bind(&path).unwrap()); // leaves the file behind
    let error = UnixStream::connect(&path).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn a_unix_stream_round_trips_through_into_std_and_from_std() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let theirs = with_patience(theirs);
    let mut std_stream = ours.into_std().unwrap();
    // Back in blocking mode: a read waits out its timeout.
    std_stream.set_read_timeout(Some(ms(50))).unwrap();
    let start = Instant::now();
    let error = std_stream.read(&mut [0; 8]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert_elapsed(start.elapsed(), ms(50), ms(2000));

    let ours = with_patience(UnixStream::from_std(std_stream).unwrap());
    let writer = spawn(move || (&theirs).write_all(b"back").unwrap());
    let mut buf = [0; 4];
    (&ours).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"back");
    writer.join().unwrap();
}

#[test]
fn a_unix_listener_round_trips_through_into_std_and_from_std() {
    let dir = TempDir::new("listener-std");
    let path = dir.path().join("l.sock");
    let std_listener = UnixListener::bind(&path).unwrap().into_std().unwrap();
    assert_eq!(
        std_listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    let listener = UnixListener::from_std(std_listener).unwrap();
    let client = spawn(move || {
        let stream = with_patience(UnixStream::connect(&path).unwrap());
        (&stream).write_all(b"hi").unwrap();
    });
    let (stream, _) = listener.accept().unwrap();
    let stream = with_patience(stream);
    let mut buf = [0; 2];
    (&stream).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
    client.join().unwrap();
}

#[test]
fn a_nonblocking_unix_listener_with_nothing_pending_fails_with_would_block_at_once() {
    let dir = TempDir::new("nonblocking");
    let listener = UnixListener::bind(dir.path().join("nb.sock")).unwrap();
    listener.set_nonblocking(true).unwrap();
    assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
}

// ---- Unix datagrams --------------------------------------------------------

#[test]
fn unix_datagrams_make_a_round_trip_through_a_socket_path_between_two_greenlets() {
    let dir = TempDir::new("dgram");
    let server_path = dir.path().join("server.sock");
    let client_path = dir.path().join("client.sock");
    let server = UnixDatagram::bind(&server_path).unwrap();
    server.set_read_timeout(Some(PATIENCE)).unwrap();
    let echo = spawn(move || {
        let mut buf = [0; 64];
        let (n, peer) = server.recv_from(&mut buf).unwrap();
        server
            .send_to(&buf[..n], peer.as_pathname().unwrap())
            .unwrap();
    });
    let client = spawn(move || {
        let socket = UnixDatagram::bind(&client_path).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        socket.send_to(b"datagram", &server_path).unwrap();
        let mut buf = [0; 64];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(from.as_pathname(), Some(server_path.as_path()));
        buf[..n].to_vec()
    });
    assert_eq!(client.join().unwrap(), b"datagram");
    echo.join().unwrap();
}

#[test]
fn two_queued_unix_datagrams_are_received_one_per_recv_without_waiting() {
    let (a, b) = UnixDatagram::pair().unwrap();
    b.set_read_timeout(Some(PATIENCE)).unwrap();
    a.send(b"first").unwrap();
    a.send(b"second").unwrap();
    let mut buf = [0; 64];
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"first");
    let start = Instant::now();
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"second");
    assert!(start.elapsed() < PATIENCE / 2, "the second datagram waited");
}

#[test]
fn a_unix_datagram_socket_round_trips_through_into_std_and_from_std() {
    let (ours, theirs) = UnixDatagram::pair().unwrap();
    let std_socket = ours.into_std().unwrap();
    theirs.send(b"to std").unwrap();
    let mut buf = [0; 64];
    let n = std_socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"to std");

    let ours = UnixDatagram::from_std(std_socket).unwrap();
    ours.set_read_timeout(Some(PATIENCE)).unwrap();
    let sender = spawn(move || theirs.send(b"back").unwrap());
    let n = ours.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"back");
    sender.join().unwrap();
}

#[test]
fn shutting_down_the_read_side_gives_a_greenlet_parked_in_unix_datagram_recv_zero() {
    let (a, _b) = UnixDatagram::pair().unwrap();
    a.set_read_timeout(Some(PATIENCE)).unwrap();
    let a = Rc::new(a);
    let receiver = {
        let a = a.clone();
        spawn(move || a.recv(&mut [0; 8]))
    };
    yield_now();
    assert_eq!(stats().parked, 1, "the receiver did not park");
    a.shutdown(Shutdown::Read).unwrap();
    assert_eq!(receiver.join().unwrap().unwrap(), 0);
}

#[test]
fn recv_from_on_a_clone_of_a_unix_datagram_shut_for_reading_returns_zero_from_an_unnamed_address() {
    let (a, _b) = UnixDatagram::pair().unwrap();
    let clone = a.try_clone().unwrap();
    clone.set_read_timeout(Some(PATIENCE)).unwrap();
    a.shutdown(Shutdown::Read).unwrap();
    let (n, from) = clone.recv_from(&mut [0; 8]).unwrap();
    assert_eq!(n, 0);
    assert!(from.is_unnamed());
}

#[test]
fn a_udp_read_timeout_still_fires_after_the_socket_reported_an_error() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(ms(100))).unwrap();
    socket.connect(closed).unwrap();
    socket.send(b"anyone?").unwrap(); // answered by ICMP port unreachable
    greenlet::sleep(ms(10)); // the hub polls and sees the error
    assert_eq!(
        socket.recv(&mut [0; 8]).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    let second = greenlet::with_timeout(ms(2000), || socket.recv(&mut [0; 8]));
    let error = second.expect("the read timeout never fired").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
}
