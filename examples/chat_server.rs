//! A line-based chat server: what each client types is sent to all the
//! others as `name: text`, with notices when someone joins or leaves.
//!
//! A `StreamServer` serves each client in its own greenlet, which asks for
//! a name (an empty answer, or one already taken, gets `guestN`), then reads
//! lines and broadcasts them. Commands: `/who` lists who is here, `/quit`
//! leaves. Nothing a client sends is written to the others' sockets
//! directly: each client has an outgoing `Queue` and a writer greenlet that
//! empties it into the socket, so a slow client only fills its own queue and
//! never blocks the sender or anyone else. A client whose queue is full is
//! disconnected: its writer could not hand `OUTBOX` lines to its socket,
//! whose buffers are full, so it is not reading.
//!
//! For that to mean anything the writers must get to run. A paste of many
//! lines arrives in one read, and the lines are then taken from the buffer
//! without the reader ever parking; so it yields after each line while more
//! are waiting there, and every writer moves what it got into its socket
//! before the next line is queued.
//!
//! `--demo` runs the server and scripted clients in this process: alice, bob
//! and a guest join, talk, list, quit and drop, and every line each of them
//! receives is checked; then a client that never reads is disconnected once
//! its queue fills, while alice and bob go on talking. It prints the
//! transcript and exits (1 if a check failed).
//!
//! Run: `cargo run --release --example chat_server -- [--addr HOST:PORT]`
//! (then `nc 127.0.0.1 7070` in a few terminals), or `... -- --demo`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::net::{Shutdown, TcpStream};
use greenlet::queue::Queue;
use greenlet::server::StreamServer;
use greenlet::{Greenlet, with_timeout};

const USAGE: &str = "\
usage: cargo run --release --example chat_server -- [--addr HOST:PORT] [--demo]

  --addr HOST:PORT   the address to listen on (default 127.0.0.1:7070, or a
                     free port with --demo; port 0 picks a free one, printed)
  --demo             run scripted clients against the server, check what
                     each receives, and exit";

/// Lines waiting for one client before it counts as too slow.
const OUTBOX: usize = 256;
/// The longest line a client may send, in bytes.
const MAX_LINE: usize = 2048;
/// The longest name, in characters.
const MAX_NAME: usize = 20;
/// How long a leaving client's writer may take to send what is queued.
const FLUSH: Duration = Duration::from_secs(2);

/// The people in the chat, by arrival order.
#[derive(Default)]
struct Room {
    members: RefCell<BTreeMap<u64, Member>>,
    next_id: Cell<u64>,
    next_guest: Cell<u64>,
}

struct Member {
    name: String,
    outbox: Queue<Option<Rc<str>>>,
    stream: Rc<TcpStream>,
}

impl Room {
    /// Queues `line` for every member but `except`; disconnects those whose
    /// queue is full.
    fn broadcast(&self, except: Option<u64>, line: &str) {
        let line: Rc<str> = Rc::from(format!("{line}\n"));
        let mut too_slow = Vec::new();
        for (&id, member) in self.members.borrow().iter() {
            if Some(id) != except && member.outbox.try_put(Some(line.clone())).is_err() {
                too_slow.push((member.name.clone(), member.stream.clone()));
            }
        }
        for (name, stream) in too_slow {
            disconnect_slow(&name, &stream);
        }
    }

    /// Queues `line` for one member.
    fn tell(&self, id: u64, line: &str) {
        let slow = {
            let members = self.members.borrow();
            let Some(member) = members.get(&id) else {
                return;
            };
            let line = Some(Rc::from(format!("{line}\n")));
            member
                .outbox
                .try_put(line)
                .err()
                .map(|_| (member.name.clone(), member.stream.clone()))
        };
        if let Some((name, stream)) = slow {
            disconnect_slow(&name, &stream);
        }
    }

    fn names(&self) -> Vec<String> {
        let members = self.members.borrow();
        members.values().map(|m| m.name.clone()).collect()
    }

