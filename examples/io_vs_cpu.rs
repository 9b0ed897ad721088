//! SEEDS.md row 10: IO-bound against compute-bound work, six tasks of each,
//! run one after another, as greenlets, as OS threads, and as greenlets that
//! hand their computations to `threadpool::spawn_blocking`, with a table of
//! the times (the tutorials compared processes and threads the same way).
//!
//! An IO-bound task waits 0.3 s in `greenlet::sleep`, standing for a network
//! or disk wait. A compute-bound task does a fixed number of rounds of
//! arithmetic, about 0.15 s worth (the count is measured once at start-up,
//! so a debug build takes as long). Greenlets overlap the waits but run the
//! computations one at a time, since all of them share one thread; OS threads
//! overlap both, up to the number of cores. The last column keeps greenlets
//! but moves each computation to the thread pool: an IO-bound task stays in
//! its greenlet (it has nothing to hand over), while a compute-bound one
//! parks its greenlet and runs on a pool thread, so the computations overlap
//! as on OS threads.
//!
//! A third row runs all twelve tasks at once. During that run a heartbeat
//! greenlet asks to wake every 10 ms; how late it woke at worst shows whether
//! the hub stayed responsive: a computation in a greenlet holds the thread
//! for its whole 0.15 s, one on the pool does not hold it at all.
//!
//! Run: `cargo run --release --example io_vs_cpu`

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use greenlet::threadpool;

const USAGE: &str = "usage: cargo run --release --example io_vs_cpu (takes no arguments)";
const TASKS: usize = 6;
const IO_WAIT: Duration = Duration::from_millis(300);
const COMPUTE_TARGET: Duration = Duration::from_millis(150);
const HEARTBEAT: Duration = Duration::from_millis(10);

/// A task as every way of running one needs it: callable many times, from
/// any thread.
type Task = Arc<dyn Fn() + Send + Sync>;

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

fn sequential(tasks: &[Task]) -> Duration {
    let start = Instant::now();
    for task in tasks {
        task();
    }
    start.elapsed()
}

fn greenlets(tasks: &[Task]) -> Duration {
    let start = Instant::now();
    let all: Vec<_> = tasks
        .iter()
        .map(|task| {
            let task = task.clone();
            greenlet::spawn(move || task())
        })
        .collect();
    for result in greenlet::joinall(all) {
        result.expect("a task failed");
    }
    start.elapsed()
}

fn os_threads(tasks: &[Task]) -> Duration {
    let start = Instant::now();
    let all: Vec<_> = tasks
        .iter()
        .map(|task| {
            let task = task.clone();
            thread::spawn(move || task())
        })
        .collect();
    for handle in all {
        handle.join().expect("a task failed");
    }
    start.elapsed()
}

/// Runs `f` beside a greenlet that sleeps `HEARTBEAT` over and over, and
/// returns what `f` returned and the most any of those sleeps overran.
fn with_heartbeat(f: impl FnOnce() -> Duration) -> (Duration, Duration) {
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let heartbeat = {
        let worst = worst.clone();
        greenlet::spawn(move || {
            loop {
                let start = Instant::now();
                greenlet::sleep(HEARTBEAT);
                let late = start.elapsed().saturating_sub(HEARTBEAT);
                worst.set(worst.get().max(late));
            }
        })
    };
    greenlet::yield_now(); // it starts its first sleep
    let took = f();
    heartbeat.kill();
    let _ = heartbeat.join();
    (took, worst.get())
}

fn secs(t: Duration) -> String {
    format!("{:.2} s", t.as_secs_f64())
}

fn millis(t: Duration) -> String {
    format!("{} ms", t.as_millis())
}

fn main() {
    check_args();
    env_logger::init();
    let rounds = calibrate();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let io: Task = Arc::new(io_task);
    let compute: Task = Arc::new(move || {
        cpu_task(rounds);
    });
    // The same computation, run on the shared thread pool while the calling
    // greenlet parks.
    let offloaded: Task = Arc::new(move || {
        threadpool::spawn_blocking(move || cpu_task(rounds));
    });
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

    let io_tasks = vec![io.clone(); TASKS];
    let cpu_tasks = vec![compute.clone(); TASKS];
    let pooled_tasks = vec![offloaded.clone(); TASKS];
    let both = |cpu: &Task| -> Vec<Task> {
        let mut tasks = io_tasks.clone();
        tasks.extend(vec![cpu.clone(); TASKS]);
        tasks
    };

    let io_times = [
        sequential(&io_tasks),
        greenlets(&io_tasks),
        os_threads(&io_tasks),
        greenlets(&io_tasks), // nothing to hand to the pool: same as greenlets
    ];
    let cpu_times = [
        sequential(&cpu_tasks),
        greenlets(&cpu_tasks),
        os_threads(&cpu_tasks),
        greenlets(&pooled_tasks),
    ];
    let (mixed_greenlets, late_in_greenlets) = with_heartbeat(|| greenlets(&both(&compute)));
    let (mixed_pool, late_with_pool) = with_heartbeat(|| greenlets(&both(&offloaded)));
    let mixed_times = [
        sequential(&both(&compute)),
        mixed_greenlets,
        os_threads(&both(&compute)),
        mixed_pool,
    ];

    println!();
    println!(
        "{:<14}{:>12}{:>12}{:>12}{:>18}",
        "", "sequential", "greenlets", "OS threads", "greenlets + pool"
    );
    for (label, times) in [
        ("IO-bound", io_times),
        ("CPU-bound", cpu_times),
        ("both at once", mixed_times),
    ] {
        let [a, b, c, d] = times.map(secs);
        println!("{label:<14}{a:>12}{b:>12}{c:>12}{d:>18}");
    }
    println!();
    println!(
        "Greenlets overlap the IO waits ({} instead of {}), but the computations",
        secs(io_times[1]),
        secs(io_times[0])
    );
    println!("run one at a time on the one thread they share: no faster than one after another.");
    println!("OS threads overlap both, the computations as far as the cores ({cores}) allow.");
    println!("Greenlets that hand the computations to threadpool::spawn_blocking overlap both as");
    println!(
        "OS threads do ({} for the computations), and their hub stays free meanwhile: during",
        secs(cpu_times[3])
    );
    println!(
        "the run of both at once, a greenlet waking every {} was late by up to {} with the",
        millis(HEARTBEAT),
        millis(late_in_greenlets)
    );
    println!(
        "computations in greenlets, by up to {} with them on the pool.",
        millis(late_with_pool)
    );
}
