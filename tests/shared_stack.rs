//! Shared stacks: greenlets that run on a stack many of them share and,
//! while switched out, keep only the bytes of stack they use on the heap.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::queue::Queue;
use greenlet::{Builder, Greenlet, JoinError, StackKind, sleep, stats, with_timeout, yield_now};
use util::{DropFlag, LONG, Rng, child, flag, ms, overflow_line, panic_text, recurse_forever};

fn on(kind: StackKind) -> Builder {
    Builder::new().stack_kind(kind)
}

fn shared<T: 'static>(f: impl FnOnce() -> T + 'static) -> Greenlet<T> {
    on(StackKind::Shared).spawn(f).unwrap()
}

/// What frame `depth` of a recursion seeded with `seed` keeps in its locals.
fn word(seed: u64, depth: u32) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(depth)
}

/// Recurses `depth` frames, each holding 16 words of its own, calls `park`
/// at the bottom, then checks every frame's words on the way back up.
fn deep_then_park(depth: u32, seed: u64, park: &dyn Fn()) -> u64 {
    let frame = std::hint::black_box([word(seed, depth); 16]);
    let below = if depth == 0 {
        park();
        0
    } else {
        deep_then_park(depth - 1, seed, park)
    };
    assert!(
        frame.iter().all(|&w| w == word(seed, depth)),
        "frame {depth} of greenlet {seed} changed while it was switched out"
    );
    below.wrapping_add(frame[7])
}

fn expected(depth: u32, seed: u64) -> u64 {
    (0..=depth).fold(0u64, |sum, d| sum.wrapping_add(word(seed, d)))
}

#[test]
fn deep_recursion_then_park_resumes_with_every_local_intact() {
    const DEPTH: u32 = 300;
    let gs: Vec<_> = (0..20u64)
        .map(|seed| {
            let kind = if seed % 4 == 3 {
                StackKind::Private
            } else {
                StackKind::Shared
            };
            on(kind)
                .spawn(move || {
                    let park = move || {
                        sleep(ms(1 + seed % 5));
                        for _ in 0..seed % 3 {
                            yield_now();
                        }
                        sleep(ms(1));
                    };
                    deep_then_park(DEPTH, seed, &park)
                })
                .unwrap()
        })
        .collect();
    sleep(ms(1)); // all have started and parked at the bottom
    let held = stats().shared_stack_bytes;
    // 15 shared greenlets, each with at least 300 frames of 128 bytes of locals.
    assert!(held >= 15 * 300 * 128, "{held} bytes held");
    for (seed, g) in gs.into_iter().enumerate() {
        assert_eq!(g.join().unwrap(), expected(DEPTH, seed as u64));
    }
    assert_eq!(stats().shared_stack_bytes, 0);
}

#[test]
fn a_kill_while_switched_out_unwinds_the_greenlet_and_runs_its_destructors() {
    let dropped = flag();
    let guard = DropFlag(dropped.clone());
    let g = shared(move || {
        let _guard = guard;
        deep_then_park(100, 1, &|| sleep(LONG))
    });
    sleep(ms(1));
    assert!(!dropped.get());
    g.kill();
    assert!(matches!(g.join(), Err(JoinError::Killed)));
    assert!(dropped.get());
    let stats = stats();
    assert_eq!(stats.shared_stack_greenlets, 0, "{stats:?}");
    assert_eq!(stats.shared_stack_bytes, 0, "{stats:?}");
}

#[test]
fn with_timeout_while_switched_out_returns_elapsed_and_the_greenlet_goes_on() {
    let g = shared(|| {
        let timed_out = Cell::new(false);
        let park = || {
            let result = with_timeout(ms(20), || sleep(LONG));
            timed_out.set(result.is_err());
        };
        let sum = deep_then_park(100, 2, &park);
        (timed_out.get(), sum)
    });
    let start = Instant::now();
    assert_eq!(g.join().unwrap(), (true, expected(100, 2)));
    assert!(start.elapsed() < ms(2000), "took {:?}", start.elapsed());
}

