//! SEEDS.md row 1, gevent's first example: three tasks that sleep 1, 3 and 5
//! seconds, spawned together and joined with `joinall`. They overlap, so the
//! whole run takes about 5 s, not 9.
//!
//! Run: `cargo run --release --example tasks`

use std::time::{Duration, Instant};

fn task(name: &'static str, seconds: u64, start: Instant) -> &'static str {
    println!(
        "[{:>5.2}s] {name} starts, sleeping {seconds} s",
        start.elapsed().as_secs_f64()
    );
    greenlet::sleep(Duration::from_secs(seconds));
    println!("[{:>5.2}s] {name} ends", start.elapsed().as_secs_f64());
    name
}

fn main() {
    env_logger::init();
    let start = Instant::now();
    let tasks = vec![
        greenlet::spawn(move || task("task1", 1, start)),
        greenlet::spawn(move || task("task2", 3, start)),
        greenlet::spawn(move || task("task3", 5, start)),
    ];
    for result in greenlet::joinall(tasks) {
        result.expect("a task failed");
    }
    let total = start.elapsed().as_secs_f64();
    println!("total: {total:.1} s (1 + 3 + 5 = 9 s if run one after another)");
}
