//! SEEDS.md row 8: a semaphore, "a counter plus a lock", letting at most N
//! in at once (the tutorials' KTV room).
//!
//! Ten visitors share a room of three places, guarded by a
//! `greenlet::lock::Semaphore` with three permits. Each takes a permit,
//! stays a while, and gives it back by dropping the guard; the others park
//! in `acquire` meanwhile and go in first come, first served. The example
//! counts who is inside and checks it never goes above three. The stays come
//! from a small seeded generator.
//!
//! Run: `cargo run --release --example semaphore`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::lock::Semaphore;

const USAGE: &str = "usage: cargo run --release --example semaphore (takes no arguments)";
const PLACES: usize = 3;
const VISITORS: u64 = 10;

/// Prints `--help`, or rejects any other argument with exit code 2.
fn check_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("semaphore: unknown argument {arg:?}\n{USAGE}");
        std::process::exit(2);
    }
}

/// A stay of 100 to 400 ms, from a seeded xorshift generator.
fn stay(seed: u64) -> Duration {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    Duration::from_millis(100 + x % 301)
}

/// Who is in the room, and the most there have been at once.
#[derive(Default)]
struct Room {
    inside: Cell<usize>,
    most: Cell<usize>,
}

fn visit(visitor: u64, places: &Semaphore, room: &Room, start: Instant) {
    let _permit = match places.try_acquire() {
        Some(permit) => permit,
        None => {
            println!(
                "[{:>4.2}s] visitor {visitor:>2} waits at the door (room full)",
                start.elapsed().as_secs_f64()
            );
            places.acquire()
        }
    };
    room.inside.set(room.inside.get() + 1);
    room.most.set(room.most.get().max(room.inside.get()));
    assert!(room.inside.get() <= PLACES, "the semaphore let too many in");
    let stay = stay(visitor);
    println!(
        "[{:>4.2}s] visitor {visitor:>2} enters ({} inside), stays {} ms",
        start.elapsed().as_secs_f64(),
        room.inside.get(),
        stay.as_millis()
    );
    greenlet::sleep(stay);
    room.inside.set(room.inside.get() - 1);
    println!(
        "[{:>4.2}s] visitor {visitor:>2} leaves ({} inside)",
        start.elapsed().as_secs_f64(),
        room.inside.get()
    );
    // The permit goes back here, when `_permit` is dropped: the longest
    // waiter gets it.
}

fn main() {
    check_args();
    env_logger::init();
    println!("{VISITORS} visitors, a room of {PLACES} places (a Semaphore with {PLACES} permits)");
    let start = Instant::now();
    let places = Rc::new(Semaphore::new(PLACES));
    let room = Rc::new(Room::default());

    let visitors: Vec<_> = (1..=VISITORS)
        .map(|visitor| {
            let (places, room) = (places.clone(), room.clone());
            greenlet::spawn(move || visit(visitor, &places, &room, start))
        })
        .collect();
    for result in greenlet::joinall(visitors) {
        result.expect("a visitor failed");
    }

    println!(
        "all {VISITORS} visited in {:.2} s; at most {} were inside at once (limit {PLACES}); \
         {} permits free at the end",
        start.elapsed().as_secs_f64(),
        room.most.get(),
        places.available()
    );
}