#[test]
fn a_panic_on_a_shared_stack_is_returned_by_join_and_its_neighbours_go_on() {
    let neighbour = shared(|| deep_then_park(50, 3, &|| sleep(ms(30))));
    let g = shared(|| {
        deep_then_park(50, 4, &|| {
            sleep(ms(10));
            panic!("boom on a shared stack");
        })
    });
    match g.join() {
        Err(JoinError::Panicked(payload)) => {
            assert_eq!(panic_text(&*payload), "boom on a shared stack");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(neighbour.join().unwrap(), expected(50, 3));
}

#[test]
fn a_stack_overflow_on_a_shared_stack_names_the_greenlet_and_its_stack_size() {
    const NAME: &str = "a_stack_overflow_on_a_shared_stack_names_the_greenlet_and_its_stack_size";
    if child::is_child(NAME) {
        // Another shared-stack greenlet is switched out meanwhile.
        let _parked = shared(|| sleep(LONG));
        let g = on(StackKind::Shared)
            .name("deep-shared")
            .stack_size(64 * 1024)
            .spawn(|| {
                sleep(ms(1));
                recurse_forever(0)
            })
            .unwrap();
        let _ = g.join();
        eprintln!("the child survived its greenlet's stack overflow");
        return;
    }
    let out = child::run(NAME);
    assert!(!out.status.success(), "the child exited successfully");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = overflow_line(&stderr);
    assert!(line.contains("\"deep-shared\""), "{line}");
    assert!(line.contains("65536"), "{line}");
}

/// A stack kind, picked at random.
fn random_kind(rng: &mut Rng) -> StackKind {
    if rng.below(2) == 0 {
        StackKind::Shared
    } else {
        StackKind::Private
    }
}

#[test]
fn both_kinds_on_one_hub_under_random_sleeps_and_kills_receive_every_item_once() {
    const SEED: u64 = 0x5EED_5AC5;
    const PRODUCERS: u64 = 40;
    const ITEMS: u64 = 50;
    let rng = Rc::new(RefCell::new(Rng::new(SEED, 0)));
    let queue: Queue<u64> = Queue::new();
    let received = Rc::new(RefCell::new(vec![0u32; (PRODUCERS * ITEMS) as usize]));
    let consumer = |rng: &Rc<RefCell<Rng>>| {
        let (queue, received, rng2) = (queue.clone(), received.clone(), rng.clone());
        let kind = random_kind(&mut rng.borrow_mut());
        on(kind)
            .spawn(move || {
                let depth = rng2.borrow_mut().below(40) as u32;
                loop {
                    // Some depth of stack to copy while it waits.
                    deep_then_park(depth, depth.into(), &|| {
                        let item = queue.get();
                        received.borrow_mut()[item as usize] += 1;
                    });
                }
            })
            .unwrap()
    };
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (queue, rng2) = (queue.clone(), rng.clone());
            let kind = random_kind(&mut rng.borrow_mut());
            on(kind)
                .spawn(move || {
                    for i in 0..ITEMS {
                        let pause = rng2.borrow_mut().below(3) as u64;
                        deep_then_park(pause as u32 * 10, p, &|| sleep(ms(pause)));
                        queue.put(p * ITEMS + i);
                    }
                })
                .unwrap()
        })
        .collect();
    let mut consumers: Vec<_> = (0..10).map(|_| consumer(&rng)).collect();
    let start = Instant::now();
    let total = (PRODUCERS * ITEMS) as u32;
    let done = || received.borrow().iter().sum::<u32>() == total;
    let mut kills = 0;
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(8), "items lost");
        let pause = 1 + rng.borrow_mut().below(2) as u64;
        sleep(ms(pause));
        let victim = rng.borrow_mut().below(consumers.len());
        consumers.swap_remove(victim).kill();
        kills += 1;
        consumers.push(consumer(&rng));
    }
    for p in producers {
        p.join().unwrap();
    }
    greenlet::killall(consumers);
    assert!(kills > 10, "only {kills} kills");
    let received = received.borrow();
    let wrong: Vec<_> = (0..received.len()).filter(|&i| received[i] != 1).collect();
    assert!(
        wrong.is_empty(),
        "items not received exactly once: {wrong:?}"
    );
    let stats = stats();
    assert_eq!(stats.shared_stack_greenlets, 0, "{stats:?}");
    assert_eq!(stats.shared_stack_bytes, 0, "{stats:?}");
}

