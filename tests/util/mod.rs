//! Helpers shared by the integration tests: destructor observers, an event
//! log, and timing assertions that leave room for a noisy machine.

#![allow(dead_code)] // each test file uses a different subset

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Runs `body` on a thread of its own, with monkey patching on, and fails
/// if it takes longer than `limit`: a hook that is missing or wrong blocks
/// the thread instead of parking a greenlet, and the test fails instead of
/// hanging.
#[cfg(all(feature = "hook", target_os = "linux"))]
pub fn watchdog<T: Send + 'static>(
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    greenlet::monkey::patch_all();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(body());
    });
    match finished.recv_timeout(limit) {
        Ok(value) => value,
        Err(_) => panic!("the test body did not finish within {limit:?} (a hook blocked?)"),
    }
}

/// A sleep long enough that a test never waits for it to end.
pub const LONG: Duration = Duration::from_secs(3600);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A shared flag, set by whoever holds a clone.
pub fn flag() -> Rc<Cell<bool>> {
    Rc::new(Cell::new(false))
}

/// Sets its flag when dropped: shows that a destructor ran.
pub struct DropFlag(pub Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Adds one to its counter when dropped.
pub struct DropCounter(pub Rc<Cell<usize>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// An ordered record of events, shared between greenlets.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Asserts `at_least <= elapsed < less_than`.
#[track_caller]
pub fn assert_elapsed(elapsed: Duration, at_least: Duration, less_than: Duration) {
    assert!(
        elapsed >= at_least && elapsed < less_than,
        "took {elapsed:?}; expected at least {at_least:?} and less than {less_than:?}"
    );
}

/// xorshift64*: small, deterministic, good enough to pick sleeps and victims.
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `stream` of `seed` (one stream per greenlet).
    pub fn new(seed: u64, stream: u64) -> Rng {
        // splitmix64 of the pair, so nearby streams start far apart; never 0.
        let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// Sleeps 0 to 2 ms (0 is a plain yield).
    pub fn pause(&mut self) {
        greenlet::sleep(Duration::from_micros(self.below(2_001) as u64));
    }
}

/// Recurses until the stack runs out; the array keeps each frame large and
/// real, so it is not turned into a loop.
pub fn recurse_forever(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if std::hint::black_box(depth) == u64::MAX {
        return frame[0];
    }
    recurse_forever(depth + 1) + frame[1]
}

/// The stack-overflow report in a child's stderr; fails if there is none.
#[track_caller]
pub fn overflow_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|line| line.contains("stack overflow in greenlet"))
        .unwrap_or_else(|| panic!("no overflow message in the child's stderr:\n{stderr}"))
}

/// Runs the hub (sleeping 1 ms at a time) until `done` holds; fails after `limit`.
#[track_caller]
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "the condition did not hold within {limit:?}"
        );
        greenlet::sleep(ms(1));
    }
}

/// The text of a panic payload (a `&str` or a `String`).
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        panic!("the panic payload is not a string")
    }
}

/// A fresh directory under `std::env::temp_dir()`, removed with everything
/// in it when dropped (for Unix socket files).
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A new empty directory whose name holds `tag`, the process id and a
    /// per-process count, so parallel tests and test runs never share one.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("greenlet-test-{}-{n}-{tag}", std::process::id()));
        std::fs::create_dir(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a test's scenario in a child process (this test binary again, with
/// only that test): for behaviour that aborted or exhausted the process.
pub mod child {
    use std::process::{Command, Output};

    /// Set in a child process to the name of the test it must act out.
    const CHILD_ENV: &str = "GREENLET_TEST_CHILD";

    /// True in the child process started by `run(test)`.
    pub fn is_child(test: &str) -> bool {
        std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
    }

    /// Runs this test binary again with only `test`, in child mode.
    pub fn run(test: &str) -> Output {
        run_with(test, &[])
    }

    /// This test binary, to run only `test`, in child mode, with `env`.
    fn command(test: &str, env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, test)
            .envs(env.iter().copied());
        command
    }

    /// As [`run`], with extra environment variables for the child.
    pub fn run_with(test: &str, env: &[(&str, &str)]) -> Output {
        command(test, env).output().unwrap()
    }

    /// Starts this test binary again with only `test`, in child mode, with
    /// piped stdin and stdout, and returns at once. The child is killed when
    /// the returned guard drops.
    pub fn spawn_with(test: &str, env: &[(&str, &str)]) -> Running {
        use std::process::Stdio;
        let mut command = command(test, env);
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        Running(command.spawn().unwrap())
    }

    /// A child process, killed when this is dropped.
    pub struct Running(pub std::process::Child);

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Runs `scenario` in a child process when called from the test `name`
    /// in the parent, and asserts that the child exited 0 after printing
    /// `scenario done` (so it neither aborted nor returned early).
    #[track_caller]
    pub fn assert_runs_to_the_end(name: &str, scenario: impl FnOnce()) {
        run_scenario(name, &[], scenario);
    }

    /// As [`assert_runs_to_the_end`], with extra environment variables for
    /// the child; in the parent, returns the child's output for more checks
    /// (`None` in the child).
    #[track_caller]
    pub fn run_scenario(
        name: &str,
        env: &[(&str, &str)],
        scenario: impl FnOnce(),
    ) -> Option<Output> {
        if is_child(name) {
            scenario();
            println!("scenario done");
            return None;
        }
        let out = run_with(name, env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("scenario done"),
            "the child failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
        Some(out)
    }
}

/// `count` round trips from this greenlet: `request` sends `i`, and the
/// reply from `replies` (within 2 s) must be `i * 2`. Returns the slowest
/// round trip; a lost wake-up shows as one of 2 s (the reply waits out the
/// timeout).
pub fn slowest_of_round_trips(
    count: u64,
    requests: &greenlet::channel::Sender<u64>,
    replies: &greenlet::channel::Receiver<u64>,
) -> Duration {
    let mut slowest = Duration::ZERO;
    for request in 0..count {
        let start = Instant::now();
        requests.send(request).unwrap();
        let reply = replies.recv_timeout(Duration::from_secs(2));
        assert_eq!(reply, Ok(request * 2), "round trip {request}");
        slowest = slowest.max(start.elapsed());
    }
    slowest
}
