//! SEEDS.md row 4: ten buyers read a ticket count from a file, wait a random
//! "network delay", and write the count back less one.
//!
//! The count lives in a real file in the temporary directory. Without a lock
//! every buyer reads the count before any has written it back, so every buyer
//! "succeeds" and the show is oversold. With a `greenlet::lock::Mutex` held
//! from the read to the write, one buyer at a time goes through, and only as
//! many succeed as there were tickets. The delays come from a small seeded
//! generator, so each run prints the same story.
//!
//! Run: `cargo run --release --example tickets`

use std::fs;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::lock::Mutex;

const USAGE: &str = "usage: cargo run --release --example tickets (takes no arguments)";
const TICKETS: u32 = 3;
const BUYERS: u64 = 10;

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("tickets: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

/// The ticket file; removed when dropped, even if the example panics.
struct TicketFile(PathBuf);

impl TicketFile {
    /// Where the count is kept: unique to this process.
    fn path() -> PathBuf {
        let name = format!("greenlet-tickets-{}.txt", std::process::id());
        std::env::temp_dir().join(name)
    }

    fn create(tickets: u32) -> TicketFile {
        let file = TicketFile(TicketFile::path());
        file.write(tickets);
        file
    }

    fn read(&self) -> u32 {
        let text = fs::read_to_string(&self.0).expect("cannot read the ticket file");
        text.trim().parse().expect("the ticket file holds a number")
    }

    fn write(&self, tickets: u32) {
        fs::write(&self.0, format!("{tickets}\n")).expect("cannot write the ticket file");
    }
}

impl Drop for TicketFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// "1 ticket", "3 tickets".
fn tickets(n: u32) -> String {
    if n == 1 {
        "1 ticket".to_string()
    } else {
        format!("{n} tickets")
    }
}

/// A "network delay" of 50 to 150 ms, from a seeded xorshift generator.
fn network_delay(seed: u64) -> Duration {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    Duration::from_millis(50 + x % 101)
}

/// One buyer: read the count, wait for the network, write it back less one.
fn buy(buyer: u64, file: &TicketFile, start: Instant) -> bool {
    let left = file.read();
    let delay = network_delay(buyer);
    println!(
        "  [{:>4.2}s] buyer {buyer} sees {} left, waits {} ms for the network",
        start.elapsed().as_secs_f64(),
        tickets(left),
        delay.as_millis()
    );
    greenlet::sleep(delay);
    if left == 0 {
        println!(
            "  [{:>4.2}s] buyer {buyer}: sold out",
            start.elapsed().as_secs_f64()
        );
        return false;
    }
    file.write(left - 1);
    println!(
        "  [{:>4.2}s] buyer {buyer} bought a ticket, writes back {}",
        start.elapsed().as_secs_f64(),
        left - 1
    );
    true
}

/// Runs all the buyers; with `lock`, each holds it from its read to its write.
/// Returns how many bought a ticket and what the file says at the end.
fn sale(lock: Option<Rc<Mutex<()>>>) -> (usize, u32) {
    let file = Rc::new(TicketFile::create(TICKETS));
    let start = Instant::now();
    let buyers: Vec<_> = (1..=BUYERS)
        .map(|buyer| {
            let file = file.clone();
            let lock = lock.clone();
            greenlet::spawn(move || {
                let _held = lock.as_ref().map(|lock| lock.lock());
                buy(buyer, &file, start)
            })
        })
        .collect();
    let bought = greenlet::joinall(buyers)
        .into_iter()
        .map(|result| result.expect("a buyer failed"))
        .filter(|&bought| bought)
        .count();
    (bought, file.read())
}

fn main() {
    check_args();
    env_logger::init();
    println!(
        "{TICKETS} tickets, {BUYERS} buyers; the count is kept in {}",
        TicketFile::path().display()
    );

    println!("\nwithout a lock:");
    let (unlocked, unlocked_left) = sale(None);

    println!("\nwith a lock (greenlet::lock::Mutex held from the read to the write):");
    let (locked, locked_left) = sale(Some(Rc::new(Mutex::new(()))));

    println!("\nsummary ({TICKETS} tickets):");
    println!(
        "  without a lock: {unlocked} buyers got a ticket, the file says {unlocked_left} left (oversold by {})",
        unlocked.saturating_sub(TICKETS as usize)
    );
    println!(
        "  with a lock:    {locked} buyers got a ticket, the file says {locked_left} left, {} were told sold out",
        BUYERS as usize - locked
    );
}