#[test]
fn stats_count_stacks_of_each_kind_and_the_bytes_held() {
    let private: Vec<_> = (0..3)
        .map(|_| on(StackKind::Private).spawn(|| sleep(ms(30))).unwrap())
        .collect();
    let shared: Vec<_> = (0..5).map(|_| self::shared(|| sleep(ms(30)))).collect();
    sleep(ms(1));
    let during = stats();
    assert_eq!(during.private_stacks, 3, "{during:?}");
    assert_eq!(during.shared_stacks, 1, "{during:?}");
    assert_eq!(during.shared_stack_greenlets, 5, "{during:?}");
    assert!(during.shared_stack_bytes > 0, "{during:?}");
    // Each keeps only what it uses (a sleep is a few KiB deep even in a
    // debug build), never its whole 256 KiB stack.
    assert!(during.shared_stack_bytes < 5 * 64 * 1024, "{during:?}");
    greenlet::joinall(private);
    greenlet::joinall(shared);
    let after = stats();
    assert_eq!(after.private_stacks, 0, "{after:?}");
    assert_eq!(after.shared_stack_greenlets, 0, "{after:?}");
    assert_eq!(after.shared_stack_bytes, 0, "{after:?}");
}

#[test]
fn unpinned_greenlets_past_a_threads_first_256_on_private_stacks_go_to_the_shared_stack() {
    let gs: Vec<_> = (0..300)
        .map(|_| greenlet::spawn(|| sleep(ms(20))))
        .collect();
    yield_now(); // each runs up to its sleep
    let during = stats();
    assert_eq!(during.private_stacks, 256, "{during:?}");
    assert_eq!(during.shared_stack_greenlets, 44, "{during:?}");
    greenlet::joinall(gs);
    // Private stacks handed back count no more: the next one is private.
    let next = greenlet::spawn(|| sleep(ms(20)));
    yield_now();
    let after = stats();
    assert_eq!(after.private_stacks, 1, "{after:?}");
    assert_eq!(after.shared_stack_greenlets, 0, "{after:?}");
    next.join().unwrap();
}

/// In debug builds the vacated part of a shared stack is filled with a
/// pattern, and a write into it while its greenlet is out is caught when
/// the next greenlet comes onto the stack. Unsafe code is the only way to
/// make one (here: a raw pointer to a local, kept past the switch).
#[cfg(debug_assertions)]
#[test]
fn a_write_into_a_switched_out_shared_stack_is_caught_in_debug_builds() {
    const NAME: &str = "a_write_into_a_switched_out_shared_stack_is_caught_in_debug_builds";
    if child::is_child(NAME) {
        let address = Rc::new(Cell::new(0usize));
        let published = address.clone();
        let g = shared(move || {
            let local = std::hint::black_box(7u64);
            published.set(&local as *const u64 as usize);
            sleep(ms(5));
            local
        });
        sleep(ms(1)); // it has published its local's address and parked
        // SAFETY: none; this breaks the shared-stack rule on purpose. The
        // address is inside the shared stack's mapping, which stays mapped,
        // so the write itself cannot fault.
        unsafe { std::ptr::write_volatile(address.get() as *mut u64, 0) };
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.join()));
        let message = panic_text(&*caught.expect_err("the write was not caught"));
        assert!(message.contains("was written at"), "{message}");
        println!("caught: {message}");
        // The hub was stopped mid-switch: leave without tearing it down.
        std::process::exit(0);
    }
    let out = child::run(NAME);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("caught: "),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The server of the test below: echoes, and answers `stats` with the