    /// `wanted` if it is a free, well-formed name, else the next `guestN`
    /// with a word on why.
    fn pick_name(&self, wanted: &str) -> (String, Option<&'static str>) {
        let well_formed = !wanted.is_empty()
            && wanted.chars().count() <= MAX_NAME
            && wanted
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        let taken = self.names().iter().any(|n| n == wanted);
        if well_formed && !taken {
            return (wanted.to_owned(), None);
        }
        let why = if wanted.is_empty() {
            None
        } else if taken {
            Some("that name is taken")
        } else {
            Some("a name is 1 to 20 letters, digits, - or _")
        };
        loop {
            let n = self.next_guest.get() + 1;
            self.next_guest.set(n);
            let guest = format!("guest{n}");
            if !self.names().contains(&guest) {
                return (guest, why);
            }
        }
    }
}

/// Shutting the socket down ends both its writer (the write fails) and its
/// reader (which sees the end of the stream and leaves the room).
fn disconnect_slow(name: &str, stream: &TcpStream) {
    log::warn!("{name} is too slow to keep up: disconnecting");
    let _ = stream.shutdown(Shutdown::Both);
}

/// Reads one line of at most `MAX_LINE` bytes, without its line ending.
/// `None` at the end of the stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() > MAX_LINE {
        return Err(io::Error::new(ErrorKind::InvalidData, "line too long"));
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Writes what `outbox` holds to the socket until it gets `None` or the
/// socket fails.
fn write_outbox(stream: &TcpStream, outbox: &Queue<Option<Rc<str>>>) {
    while let Some(line) = outbox.get() {
        if (&*stream).write_all(line.as_bytes()).is_err() {
            let _ = stream.shutdown(Shutdown::Both); // the reader leaves too
            return;
        }
    }
}

/// Takes a member out of the room however its connection greenlet ends
/// (killed by `StreamServer::stop` included), tells the others, and lets
/// its writer send what is queued for a while before killing it.
struct Leave {
    room: Rc<Room>,
    id: u64,
    outbox: Queue<Option<Rc<str>>>,
    writer: Option<Greenlet<()>>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        let member = self.room.members.borrow_mut().remove(&self.id);
        if let Some(member) = member {
            self.room
                .broadcast(None, &format!("* {} left", member.name));
        }
        // (This parks even when the connection greenlet is being killed:
        // the hub lets a greenlet park while it unwinds.)
        if let Some(writer) = self.writer.take()
            && (self.outbox.try_put(None).is_err() || !writer.wait_timeout(FLUSH))
        {
            writer.kill();
        }
    }
}

