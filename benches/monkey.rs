//! Monkey patching's costs, each beside its anchor in the same run:
//!
//! - `unpatched_read`: one `read` at the end of a regular file. glibc's own
//!   `read` (found with `dlsym(RTLD_NEXT)`, bypassing the hook) against the
//!   hook this binary links in (`libc::read` resolves to it): before
//!   `patch_all`, after it outside greenlets, and in a greenlet (a file
//!   is never made non-blocking: the hook only looks it up). Each figure is
//!   timed in chunks of 1,000 calls alternating with as many untimed calls
//!   of the other, so both see the processor alike. Target: the hook ≤ 5 ns
//!   above glibc's.
//! - `ureq_fan_out`: 1,000 GETs with `ureq` against a thread-per-connection
//!   `std::net` server (on threads of its own) whose handler waits 1 ms:
//!   from 100 greenlets of one thread under `patch_all`, from 100 OS
//!   threads, and one after another.
//!
//! Run: `cargo bench --bench monkey` (one group: `-- '^ureq_fan_out/'`).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

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

/// Times `iters` calls of `timed`, in chunks, each chunk followed by as
/// many untimed calls of `other`: two figures taken this way alternate on
/// the processor, so drift (frequency, a neighbour) touches both alike.
fn interleaved(iters: u64, fd: libc::c_int, timed: ReadFn, other: ReadFn) -> Duration {
    const CHUNK: u64 = 1_000;
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            black_box(read_once(timed, black_box(fd)));
        }
        total += start.elapsed();
        for _ in 0..n {
            black_box(read_once(other, black_box(fd)));
        }
        left -= n;
    }
    total
}

fn unpatched_read(c: &mut Criterion) {
    let file = file_at_end();
    let fd = file.as_raw_fd();
    let hook: ReadFn = libc::read;
    let glibc = glibc_read();
    let mut group = c.benchmark_group("unpatched_read");
    assert!(!greenlet::monkey::is_patched(), "runs before patch_all");
    group.bench_function("glibc_read", |b| {
        b.iter_custom(|iters| interleaved(iters, fd, glibc, hook))
    });
    group.bench_function("hook_before_patch_all", |b| {
        b.iter_custom(|iters| interleaved(iters, fd, hook, glibc))
    });
    greenlet::monkey::patch_all();
    group.bench_function("glibc_read_after_patch_all", |b| {
        b.iter_custom(|iters| interleaved(iters, fd, glibc, hook))
    });
    group.bench_function("hook_patched_outside_greenlets", |b| {
        b.iter_custom(|iters| interleaved(iters, fd, hook, glibc))
    });
    group.bench_function("hook_patched_in_a_greenlet", |b| {
        b.iter_custom(|iters| {
            greenlet::spawn(move || interleaved(iters, fd, hook, glibc))
                .join()
                .unwrap()
        })
    });
    group.finish();
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

// `unpatched_read` first: its first figures are taken before `patch_all`.
criterion_group!(benches, unpatched_read, ureq_fan_out);
criterion_main!(benches);
