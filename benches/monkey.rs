//! Monkey patching's costs, each beside its anchor in the same run:
//!
//! - `unpatched_read`: one `read` at the end of a regular file. glibc's own
//!   `read` (found with `dlsym(RTLD_NEXT)`, bypassing the hook) against the
//!   hook this binary links in (`libc::read` resolves to it): before
//!   `patch_all`, after it outside greenlets, and in a greenlet (a file
//!   is never made non-blocking: the hook only looks it up). Each variant
//!   runs in a child process of its own, in pairs with a glibc child (A B A
//!   B ...), so that both see the processor alike (`patch_all` cannot be
//!   undone within a process); a table, not criterion. Target: the hook
//!   ≤ 5 ns above glibc's.
//! - `ureq_fan_out`: 1,000 GETs with `ureq` against a thread-per-connection
//!   `std::net` server (on threads of its own) whose handler waits 1 ms:
//!   from 100 greenlets of one thread under `patch_all`, from 100 OS
//!   threads, and one after another.
//!
//! Run: `cargo bench --bench monkey` (one part: `-- unpatched_read` or
//! `-- '^ureq_fan_out/'`).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};

type ReadFn = unsafe extern "C" fn(libc::c_int, *mut libc::c_void, libc::size_t) -> libc::ssize_t;

/// glibc's `read`, not the hook.
fn glibc_read() -> ReadFn {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name.
    let found = unsafe { libc::dlsym(libc::RTLD_NEXT, c"read".as_ptr()) };
    assert!(!found.is_null(), "libc has a read");
    // SAFETY: libc's read has this signature.
    unsafe { std::mem::transmute::<*mut libc::c_void, ReadFn>(found) }
}

/// A regular file, open, positioned at its end (so a read returns 0).
fn file_at_end() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("greenlet-bench-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut byte = [0; 1];
    file.read_exact(&mut byte).unwrap();
    file
}

fn read_once(read: ReadFn, fd: libc::c_int) -> libc::ssize_t {
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer for a descriptor this benchmark owns.
    unsafe { read(fd, (&raw mut byte).cast(), 1) }
}

/// Reads in one child process: `variant` is `glibc` (libc's own read),
/// `hook` (the hook, before `patch_all`), `patched` (after it, outside
/// greenlets) or `greenlet` (after it, in a greenlet). Prints ns per read.
fn read_child(variant: &str, reads: u64) {
    let file = file_at_end();
    let fd = file.as_raw_fd();
    let read: ReadFn = if variant == "glibc" {
        glibc_read()
    } else {
        libc::read
    };
    if variant == "patched" || variant == "greenlet" {
        greenlet::monkey::patch_all();
    }
    let run = move || {
        let start = Instant::now();
        for _ in 0..reads {
            black_box(read_once(read, black_box(fd)));
        }
        start.elapsed()
    };
    let elapsed = if variant == "greenlet" {
        greenlet::spawn(run).join().unwrap()
    } else {
        run()
    };
    println!("{}", elapsed.as_nanos() as f64 / reads as f64);
}

/// One child's ns per read.
fn read_cost(variant: &str) -> f64 {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--read-child", variant, &READS.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "the {variant} child failed");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

const READS: u64 = 2_000_000;
const PAIRS: usize = 9;

/// Each hook variant against glibc's read, in pairs of child processes
/// (A B A B ...), so that a drift of the machine touches both sides of a
/// pair alike; the table gives medians and the median of the pairwise
/// differences.
fn unpatched_read() {
    println!(
        "\nA read at the end of a regular file, ns per call ({READS} reads per process, median of {PAIRS} pairs):\n"
    );
    println!("| variant | hook | glibc's read (same pairs) | hook − glibc |");
    println!("|---|---:|---:|---:|");
    for (variant, label) in [
        ("hook", "hook, before patch_all"),
        ("patched", "hook, patched, outside greenlets"),
        ("greenlet", "hook, patched, in a greenlet"),
    ] {
        let mut hook = Vec::new();
        let mut glibc = Vec::new();
        let mut diff = Vec::new();
        for _ in 0..PAIRS {
            let (h, g) = (read_cost(variant), read_cost("glibc"));
            hook.push(h);
            glibc.push(g);
            diff.push(h - g);
        }
        println!(
            "| {label} | {:.1} | {:.1} | {:+.1} |",
            median(hook),
            median(glibc),
            median(diff)
        );
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

const GETS: usize = 1_000;
const CLIENTS: usize = 100;
const HANDLER_DELAY: Duration = Duration::from_millis(1);

/// A thread-per-connection HTTP server that answers after `HANDLER_DELAY`.
fn http_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                thread::sleep(HANDLER_DELAY);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                );
            });
        }
    });
    addr
}

fn get(url: &str) -> usize {
    let body = ureq::get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert_eq!(body, "hello");
    1
}

fn ureq_fan_out(c: &mut Criterion) {
    greenlet::monkey::patch_all();
    let url = format!("http://{}/", http_server());
    let mut group = c.benchmark_group("ureq_fan_out");
    group.sample_size(10);
    group.bench_function("greenlets_100", |b| {
        b.iter(|| {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let url = url.clone();
                    greenlet::spawn(move || (0..GETS / CLIENTS).map(|_| get(&url)).sum::<usize>())
                })
                .collect();
            let done: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
            assert_eq!(done, GETS);
        })
    });
    group.bench_function("os_threads_100", |b| {
        b.iter(|| {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let url = url.clone();
                    thread::spawn(move || (0..GETS / CLIENTS).map(|_| get(&url)).sum::<usize>())
                })
                .collect();
            let done: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
            assert_eq!(done, GETS);
        })
    });
    group.bench_function("sequential", |b| {
        b.iter(|| {
            let done: usize = (0..GETS).map(|_| get(&url)).sum();
            assert_eq!(done, GETS);
        })
    });
    group.finish();
}

criterion_group!(benches, ureq_fan_out);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--read-child") {
        read_child(&args[2], args[3].parse().unwrap());
        return;
    }
    if !args.iter().any(|arg| arg == "--bench") {
        println!("monkey bench: not run (pass --bench, as `cargo bench --bench monkey` does)");
        return;
    }
    let filtered = args.iter().skip(1).any(|arg| !arg.starts_with('-'));
    if !filtered || args.iter().any(|arg| arg.contains("unpatched_read")) {
        unpatched_read();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
