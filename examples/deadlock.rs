//! SEEDS.md row 9: a deadlock with two locks taken in opposite order, and
//! the re-entrant lock that fixes it (the tutorials' scientists who each need
//! the noodles and the fork to eat).
//!
//! Alice takes the noodles then the fork; Bob takes the fork then the
//! noodles; each pauses between the two. With two `Mutex`es each ends up
//! holding one lock and parked waiting for the other. Nothing can wake
//! either, so instead of hanging, the blocked `joinall` panics with
//! `greenlet: deadlock: this operation would block forever` and the list of
//! parked greenlets and what each waits on. The example runs that dinner on
//! a thread of its own (each thread has its own hub, and the two greenlets
//! stay parked on it for good) and prints the message the panic carried.
//!
//! The fix, as in the tutorials: noodles and fork become one `RLock`. The
//! scientist who takes it first may take it again for the second item (it is
//! re-entrant), eats, and lets go; the other waits for the lock and then eats.
//!
//! Run: `cargo run --release --example deadlock`

use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::lock::{Mutex, RLock};

const USAGE: &str = "usage: cargo run --release --example deadlock (takes no arguments)";
const PAUSE: Duration = Duration::from_millis(100);

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("deadlock: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

fn log(start: Instant, what: String) {
    println!("  [{:>4.2}s] {what}", start.elapsed().as_secs_f64());
}

/// One scientist with two separate locks, taken in the order given.
fn eat_with_two_locks(
    name: &str,
    first: (&str, &Mutex<()>),
    second: (&str, &Mutex<()>),
    start: Instant,
) {
    let _first = first.1.lock();
    log(start, format!("{name} takes the {}", first.0));
    greenlet::sleep(PAUSE);
    log(start, format!("{name} reaches for the {}...", second.0));
    let _second = second.1.lock();
    log(start, format!("{name} takes the {} and eats", second.0));
}

/// Alice and Bob take the two locks in opposite order. Never returns: the
/// `joinall` panics with the hub's deadlock report.
fn dinner_with_two_mutexes() {
    let start = Instant::now();
    let noodles = Rc::new(Mutex::new(()));
    let fork = Rc::new(Mutex::new(()));
    let alice = {
        let (noodles, fork) = (noodles.clone(), fork.clone());
        greenlet::Builder::new().name("alice").spawn(move || {
            eat_with_two_locks("alice", ("noodles", &noodles), ("fork", &fork), start)
        })
    };
    let bob = greenlet::Builder::new()
        .name("bob")
        .spawn(move || eat_with_two_locks("bob", ("fork", &fork), ("noodles", &noodles), start));
    let scientists = [alice, bob].map(|g| g.expect("the default stack size is valid"));
    greenlet::joinall(scientists);
    unreachable!("the two scientists wait for each other forever");
}

/// The fix: noodles and fork are one re-entrant lock, taken twice.
fn eat_with_one_rlock(name: &str, items: [&str; 2], lock: &RLock<()>, start: Instant) {
    let _first = lock.lock();
    log(start, format!("{name} takes the {}", items[0]));
    greenlet::sleep(PAUSE);
    log(start, format!("{name} reaches for the {}...", items[1]));
    let _second = lock.lock(); // the same lock again: the holder may re-enter
    log(start, format!("{name} takes the {} and eats", items[1]));
    greenlet::sleep(PAUSE);
    log(start, format!("{name} is done and puts both down"));
}

fn dinner_with_one_rlock() -> Duration {
    let start = Instant::now();
    let noodles_and_fork = Rc::new(RLock::new(()));
    let alice = {
        let lock = noodles_and_fork.clone();
        greenlet::spawn(move || eat_with_one_rlock("alice", ["noodles", "fork"], &lock, start))
    };
    let bob = greenlet::spawn(move || {
        eat_with_one_rlock("bob", ["fork", "noodles"], &noodles_and_fork, start)
    });
    for result in greenlet::joinall([alice, bob]) {
        result.expect("a scientist failed");
    }
    start.elapsed()
}

fn main() {
    check_args();
    env_logger::init();

    println!("two Mutexes, taken in opposite order:");
    // The deadlock report is a panic; keep the default hook from printing
    // it (and a backtrace) while the doomed dinner runs.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::thread::spawn(dinner_with_two_mutexes).join();
    std::panic::set_hook(default_hook);
    let payload = match outcome {
        Ok(()) => unreachable!("the dinner with two mutexes cannot end"),
        Err(payload) => payload,
    };
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)");
    println!("the hub reported, instead of hanging:");
    for line in message.lines() {
        println!("  | {line}");
    }

    println!("\none RLock for both noodles and fork:");
    let took = dinner_with_one_rlock();
    println!(
        "both ate, one after the other, in {:.2} s: no deadlock",
        took.as_secs_f64()
    );
}
