//! SEEDS.md row 7: producers and consumers around a `JoinableQueue`.
//!
//! Three producers each make three buns and put them on the queue; two
//! consumers loop forever, taking a bun, eating it, and marking it done with
//! `task_done`. `main` waits for the producers, then calls the queue's
//! `join`, which returns once every bun put has been marked done. The
//! consumers are then killed, as the tutorial's daemon consumers die with the
//! main program. The delays come from a small seeded generator.
//!
//! Run: `cargo run --release --example producer_consumer`

use std::time::{Duration, Instant};

use greenlet::queue::JoinableQueue;

const USAGE: &str = "usage: cargo run --release --example producer_consumer (takes no arguments)";
const PRODUCERS: [&str; 3] = ["alice", "bob", "carol"];
const CONSUMERS: usize = 2;
const BUNS_EACH: u64 = 3;

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("producer_consumer: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

/// A delay of `min_ms` plus 0 to 100 ms, from a seeded xorshift generator.
fn delay(seed: u64, min_ms: u64) -> Duration {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    Duration::from_millis(min_ms + x % 101)
}

fn producer(index: usize, queue: JoinableQueue<String>, start: Instant) {
    let name = PRODUCERS[index];
    for n in 1..=BUNS_EACH {
        greenlet::sleep(delay(index as u64 * 10 + n, 100));
        let bun = format!("{name}'s bun {n}");
        println!(
            "[{:>4.2}s] {name} made {bun}",
            start.elapsed().as_secs_f64()
        );
        queue.put(bun);
    }
}

/// Eats buns until killed; returns nothing, as it never ends by itself.
fn consumer(id: usize, queue: JoinableQueue<String>, start: Instant) {
    for turn in 0u64.. {
        let bun = queue.get();
        greenlet::sleep(delay(100 + id as u64 * 10 + turn, 150));
        println!(
            "[{:>4.2}s]     consumer {id} ate {bun}",
            start.elapsed().as_secs_f64()
        );
        queue.task_done();
    }
}

fn main() {
    check_args();
    env_logger::init();
    let start = Instant::now();
    let queue = JoinableQueue::new();

    let consumers: Vec<_> = (1..=CONSUMERS)
        .map(|id| {
            let queue = queue.clone();
            greenlet::spawn(move || consumer(id, queue, start))
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS.len())
        .map(|index| {
            let queue = queue.clone();
            greenlet::spawn(move || producer(index, queue, start))
        })
        .collect();

    for result in greenlet::joinall(producers) {
        result.expect("a producer failed");
    }
    println!(
        "[{:>4.2}s] main: the producers are done; {} buns are not handled yet",
        start.elapsed().as_secs_f64(),
        queue.unfinished()
    );
    queue.join();
    println!(
        "[{:>4.2}s] main: queue.join() returned: all {} buns were eaten and marked done",
        start.elapsed().as_secs_f64(),
        PRODUCERS.len() as u64 * BUNS_EACH
    );
    greenlet::killall(consumers);
    println!(
        "[{:>4.2}s] main: the consumers were killed with the main program",
        start.elapsed().as_secs_f64()
    );
}
