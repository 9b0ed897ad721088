//! SEEDS.md row 3: a daemon child that says "I am alive" every second while a
//! worker serves, and dies when the main program is done.
//!
//! The heartbeat is a greenlet that loops forever; the worker serves six
//! requests of 0.45 s (2.7 s in all). When `main` has joined the worker it
//! kills the heartbeat, as the end of a Python program ends its daemon
//! children: the kill unwinds the heartbeat out of its `sleep`, so its
//! destructors run, and `join` reports it killed. (Had `main` simply
//! returned, the heartbeat would not have run again either: greenlets run
//! only while someone blocks.)
//!
//! Run: `cargo run --release --example heartbeat`

use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo run --release --example heartbeat (takes no arguments)";

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("heartbeat: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

/// Says so when the heartbeat's loop is unwound by the kill.
struct Stopped(Instant);

impl Drop for Stopped {
    fn drop(&mut self) {
        println!(
            "[{:>4.2}s] heartbeat: stopped",
            self.0.elapsed().as_secs_f64()
        );
    }
}

fn heartbeat(start: Instant) {
    let _stopped = Stopped(start);
    loop {
        println!(
            "[{:>4.2}s] heartbeat: I am alive",
            start.elapsed().as_secs_f64()
        );
        greenlet::sleep(Duration::from_secs(1));
    }
}

fn worker(start: Instant) -> u32 {
    let requests = 6;
    for request in 1..=requests {
        greenlet::sleep(Duration::from_millis(450));
        println!(
            "[{:>4.2}s] worker: served request {request}",
            start.elapsed().as_secs_f64()
        );
    }
    requests
}

fn main() {
    check_args();
    env_logger::init();
    let start = Instant::now();

    let heart = greenlet::Builder::new()
        .name("heartbeat")
        .spawn(move || heartbeat(start))
        .expect("the default stack size is valid");
    let served = greenlet::spawn(move || worker(start))
        .join()
        .expect("the worker failed");
    println!(
        "[{:>4.2}s] main: the worker served {served} requests; main is done",
        start.elapsed().as_secs_f64()
    );

    heart.kill();
    match heart.join() {
        Err(e) if e.is_killed() => println!(
            "[{:>4.2}s] main: the heartbeat was killed with the main program",
            start.elapsed().as_secs_f64()
        ),
        other => panic!("the heartbeat should have been killed, got {other:?}"),
    }
}