/// shared-stack greenlets and private stacks it has. Exits when its stdin
/// closes (the parent's end).
fn idle_connections_server() {
    use std::io::{Read, Write};
    std::thread::spawn(|| {
        let _ = std::io::stdin().read(&mut [0]);
        std::process::exit(0);
    });
    let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |stream, _| {
        let mut buf = vec![0u8; 4096];
        loop {
            let n = match (&stream).read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let reply = if &buf[..n] == b"stats\n" {
                let stats = stats();
                format!(
                    "{} {}\n",
                    stats.shared_stack_greenlets, stats.private_stacks
                )
                .into_bytes()
            } else {
                buf[..n].to_vec()
            };
            if (&stream).write_all(&reply).is_err() {
                return;
            }
        }
    })
    .unwrap();
    // After the harness's "test <name> ... ", on the same line.
    println!("port {}", server.local_addr().unwrap().port());
    server.serve_forever();
}

#[test]
fn a_stream_server_holding_9000_idle_connections_mostly_on_shared_stacks_serves_100_active_clients()
{
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    const NAME: &str = "a_stream_server_holding_9000_idle_connections_mostly_on_shared_stacks_serves_100_active_clients";
    // The descriptor limit here is 20,000 and cannot be raised: 9,000 idle
    // connections (and 100 active ones) on each side, server in a child.
    const IDLE: usize = 9_000;
    const ACTIVE: usize = 100;
    if child::is_child(NAME) {
        return idle_connections_server();
    }
    let start = Instant::now();
    // A budget of 200 stacks: 150 private, the rest of the connections shared.
    let mut server = child::spawn_with(NAME, &[("GREENLET_MAX_STACKS", "200")]);
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.rsplit_once("port ")
                .and_then(|(_, p)| p.trim().parse().ok())
        })
        .expect("the server printed its port");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let connect = || {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
    };
    let round_trip = |stream: &mut TcpStream, message: &[u8]| {
        stream.write_all(message).unwrap();
        let mut reply = vec![0u8; message.len()];
        stream.read_exact(&mut reply).unwrap();
        reply
    };
    let idle: Vec<TcpStream> = (0..IDLE).map(|_| connect()).collect();
    let mut active: Vec<TcpStream> = (0..ACTIVE).map(|_| connect()).collect();
    // Every connection has been accepted and its greenlet has parked.
    let mut probe = connect();
    let counts = loop {
        probe.write_all(b"stats\n").unwrap();
        let mut reply = [0u8; 64];
        let n = probe.read(&mut reply).unwrap();
        let text = String::from_utf8_lossy(&reply[..n]).to_string();
        let counts: Vec<usize> = text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if counts[0] + counts[1] > IDLE + ACTIVE {
            break counts;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "only {text} connections"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // [shared-stack greenlets, private stacks]: three quarters of the budget
    // (fewer than the 256 a thread may run on private stacks unpinned)
    // private, every other connection on the shared stack.
    assert!(counts[1] <= 150, "{counts:?}");
    assert!(counts[0] > IDLE + ACTIVE - 150, "{counts:?}");
    for round in 0..20u32 {
        for (i, stream) in active.iter_mut().enumerate() {
            let message = format!("round {round} client {i}\n");
            assert_eq!(round_trip(stream, message.as_bytes()), message.as_bytes());
        }
    }
    drop(idle);
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_thread_that_exits_with_greenlets_parked_on_a_shared_stack_runs_their_destructors() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    std::thread::spawn(move || {
        for seed in 0..50 {
            let guard = CountDrop(counter.clone());
            shared(move || {
                let _guard = guard;
                deep_then_park(20, seed, &|| sleep(LONG))
            });
        }
        sleep(ms(1)); // every one has started, copied itself out and parked
        assert_eq!(stats().shared_stack_greenlets, 50);
    })
    .join()
    .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 50);
}
