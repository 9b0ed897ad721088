//! SEEDS.md row 10: IO-bound against compute-bound work, six tasks of each,
//! run one after another, as greenlets, and as OS threads, with a table of
//! the times (the tutorials compared processes and threads the same way).
//!
//! An IO-bound task waits 0.3 s in `greenlet::sleep`, standing for a network
//! or disk wait. A compute-bound task does a fixed number of rounds of
//! arithmetic, about 0.15 s worth (the count is measured once at start-up,
//! so a debug build takes as long). Greenlets overlap the waits but run the
//! computations one at a time, since all of them share one thread; OS threads
//! overlap both, up to the number of cores.
//!
//! Run: `cargo run --release --example io_vs_cpu`

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo run --release --example io_vs_cpu (takes no arguments)";
const TASKS: usize = 6;
const IO_WAIT: Duration = Duration::from_millis(300);
const COMPUTE_TARGET: Duration = Duration::from_millis(150);

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("io_vs_cpu: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

/// An IO-bound task: it only waits. In a greenlet this parks it and lets the
/// others run; on a plain thread (whose hub has nothing else to run) it just
/// sleeps that thread.
fn io_task() {
    greenlet::sleep(IO_WAIT);
}

/// A compute-bound task: `rounds` rounds of xorshift, which no compiler can
/// skip (`black_box` hides the seed and the result). It never blocks, so
/// while it runs no other greenlet of its thread does.
fn cpu_task(rounds: u64) -> u64 {
    let mut x = black_box(0x2545_F491_4F6C_DD1D_u64);
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// The number of rounds that take about `COMPUTE_TARGET` on this machine.
fn calibrate() -> u64 {
    let probe = 1_000_000;
    let start = Instant::now();
    cpu_task(probe);
    let per_round = start.elapsed().as_secs_f64() / probe as f64;
    (COMPUTE_TARGET.as_secs_f64() / per_round.max(1e-12)) as u64
}

fn sequential(task: impl Fn() + Copy) -> Duration {
    let start = Instant::now();
    for _ in 0..TASKS {
        task();
    }
    start.elapsed()
}

fn greenlets(task: impl Fn() + Copy + 'static) -> Duration {
    let start = Instant::now();
    let all: Vec<_> = (0..TASKS).map(|_| greenlet::spawn(task)).collect();
    for result in greenlet::joinall(all) {
        result.expect("a task failed");
    }
    start.elapsed()
}

fn os_threads(task: impl Fn() + Copy + Send + 'static) -> Duration {
    let start = Instant::now();
    let all: Vec<_> = (0..TASKS).map(|_| thread::spawn(task)).collect();
    for handle in all {
        handle.join().expect("a task failed");
    }
    start.elapsed()
}

fn main() {
    check_args();
    env_logger::init();
    let rounds = calibrate();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let compute = move || {
        cpu_task(rounds);
    };
    println!(
        "{TASKS} IO-bound tasks, each waiting {:.1} s;",
        IO_WAIT.as_secs_f64()
    );
    println!(
        "{TASKS} compute-bound tasks, each {:.0} million rounds of arithmetic (about {:.2} s);",
        rounds as f64 / 1e6,
        COMPUTE_TARGET.as_secs_f64()
    );
    println!("{cores} cores.");

    let io = [sequential(io_task), greenlets(io_task), os_threads(io_task)];
    let cpu = [sequential(compute), greenlets(compute), os_threads(compute)];
    // A fourth column will come with the thread pool: the compute-bound tasks
    // handed to `threadpool::spawn_blocking` from greenlets, so that they run
    // on other threads while the hub goes on serving the IO-bound ones.

    println!();
    println!(
        "{:<14}{:>12}{:>12}{:>12}",
        "", "sequential", "greenlets", "OS threads"
    );
    for (label, times) in [("IO-bound", io), ("CPU-bound", cpu)] {
        let [a, b, c] = times.map(|t| format!("{:.2} s", t.as_secs_f64()));
        println!("{label:<14}{a:>12}{b:>12}{c:>12}");
    }
    println!();
    println!(
        "Greenlets overlap the IO waits ({:.2} s instead of {:.2} s), but the computations",
        io[1].as_secs_f64(),
        io[0].as_secs_f64()
    );
    println!("run one at a time on the one thread they share: no faster than one after another.");
    println!("OS threads overlap both, the computations as far as the cores ({cores}) allow.");
}
