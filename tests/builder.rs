//! `Builder`, names and ids.

mod util;

use std::collections::HashSet;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use greenlet::{Builder, DEFAULT_STACK_SIZE, spawn};
use util::ms;

#[test]
fn builder_name_shows_in_name() {
    let g = Builder::new().name("worker").spawn(|| ()).unwrap();
    assert_eq!(g.name(), Some("worker"));
}

#[test]
fn builder_name_accepts_an_owned_string() {
    let name = format!("worker-{}", 3);
    let g = Builder::new().name(name).spawn(|| ()).unwrap();
    assert_eq!(g.name(), Some("worker-3"));
}

#[test]
fn an_unnamed_greenlet_has_no_name() {
    assert_eq!(spawn(|| ()).name(), None);
    assert_eq!(Builder::new().spawn(|| ()).unwrap().name(), None);
}

#[test]
fn a_greenlet_keeps_its_name_after_it_finishes() {
    let g = Builder::new().name("short-lived").spawn(|| ()).unwrap();
    assert!(g.wait_timeout(Duration::from_secs(5)));
    assert_eq!(g.name(), Some("short-lived"));
}

#[test]
fn greenlet_ids_are_unique() {
    let gs: Vec<_> = (0..1000).map(|_| spawn(|| ())).collect();
    let ids: HashSet<_> = gs.iter().map(|g| g.id()).collect();
    assert_eq!(ids.len(), gs.len());
}

#[test]
fn greenlet_ids_are_not_reused_after_a_greenlet_finishes() {
    let first = spawn(|| ());
    let first_id = first.id();
    first.join().unwrap();
    let later: Vec<_> = (0..100).map(|_| spawn(|| ())).collect();
    assert!(later.iter().all(|g| g.id() != first_id));
}

#[test]
fn greenlet_ids_are_unique_across_threads() {
    let here: Vec<_> = (0..100).map(|_| spawn(|| ()).id()).collect();
    let there = std::thread::spawn(|| (0..100).map(|_| spawn(|| ()).id()).collect::<Vec<_>>())
        .join()
        .unwrap();
    let all: HashSet<_> = here.iter().chain(&there).collect();
    assert_eq!(all.len(), 200);
}

#[test]
fn greenlet_ids_are_unique_across_threads_that_each_take_several_blocks_of_them() {
    // Threads take ids in blocks of 1,024: 2,500 spawns each take three
    // blocks, taken while the other threads take theirs.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..2500)
                    .map(|_| {
                        let g = spawn(|| ());
                        let id = g.id();
                        g.join().unwrap();
                        id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 10_000);
}

#[test]
fn a_greenlet_id_displays_as_its_number() {
    let id = spawn(|| ()).id();
    let shown = id.to_string();
    assert!(shown.chars().all(|c| c.is_ascii_digit()), "{shown:?}");
    assert_eq!(shown.parse::<u64>().unwrap(), id.as_u64());
}

#[test]
fn a_greenlet_id_debug_names_the_type_and_number() {
    let id = spawn(|| ()).id();
    assert_eq!(format!("{id:?}"), format!("GreenletId({id})"));
}

#[test]
fn builder_spawn_later_names_the_greenlet_and_delays_it() {
    let start = Instant::now();
    let g = Builder::new()
        .name("later")
        .spawn_later(ms(30), Instant::now)
        .unwrap();
    assert_eq!(g.name(), Some("later"));
    let started_at = g.join().unwrap();
    assert!(started_at - start >= ms(30));
}

#[test]
fn a_small_stack_runs_shallow_code() {
    let g = Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| (1..=10u32).sum::<u32>())
        .unwrap();
    assert_eq!(g.join().unwrap(), 55);
}

fn depth(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 + depth(std::hint::black_box(n - 1))
    }
}

#[test]
fn a_large_stack_runs_deep_recursion() {
    let g = Builder::new()
        .stack_size(16 << 20)
        .spawn(|| depth(50_000))
        .unwrap();
    assert_eq!(g.join().unwrap(), 50_000);
}

#[test]
fn a_stack_size_above_one_gib_is_rejected_as_invalid_input() {
    let err = Builder::new()
        .stack_size((1 << 30) + 1)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn the_default_stack_size_is_256_kib() {
    assert_eq!(DEFAULT_STACK_SIZE, 256 * 1024);
}

#[test]
fn the_default_stack_holds_a_formatted_panic_with_a_backtrace_in_a_debug_build() {
    let g = Builder::new()
        .spawn(|| {
            let _ = std::backtrace::Backtrace::force_capture().to_string();
            panic!("formatted {} {:?}", 1, [2, 3])
        })
        .unwrap();
    assert!(g.join().unwrap_err().is_panic());
}
