//! Diagnostics: the deadlock panic, the stack-overflow report, and `stats()`.

mod util;

use std::panic::{self, AssertUnwindSafe};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use greenlet::{Builder, sleep, spawn, spawn_later, stats, yield_now};
use util::{LONG, ms, overflow_line, panic_text, recurse_forever};

const DEADLOCK: &str = "greenlet: deadlock: this operation would block forever";

/// Runs `f`, which must panic, and returns its panic message.
fn panic_message_of<R>(f: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => panic_text(&*payload),
    }
}

/// The line of the deadlock message about greenlet `id`.
fn line_about(message: &str, id: impl std::fmt::Display) -> &str {
    let prefix = format!("greenlet {id}");
    message
        .lines()
        .map(str::trim)
        .find(|line| {
            line.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .unwrap_or_else(|| panic!("no line about greenlet {id} in:\n{message}"))
}

// ---- deadlock ---------------------------------------------------------------

#[test]
fn joining_a_greenlet_that_can_never_finish_panics_instead_of_hanging() {
    let forever = spawn(|| sleep(Duration::MAX));
    let message = panic_message_of(|| forever.join());
    assert!(message.starts_with(DEADLOCK), "{message}");
}

#[test]
fn a_root_sleep_that_can_never_end_panics_with_the_deadlock_message() {
    let message = panic_message_of(|| sleep(Duration::MAX));
    assert!(message.starts_with(DEADLOCK), "{message}");
    assert!(message.contains("root"), "{message}");
    assert!(message.contains("sleep"), "{message}");
}

#[test]
fn the_deadlock_message_lists_each_parked_greenlet_and_what_it_waits_on() {
    let forever = Builder::new()
        .name("forever")
        .spawn(|| sleep(Duration::MAX))
        .unwrap();
    let forever_id = forever.id();
    let stuck = Builder::new()
        .name("stuck")
        .spawn(move || forever.join().is_ok())
        .unwrap();
    let stuck_id = stuck.id();
    let message = panic_message_of(|| stuck.join());
    assert!(message.starts_with(DEADLOCK), "{message}");

    let stuck_line = line_about(&message, stuck_id);
    assert!(stuck_line.contains("stuck"), "{message}");
    assert!(
        stuck_line.contains(&format!("join of greenlet {forever_id}")),
        "{message}"
    );
    let forever_line = line_about(&message, forever_id);
    assert!(forever_line.contains("forever"), "{message}");
    assert!(forever_line.contains("sleep"), "{message}");
}

#[test]
fn the_deadlock_message_says_what_the_root_waits_on() {
    let forever = spawn(|| sleep(Duration::MAX));
    let id = forever.id();
    let message = panic_message_of(|| forever.join());
    let root_line = message
        .lines()
        .find(|line| line.contains("root"))
        .unwrap_or_else(|| panic!("no line about the root in:\n{message}"));
    assert!(
        root_line.contains(&format!("join of greenlet {id}")),
        "{message}"
    );
}

#[test]
fn the_hub_keeps_working_after_a_deadlock_panic_is_caught() {
    let forever = spawn(|| sleep(Duration::MAX));
    let message = panic_message_of(|| sleep(Duration::MAX));
    assert!(message.starts_with(DEADLOCK), "{message}");
    forever.kill();
    assert!(forever.join().unwrap_err().is_killed());
    assert_eq!(spawn(|| 5).join().unwrap(), 5);
    assert_eq!(stats().alive, 0);
}

#[test]
fn a_greenlet_parked_forever_does_not_cause_a_deadlock_while_the_root_sleeps() {
    let _forever = spawn(|| sleep(Duration::MAX));
    yield_now();
    let start = Instant::now();
    sleep(ms(30)); // a timer exists: the root's own
    assert!(start.elapsed() >= ms(30));
}

#[test]
fn a_greenlet_parked_forever_does_not_cause_a_deadlock_while_the_root_joins_a_sleeper() {
    let _forever = spawn(|| sleep(Duration::MAX));
    let sleeper = spawn(|| {
        sleep(ms(30));
        "woke"
    });
    assert_eq!(sleeper.join().unwrap(), "woke");
}

#[test]
fn wait_timeout_on_a_greenlet_parked_forever_times_out_instead_of_deadlocking() {
    let forever = spawn(|| sleep(Duration::MAX));
    assert!(!forever.wait_timeout(ms(20)));
}

#[test]
fn a_killed_spawn_later_does_not_delay_the_deadlock_panic() {
    let never = spawn_later(Duration::from_secs(2), || ());
    never.kill();
    let forever = spawn(|| sleep(Duration::MAX));
    let start = Instant::now();
    let message = panic_message_of(|| forever.join());
    assert!(message.starts_with(DEADLOCK), "{message}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the deadlock was reported only after {:?}",
        start.elapsed()
    );
}

// ---- stack overflow, in a child process ----------------------------------------

/// Set in a child process to the name of the test it must act out.
const CHILD_ENV: &str = "GREENLET_TEST_CHILD";

/// True in the child process started by `run_child(test)`.
fn in_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
}

/// Runs this test binary again with only `test`, in child mode.
fn run_child(test: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .output()
        .unwrap()
}

fn overflow_a_greenlet_named_deep() {
    let g = Builder::new()
        .name("deep")
        .stack_size(64 * 1024)
        .spawn(|| recurse_forever(0))
        .unwrap();
    let _ = g.join();
    eprintln!("the child survived its greenlet's stack overflow");
}

#[test]
fn a_greenlet_stack_overflow_stops_the_process() {
    const NAME: &str = "a_greenlet_stack_overflow_stops_the_process";
    if in_child(NAME) {
        return overflow_a_greenlet_named_deep();
    }
    let out = run_child(NAME);
    assert!(!out.status.success(), "the child exited successfully");
}

#[cfg(unix)]
#[test]
fn a_greenlet_stack_overflow_is_not_a_bare_segfault() {
    use std::os::unix::process::ExitStatusExt;
    const NAME: &str = "a_greenlet_stack_overflow_is_not_a_bare_segfault";
    if in_child(NAME) {
        return overflow_a_greenlet_named_deep();
    }
    let out = run_child(NAME);
    assert_ne!(out.status.signal(), Some(libc::SIGSEGV), "{:?}", out.status);
}

#[test]
fn a_greenlet_stack_overflow_message_names_the_greenlet_and_its_stack_size() {
    const NAME: &str = "a_greenlet_stack_overflow_message_names_the_greenlet_and_its_stack_size";
    if in_child(NAME) {
        return overflow_a_greenlet_named_deep();
    }
    let out = run_child(NAME);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = overflow_line(&stderr);
    assert!(line.contains("deep"), "{line}");
    assert!(line.contains("65536"), "{line}");
}

#[test]
fn a_greenlet_within_a_small_stack_runs_normally_in_a_child_process() {
    const NAME: &str = "a_greenlet_within_a_small_stack_runs_normally_in_a_child_process";
    if in_child(NAME) {
        let g = Builder::new()
            .name("shallow")
            .stack_size(64 * 1024)
            .spawn(|| (0..20u64).map(|n| std::hint::black_box(n) * 2).sum::<u64>())
            .unwrap();
        assert_eq!(g.join().unwrap(), 380);
        return;
    }
    let out = run_child(NAME);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(!stderr.contains("stack overflow"), "{stderr}");
}

#[test]
fn a_stack_overflow_outside_greenlets_is_still_reported_by_std() {
    const NAME: &str = "a_stack_overflow_outside_greenlets_is_still_reported_by_std";
    if in_child(NAME) {
        stats(); // make the hub, which installs the greenlet fault handler
        recurse_forever(0);
        return;
    }
    let out = run_child(NAME);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child exited successfully");
    assert!(stderr.contains("has overflowed its stack"), "{stderr}");
    assert!(!stderr.contains("stack overflow in greenlet"), "{stderr}");
}

// ---- stats ---------------------------------------------------------------------

#[test]
fn stats_count_nothing_on_a_fresh_thread() {
    let s = stats();
    assert_eq!((s.alive, s.parked, s.runnable), (0, 0, 0));
}

#[test]
fn stats_count_a_spawned_greenlet_as_alive_and_runnable() {
    let _gs: Vec<_> = (0..3).map(|_| spawn(|| ())).collect();
    let s = stats();
    assert_eq!((s.alive, s.runnable, s.parked), (3, 3, 0));
}

#[test]
fn stats_count_a_sleeping_greenlet_as_parked() {
    let _gs: Vec<_> = (0..3).map(|_| spawn(|| sleep(LONG))).collect();
    yield_now();
    let s = stats();
    assert_eq!((s.alive, s.runnable, s.parked), (3, 0, 3));
}

#[test]
fn stats_count_a_yielding_greenlet_as_runnable() {
    let _g = spawn(|| {
        loop {
            yield_now();
        }
    });
    yield_now();
    let s = stats();
    assert_eq!((s.alive, s.runnable, s.parked), (1, 1, 0));
}

#[test]
fn stats_count_a_pending_spawn_later_as_alive_only() {
    let _g = spawn_later(LONG, || ());
    yield_now();
    let s = stats();
    assert_eq!((s.alive, s.runnable, s.parked), (1, 0, 0));
}

#[test]
fn stats_count_nothing_alive_once_every_greenlet_has_finished() {
    let gs: Vec<_> = (0..3).map(|i| spawn(move || sleep(ms(i)))).collect();
    greenlet::joinall(gs);
    let s = stats();
    assert_eq!((s.alive, s.runnable, s.parked), (0, 0, 0));
}

#[test]
fn stats_count_the_switches_into_greenlets() {
    let before = stats().switches;
    let g = spawn(|| {
        for _ in 0..4 {
            yield_now();
        }
    });
    g.join().unwrap();
    // One switch to start it, one back after each of its four yields.
    assert_eq!(stats().switches - before, 5);
}

#[test]
fn stats_pool_the_stack_of_a_finished_greenlet() {
    let before = stats().stacks_pooled;
    spawn(|| ()).join().unwrap();
    assert_eq!(stats().stacks_pooled, before + 1);
}

#[test]
fn stats_reuse_a_pooled_stack_for_the_next_greenlet() {
    spawn(|| ()).join().unwrap();
    let pooled = stats().stacks_pooled;
    let g = spawn(|| sleep(LONG));
    yield_now(); // it started, on the pooled stack
    assert_eq!(stats().stacks_pooled, pooled - 1);
    g.kill();
    let _ = g.join();
}

#[test]
fn stats_are_per_thread() {
    let _gs: Vec<_> = (0..2).map(|_| spawn(|| ())).collect();
    let other = std::thread::spawn(|| stats().alive).join().unwrap();
    assert_eq!(other, 0);
    assert_eq!(stats().alive, 2);
}