/// Serves one client from the name prompt to leaving.
fn chat(stream: TcpStream, peer: SocketAddr, room: &Rc<Room>) -> io::Result<()> {
    let _ = stream.set_nodelay(true); // lines are small: send each at once
    let stream = Rc::new(stream);
    let mut reader = BufReader::new(&*stream);
    (&*stream).write_all(b"Welcome! Your name? (Enter for a guest name)\n")?;
    let Some(wanted) = read_line(&mut reader)? else {
        return Ok(());
    };
    let (name, why) = room.pick_name(wanted.trim());
    log::info!("{peer} is {name}");

    let id = room.next_id.get();
    room.next_id.set(id + 1);
    let outbox = Queue::bounded(OUTBOX);
    let others = room.names();
    room.members.borrow_mut().insert(
        id,
        Member {
            name: name.clone(),
            outbox: outbox.clone(),
            stream: stream.clone(),
        },
    );
    let writer = {
        let (stream, outbox) = (stream.clone(), outbox.clone());
        greenlet::spawn(move || write_outbox(&stream, &outbox))
    };
    let _leave = Leave {
        room: room.clone(),
        id,
        outbox,
        writer: Some(writer),
    };
    if let Some(why) = why {
        room.tell(id, &format!("* {why}"));
    }
    let here = if others.is_empty() {
        String::from("nobody else is here")
    } else {
        format!("here: {}", others.join(", "))
    };
    room.tell(
        id,
        &format!("* you are {name}; {here}. /who lists, /quit leaves"),
    );
    room.broadcast(Some(id), &format!("* {name} joined"));

    loop {
        let line = match read_line(&mut reader) {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                room.tell(id, &format!("* {e}: bye"));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match line.trim() {
            "" => {}
            "/quit" => {
                room.tell(id, "* bye");
                return Ok(());
            }
            "/who" => room.tell(id, &format!("* here: {}", room.names().join(", "))),
            command if command.starts_with('/') => {
                room.tell(
                    id,
                    &format!("* unknown command {command}; try /who or /quit"),
                );
            }
            _ => room.broadcast(Some(id), &format!("{name}: {line}")),
        }
        // More lines already read (a paste): without this, all of them would
        // be queued before any writer ran, and a paste longer than OUTBOX
        // would fill every outbox and drop the whole room.
        if !reader.buffer().is_empty() {
            greenlet::yield_now();
        }
    }
}

/// A chat room's server on `addr`, not yet serving.
pub fn chat_server(addr: &str) -> io::Result<StreamServer> {
    let room = Rc::new(Room::default());
    StreamServer::bind(addr, move |stream, peer| {
        if let Err(e) = chat(stream, peer, &room) {
            log::info!("{peer}: {e}");
        }
    })
}

struct Args {
    addr: Option<String>,
    demo: bool,
}

/// Parses the arguments; prints `--help`, or rejects a bad one with exit code 2.
fn parse_args() -> Args {
    let mut parsed = Args {
        addr: None,
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
            "--addr" => parsed.addr = Some(value()),
            "--demo" if inline.is_none() => parsed.demo = true,
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    parsed
}

fn usage_error(message: &str) -> ! {
    eprintln!("chat_server: {message}\n{USAGE}");
    exit(2);
}

/// A scripted client of the demo.
struct Client {
    label: &'static str,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects and answers the name prompt with `name`.
    fn join(addr: SocketAddr, label: &'static str, name: &str) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        let mut client = Client {
            label,
            reader: BufReader::new(stream),
        };
        client.expect("Welcome! Your name? (Enter for a guest name)")?;
        client.say(name)?;
        Ok(client)
    }

    fn say(&mut self, line: &str) -> io::Result<()> {
        println!("{:>8} -> {line:?}", self.label);
        writeln!(self.reader.get_mut(), "{line}")
    }

    /// Reads the next line and checks that it is `want`.
    fn expect(&mut self, want: &str) -> io::Result<()> {
        match read_line(&mut self.reader)? {
            Some(line) if line == want => {
                println!("{:>8} <- {line:?}", self.label);
                Ok(())
            }
            Some(line) => Err(io::Error::other(format!(
                "{} got {line:?}, expected {want:?}",
                self.label
            ))),
            None => Err(io::Error::other(format!(
                "{} got the end of the stream, expected {want:?}",
                self.label
            ))),
        }
    }

    /// Checks that the server has closed the connection.
    fn expect_end(&mut self) -> io::Result<()> {
        match read_line(&mut self.reader)? {
            None => {
                println!("{:>8} <- (end of stream)", self.label);
                Ok(())
            }
            Some(line) => Err(io::Error::other(format!(
                "{} got {line:?}, expected the end of the stream",
                self.label
            ))),
        }
    }
}

/// The scripted conversation; an error names the first line that differed.
fn conversation(addr: SocketAddr) -> io::Result<()> {
    let mut alice = Client::join(addr, "alice", "alice")?;
    alice.expect("* you are alice; nobody else is here. /who lists, /quit leaves")?;
    let mut bob = Client::join(addr, "bob", "bob")?;
    bob.expect("* you are bob; here: alice. /who lists, /quit leaves")?;
    alice.expect("* bob joined")?;
    let mut guest = Client::join(addr, "(guest)", "")?;
    guest.expect("* you are guest1; here: alice, bob. /who lists, /quit leaves")?;
    alice.expect("* guest1 joined")?;
    bob.expect("* guest1 joined")?;

    alice.say("hello everyone")?;
    bob.expect("alice: hello everyone")?;
    guest.expect("alice: hello everyone")?;
    bob.say("/who")?;
    bob.expect("* here: alice, bob, guest1")?;
    guest.say("hi, I am carol")?;
    alice.expect("guest1: hi, I am carol")?;
    bob.expect("guest1: hi, I am carol")?;

    let mut impostor = Client::join(addr, "impostor", "bob")?;
    impostor.expect("* that name is taken")?;
    impostor.expect("* you are guest2; here: alice, bob, guest1. /who lists, /quit leaves")?;
    for client in [&mut alice, &mut bob, &mut guest] {
        client.expect("* guest2 joined")?;
    }
    drop(impostor); // leaves without a word
    for client in [&mut alice, &mut bob, &mut guest] {
        client.expect("* guest2 left")?;
    }

    guest.say("/quit")?;
    guest.expect("* bye")?;
    guest.expect_end()?;
    alice.expect("* guest1 left")?;
    bob.expect("* guest1 left")?;

    slow_client(addr, &mut alice, &mut bob)?;

    drop(bob);
    alice.expect("* bob left")?;
    alice.say("/quit")?;
    alice.expect("* bye")?;
    alice.expect_end()
}

/// A client that never reads: alice talks until its queue (and the socket
/// buffers before it) are full and the server drops it, while bob reads
/// every line.
fn slow_client(addr: SocketAddr, alice: &mut Client, bob: &mut Client) -> io::Result<()> {
    let sloth = TcpStream::connect(addr)?;
    (&sloth).write_all(b"sloth\n")?; // and never reads
    alice.expect("* sloth joined")?;
    bob.expect("* sloth joined")?;

    println!("   alice -> 1000-byte lines, 100 at a time, until sloth is dropped");
    let text = "z".repeat(1000);
    let message = format!("alice: {text}");
    let mut sent = 0;
    let mut bob_saw_sloth_leave = false;
    while !bob_saw_sloth_leave {
        if sent >= 100_000 {
            return Err(io::Error::other("sloth was never dropped"));
        }
        for _ in 0..100 {
            writeln!(alice.reader.get_mut(), "{text}")?;
        }
        sent += 100;
        // bob reads the batch (and, once, the notice among it)
        let mut got = 0;
        while got < 100 {
            match read_line(&mut bob.reader)? {
                Some(line) if line == message => got += 1,
                Some(line) if line == "* sloth left" => bob_saw_sloth_leave = true,
                other => return Err(io::Error::other(format!("bob got {other:?}"))),
            }
        }
    }
    println!(
        "     bob <- all {sent} lines, and \"* sloth left\" after about {} KiB had piled up for sloth",
        sent * 1001 / 1024
    );
    alice.expect("* sloth left")?;
    alice.say("still here?")?;
    bob.expect("alice: still here?")
}

fn demo() -> io::Result<()> {
    let server = chat_server("127.0.0.1:0")?.stop_timeout(Duration::from_secs(1));
    server.start();
    let addr = server.local_addr()?;
    println!("chat server on {addr}");
    let start = Instant::now();
    let outcome = conversation(addr);
    println!("{:.2} s", start.elapsed().as_secs_f64());
    server.stop();
    outcome
}

fn main() {
    let args = parse_args();
    env_logger::init();
    if args.demo {
        match with_timeout(Duration::from_secs(30), demo) {
            Ok(Ok(())) => println!("ok"),
            Ok(Err(e)) => {
                println!("FAILED: {e}");
                exit(1);
            }
            Err(_) => {
                println!("FAILED: not done within 30 s");
                exit(1);
            }
        }
        return;
    }
    let addr = args.addr.unwrap_or_else(|| String::from("127.0.0.1:7070"));
    let server = match chat_server(&addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("chat_server: cannot listen on {addr}: {e}");
            exit(1);
        }
    };
    match server.local_addr() {
        Ok(local) => println!(
            "chat_server: listening on {local} (try: nc {} {})",
            local.ip(),
            local.port()
        ),
        Err(e) => println!("chat_server: listening ({e})"),
    }
    server.serve_forever();
}
