//! SEEDS.md row 5: ten workers decrement a shared counter from 100, with a
//! delay inside the critical section (the tutorials' `temp = n;
//! time.sleep(0.1); n = temp - 1`, guarded by a `Lock`).
//!
//! Each worker takes ten turns: it reads the counter, sleeps 10 ms (a switch
//! point, where the other workers run), and writes back what it read less
//! one. Without a lock the workers read the same value while each other
//! sleeps, so most updates are lost and the counter ends far above 0. With a
//! `greenlet::lock::Mutex` held across the read, the sleep and the write, no
//! update is lost and it ends at exactly 0.
//!
//! Run: `cargo run --release --example shared_counter`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::lock::Mutex;

const USAGE: &str = "usage: cargo run --release --example shared_counter (takes no arguments)";
const START: u32 = 100;
const WORKERS: u32 = 10;
const TURNS: u32 = 10;
const DELAY: Duration = Duration::from_millis(10);

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("shared_counter: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

/// Every worker shares a plain `Cell`: read, sleep, write back.
fn without_lock() -> u32 {
    let counter = Rc::new(Cell::new(START));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let counter = counter.clone();
            greenlet::spawn(move || {
                for _ in 0..TURNS {
                    let seen = counter.get();
                    greenlet::sleep(DELAY); // the others run here and read the same value
                    counter.set(seen - 1);
                }
            })
        })
        .collect();
    for result in greenlet::joinall(workers) {
        result.expect("a worker failed");
    }
    counter.get()
}

/// The same, with the counter inside a `Mutex` held for the whole turn.
fn with_lock() -> u32 {
    let counter = Rc::new(Mutex::new(START));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let counter = counter.clone();
            greenlet::spawn(move || {
                for _ in 0..TURNS {
                    let mut count = counter.lock();
                    let seen = *count;
                    greenlet::sleep(DELAY); // the others run, but wait for the lock
                    *count = seen - 1;
                }
            })
        })
        .collect();
    for result in greenlet::joinall(workers) {
        result.expect("a worker failed");
    }
    *counter.lock()
}

fn main() {
    check_args();
    env_logger::init();
    let decrements = WORKERS * TURNS;
    println!(
        "{WORKERS} workers take {TURNS} turns each at a counter starting at {START}: \
         read it, sleep {} ms, write back one less",
        DELAY.as_millis()
    );

    let start = Instant::now();
    let unlocked = without_lock();
    println!(
        "without a lock: the counter ends at {unlocked} ({} of {decrements} decrements lost) in {:.2} s",
        unlocked - (START - decrements),
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let locked = with_lock();
    println!(
        "with a lock:    the counter ends at {locked} ({} of {decrements} decrements lost) in {:.2} s",
        locked - (START - decrements),
        start.elapsed().as_secs_f64()
    );
    println!("the lock makes the turns take place one at a time, so it is slower but right");
}
