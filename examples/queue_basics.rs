//! SEEDS.md row 6: what a bounded queue does at its edges. `put` blocks while
//! it is full, `put_nowait` / `get_nowait` (here `try_put` / `try_get`) fail
//! at once and hand the item back, `get` blocks while it is empty, and
//! `get_timeout` gives up after a while.
//!
//! The blocking calls are shown with greenlets: a producer that parks in
//! `put` on a full queue until `main` takes an item, and `main` parking in
//! `get` on an empty queue until a greenlet puts one.
//!
//! Run: `cargo run --release --example queue_basics`

use std::time::{Duration, Instant};

use greenlet::queue::Queue;

const USAGE: &str = "usage: cargo run --release --example queue_basics (takes no arguments)";

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("queue_basics: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

fn main() {
    check_args();
    env_logger::init();
    let start = Instant::now();
    let at = move || format!("[{:>4.2}s]", start.elapsed().as_secs_f64());

    let queue = Queue::bounded(3);
    for item in 1..=3 {
        queue.put(item);
    }
    println!(
        "{} put 1, 2, 3 into a queue of capacity {}: len {}, full: {}",
        at(),
        queue.capacity().expect("the queue is bounded"),
        queue.len(),
        queue.is_full()
    );

    match queue.try_put(4) {
        Ok(()) => unreachable!("the queue is full"),
        Err(item) => println!(
            "{} try_put(4) fails at once: full, {item} is handed back",
            at()
        ),
    }

    let producer = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            println!("{} producer: put(4) on the full queue...", at());
            queue.put(4);
            println!("{} producer: ...put(4) returned", at());
        })
    };
    // While main sleeps the producer runs, finds the queue full and parks.
    greenlet::sleep(Duration::from_millis(300));
    println!(
        "{} 0.3 s later the producer is still parked in put: finished {}, parked greenlets {}",
        at(),
        producer.is_finished(),
        greenlet::stats().parked
    );

    println!(
        "{} get() -> {}: a slot is free, the producer may go on",
        at(),
        queue.get()
    );
    producer.join().expect("the producer failed");

    let rest: Vec<i32> = (0..3).map(|_| queue.get()).collect();
    println!(
        "{} get() three times -> {rest:?}; len {}",
        at(),
        queue.len()
    );

    match queue.try_get() {
        Some(item) => unreachable!("the queue is empty, yet try_get gave {item}"),
        None => println!("{} try_get() fails at once: empty", at()),
    }

    let timeout = Duration::from_millis(200);
    let got = queue.get_timeout(timeout);
    println!(
        "{} get_timeout({} ms) -> {got:?}: nothing came in time",
        at(),
        timeout.as_millis()
    );

    let late = {
        let queue = queue.clone();
        greenlet::spawn_later(Duration::from_millis(300), move || {
            println!("{} a greenlet puts 5, 0.3 s after being spawned", at());
            queue.put(5);
        })
    };
    println!("{} get() on the empty queue...", at());
    let item = queue.get();
    println!("{} ...get() returned {item}", at());
    late.join().expect("the late producer failed");
}
