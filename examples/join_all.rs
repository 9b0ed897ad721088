//! SEEDS.md row 2: start ten workers, keep their handles in a list and join
//! them all afterwards, against the "wrong optimisation" of joining each one
//! right after starting it, which runs them one after another.
//!
//! Worker `i` sleeps (1 + i % 3) tenths of a second, so started together they
//! take as long as the longest (0.3 s), and joined one by one as long as all
//! of them added up (1.9 s).
//!
//! Run: `cargo run --release --example join_all`

use std::time::{Duration, Instant};

fn worker(i: u64) -> u64 {
    let delay = Duration::from_millis(100 * (1 + i % 3));
    greenlet::sleep(delay);
    println!("  worker {i} done after {} ms", delay.as_millis());
    i
}

fn main() {
    env_logger::init();

    println!("start all ten, then join them all:");
    let start = Instant::now();
    let workers: Vec<_> = (0..10)
        .map(|i| greenlet::spawn(move || worker(i)))
        .collect();
    for result in greenlet::joinall(workers) {
        result.expect("a worker failed");
    }
    let together = start.elapsed();

    println!("join each right after starting it:");
    let start = Instant::now();
    for i in 0..10 {
        greenlet::spawn(move || worker(i))
            .join()
            .expect("a worker failed");
    }
    let one_by_one = start.elapsed();

    println!(
        "started together: {:.2} s (the longest worker)",
        together.as_secs_f64()
    );
    println!(
        "joined one by one: {:.2} s (the sum of all workers)",
        one_by_one.as_secs_f64()
    );
}
