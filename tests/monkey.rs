//! Monkey patching (feature `hook`): unmodified std code in greenlets.
//!
//! Each test body runs under a watchdog: a hook that is missing or wrong
//! would block the thread instead of parking a greenlet, and the test
//! fails after a bound instead of hanging.

#![cfg(all(feature = "hook", target_os = "linux"))]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod util;

use util::watchdog;

#[test]
fn fifty_std_sleeps_in_greenlets_overlap() {
    let elapsed = watchdog(Duration::from_secs(5), || {
        let start = Instant::now();
        let sleepers: Vec<_> = (0..50)
            .map(|_| greenlet::spawn(|| thread::sleep(Duration::from_millis(200))))
            .collect();
        for sleeper in sleepers {
            sleeper.join().unwrap();
        }
        start.elapsed()
    });
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(600),
        "50 sleeps of 200 ms took {elapsed:?}"
    );
}

#[test]
fn a_std_sleep_in_the_root_context_blocks_the_thread_and_runs_no_greenlet() {
    let ran_meanwhile = watchdog(Duration::from_secs(5), || {
        let other = greenlet::spawn(Instant::now);
        let start = Instant::now();
        thread::sleep(Duration::from_millis(100));
        let slept = start.elapsed();
        let ran_at = other.join().unwrap();
        (slept, ran_at > start + Duration::from_millis(100))
    });
    assert!(ran_meanwhile.0 >= Duration::from_millis(100));
    assert!(
        ran_meanwhile.1,
        "the greenlet ran during the root's std sleep"
    );
}

#[test]
fn a_std_echo_server_and_two_hundred_std_clients_share_one_thread_with_a_ticker() {
    let (echoed, ticks) = watchdog(Duration::from_secs(8), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = greenlet::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..200 {
                let (mut stream, _) = listener.accept().unwrap();
                handlers.push(greenlet::spawn(move || {
                    let mut buf = [0; 64];
                    loop {
                        let n = stream.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n]).unwrap();
                    }
                }));
            }
            for handler in handlers {
                handler.join().unwrap();
            }
        });
        let ticker = greenlet::spawn(|| {
            let start = Instant::now();
            let mut ticks = 0;
            while start.elapsed() < Duration::from_millis(300) {
                thread::sleep(Duration::from_millis(10));
                ticks += 1;
            }
            ticks
        });
        let clients: Vec<_> = (0..200)
            .map(|i| {
                greenlet::spawn(move || {
                    let mut stream = TcpStream::connect(addr).unwrap();
                    let mut echoed = 0;
                    for round in 0..5 {
                        let message = format!("client {i} round {round}\n");
                        stream.write_all(message.as_bytes()).unwrap();
                        let mut back = vec![0; message.len()];
                        stream.read_exact(&mut back).unwrap();
                        assert_eq!(back, message.as_bytes());
                        echoed += 1;
                    }
                    echoed
                })
            })
            .collect();
        let echoed: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        server.join().unwrap();
        (echoed, ticker.join().unwrap())
    });
    assert_eq!(echoed, 200 * 5);
    // 30 ticks of 10 ms fit in 300 ms; a blocked hub would give far fewer.
    assert!(ticks >= 15, "the ticker ticked {ticks} times in 300 ms");
}

/// A connected pair of std sockets on loopback.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// A greenlet that counts 10 ms sleeps until `stop` is set.
fn ticker(stop: std::rc::Rc<std::cell::Cell<bool>>) -> greenlet::Greenlet<u32> {
    greenlet::spawn(move || {
        let mut ticks = 0;
        while !stop.get() {
            greenlet::sleep(Duration::from_millis(10));
            ticks += 1;
        }
        ticks
    })
}

#[test]
fn set_read_timeout_on_a_std_stream_is_honoured_and_parks_only_its_greenlet() {
    let (result, elapsed, ticks) = watchdog(Duration::from_secs(5), || {
        let (client, _server) = pair();
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let ticking = ticker(stop.clone());
        let reader = greenlet::spawn(move || {
            let mut client = client;
            client
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let start = Instant::now();
            let result = client.read(&mut [0; 16]).map_err(|e| e.kind());
            (result, start.elapsed())
        });
        let (result, elapsed) = reader.join().unwrap();
        stop.set(true);
        (result, elapsed, ticking.join().unwrap())
    });
    assert_eq!(result, Err(io::ErrorKind::WouldBlock));
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");
    assert!(
        ticks >= 10,
        "the hub was blocked: {ticks} ticks in {elapsed:?}"
    );
}

#[test]
fn a_std_socket_its_user_set_non_blocking_returns_would_block_at_once() {
    let (result, elapsed) = watchdog(Duration::from_secs(5), || {
        let (client, _server) = pair();
        greenlet::spawn(move || {
            client.set_nonblocking(true).unwrap();
            let start = Instant::now();
            let result = (&client).read(&mut [0; 16]).map_err(|e| e.kind());
            (result, start.elapsed())
        })
        .join()
        .unwrap()
    });
    assert_eq!(result, Err(io::ErrorKind::WouldBlock));
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
}

#[test]
fn the_status_flags_show_o_nonblock_only_if_the_user_set_it() {
    let (before, after_user) = watchdog(Duration::from_secs(5), || {
        let (client, server) = pair();
        greenlet::spawn(move || {
            let mut client = client;
            // A patched read makes the socket non-blocking underneath.
            let writer = greenlet::spawn(move || (&server).write_all(b"x").unwrap());
            client.read_exact(&mut [0; 1]).unwrap();
            writer.join().unwrap();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&client);
            // SAFETY: F_GETFL on a descriptor this test owns.
            let before = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK;
            client.set_nonblocking(true).unwrap();
            // SAFETY: as above.
            let after = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK;
            (before, after)
        })
        .join()
        .unwrap()
    });
    assert_eq!(before, 0, "the hooks' O_NONBLOCK is hidden");
    assert_ne!(after_user, 0, "the user's O_NONBLOCK shows");
}

#[test]
fn regular_files_read_and_write_as_before_in_greenlets() {
    let text = watchdog(Duration::from_secs(5), || {
        greenlet::spawn(|| {
            let path = std::env::temp_dir().join(format!("greenlet-monkey-{}", std::process::id()));
            std::fs::write(&path, b"plain file\n").unwrap();
            let mut text = String::new();
            std::fs::File::open(&path)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            std::fs::remove_file(&path).unwrap();
            text
        })
        .join()
        .unwrap()
    });
    assert_eq!(text, "plain file\n");
}

#[test]
fn killing_a_greenlet_parked_in_a_std_read_reports_killed_and_the_peer_sees_eof() {
    let (outcome, error, peer_read) = watchdog(Duration::from_secs(5), || {
        let (client, server) = pair();
        let (errors, error) = std::sync::mpsc::channel();
        let reader = greenlet::spawn(move || {
            let mut client = client;
            let result = client.read(&mut [0; 16]);
            let _ = errors.send(result.map_err(|e| e.raw_os_error()));
            // Carries on as if nothing happened: still a kill.
            42
        });
        greenlet::sleep(Duration::from_millis(50));
        reader.kill();
        let outcome = reader.join();
        let mut server = server;
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let peer_read = server.read(&mut [0; 16]).map_err(|e| e.kind());
        (
            outcome.map_err(|e| matches!(e, greenlet::JoinError::Killed)),
            error.recv().unwrap(),
            peer_read,
        )
    });
    assert_eq!(outcome, Err(true), "join reports the kill");
    assert_eq!(error, Err(Some(libc::ECANCELED)));
    assert_eq!(peer_read, Ok(0), "the killed greenlet's socket closed");
}

#[test]
fn with_timeout_around_a_std_read_elapses_on_time() {
    let (result, elapsed) = watchdog(Duration::from_secs(5), || {
        let (client, _server) = pair();
        greenlet::spawn(move || {
            let start = Instant::now();
            let result = greenlet::with_timeout(Duration::from_millis(100), || {
                (&client).read(&mut [0; 16]).map_err(|e| e.raw_os_error())
            });
            (result, start.elapsed())
        })
        .join()
        .unwrap()
    });
    assert_eq!(result, Err(greenlet::Elapsed::default()));
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
}

#[test]
fn a_socket_made_non_blocking_by_the_hooks_still_blocks_on_a_plain_thread() {
    let got = watchdog(Duration::from_secs(5), || {
        let (client, server) = pair();
        let client = greenlet::spawn(move || {
            let mut client = client;
            let writer = greenlet::spawn(move || {
                (&server).write_all(b"ab").unwrap();
                server
            });
            client.read_exact(&mut [0; 1]).unwrap(); // now non-blocking underneath
            (client, writer.join().unwrap())
        });
        let (mut client, server) = client.join().unwrap();
        client.read_exact(&mut [0; 1]).unwrap(); // the second byte, in the root
        let later = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            (&server).write_all(b"c").unwrap();
            server
        });
        let mut byte = [0; 1];
        // A plain blocking read: it waits for the byte, no EAGAIN.
        client.read_exact(&mut byte).unwrap();
        drop(later.join().unwrap());
        byte
    });
    assert_eq!(&got, b"c");
}

#[test]
fn a_descriptor_number_reused_after_close_is_a_new_file_to_the_hooks() {
    let rounds = watchdog(Duration::from_secs(8), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = greenlet::spawn(move || {
            for _ in 0..100 {
                let (mut stream, _) = listener.accept().unwrap();
                greenlet::spawn(move || {
                    let mut byte = [0; 1];
                    while stream.read(&mut byte).unwrap() == 1 {
                        stream.write_all(&byte).unwrap();
                    }
                });
            }
        });
        let mut rounds = 0;
        let mut numbers = std::collections::HashSet::new();
        for _ in 0..100 {
            let done = greenlet::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
                // Parks in the read (registering the number), then closes.
                stream.write_all(b"r").unwrap();
                let mut byte = [0; 1];
                stream.read_exact(&mut byte).unwrap();
                assert_eq!(&byte, b"r");
                fd
            });
            numbers.insert(done.join().unwrap());
            rounds += 1;
        }
        server.join().unwrap();
        (rounds, numbers.len())
    });
    assert_eq!(rounds.0, 100);
    assert!(
        rounds.1 < 100,
        "descriptor numbers were reused ({} distinct)",
        rounds.1
    );
}

#[test]
fn a_descriptor_closed_on_another_thread_and_reused_is_registered_afresh() {
    // In a child process, so that no other test takes the freed number.
    const NAME: &str = "a_descriptor_closed_on_another_thread_and_reused_is_registered_afresh";
    util::child::assert_runs_to_the_end(NAME, || {
        let accepted = watchdog(Duration::from_secs(5), || {
            use std::os::fd::AsRawFd;
            let (client, server) = pair();
            // Registered with this thread's hub by a read that parks.
            let client = greenlet::spawn(move || {
                let mut client = client;
                let writer = greenlet::spawn(move || {
                    (&server).write_all(b"1").unwrap();
                    server
                });
                client.read_exact(&mut [0; 1]).unwrap();
                (client, writer.join().unwrap())
            });
            let (client, server) = client.join().unwrap();
            drop(server);
            let old = client.as_raw_fd();
            // Closed on another thread: this hub's registration is stale now.
            thread::spawn(move || drop(client)).join().unwrap();
            // The lowest free number is the old one: a listener gets it.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            assert_eq!(
                listener.as_raw_fd(),
                old,
                "the kernel reuses the lowest number"
            );
            let addr = listener.local_addr().unwrap();
            let connector = greenlet::spawn(move || {
                greenlet::sleep(Duration::from_millis(50));
                TcpStream::connect(addr).unwrap()
            });
            // Parks on the reused number: a stale registration would never wake it.
            let accepted = greenlet::spawn(move || listener.accept().is_ok())
                .join()
                .unwrap();
            drop(connector.join().unwrap());
            accepted
        });
        assert!(accepted);
    });
}

#[test]
fn a_host_name_is_looked_up_on_the_resolver_pool_while_the_greenlet_parks() {
    // In a child process, so that the pool's threads are this test's own.
    const NAME: &str = "a_host_name_is_looked_up_on_the_resolver_pool_while_the_greenlet_parks";
    util::child::assert_runs_to_the_end(NAME, || {
        let (found, pool_threads) = watchdog(Duration::from_secs(5), || {
            let found = greenlet::spawn(|| {
                use std::net::ToSocketAddrs;
                ("localhost", 80).to_socket_addrs().map(|a| a.count())
            })
            .join()
            .unwrap();
            let pool_threads = std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .filter(|comm| comm.trim() == "greenlet-lookup")
                .count();
            (found.unwrap(), pool_threads)
        });
        assert!(found >= 1, "localhost has an address");
        assert!(pool_threads >= 1, "the lookup ran on the resolver pool");
    });
}

#[test]
fn std_connect_timeout_in_a_greenlet_connects() {
    let connected = watchdog(Duration::from_secs(5), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = greenlet::spawn(move || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map(|s| s.peer_addr().unwrap())
        });
        // Accepting in a greenlet too: in the root context a std accept
        // blocks the thread, as it always did.
        let server = greenlet::spawn(move || listener.accept().map(drop));
        let connected = client.join().unwrap().unwrap() == addr;
        server.join().unwrap().unwrap();
        connected
    });
    assert!(connected);
}

/// `fd` as a raw number.
fn raw(stream: &TcpStream) -> libc::c_int {
    std::os::fd::AsRawFd::as_raw_fd(stream)
}

#[test]
fn poll_over_two_sockets_parks_until_the_second_is_readable() {
    let (ready, revents, ticks) = watchdog(Duration::from_secs(5), || {
        let (a, _a_peer) = pair();
        let (b, b_peer) = pair();
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let ticking = ticker(stop.clone());
        let writer = greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(100));
            (&b_peer).write_all(b"x").unwrap();
            b_peer
        });
        let poller = greenlet::spawn(move || {
            let mut fds = [
                libc::pollfd {
                    fd: raw(&a),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: raw(&b),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds; -1 waits for ever.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            (ready, [fds[0].revents, fds[1].revents])
        });
        let (ready, revents) = poller.join().unwrap();
        stop.set(true);
        drop(writer.join().unwrap());
        (ready, revents, ticking.join().unwrap())
    });
    assert_eq!(ready, 1);
    assert_eq!(revents[0], 0);
    assert_ne!(revents[1] & libc::POLLIN, 0);
    assert!(ticks >= 5, "the hub was blocked: {ticks} ticks");
}

#[test]
fn poll_with_a_timeout_and_nothing_ready_returns_zero_on_time() {
    let (ready, elapsed) = watchdog(Duration::from_secs(5), || {
        let (a, _peer) = pair();
        greenlet::spawn(move || {
            let mut fds = [libc::pollfd {
                fd: raw(&a),
                events: libc::POLLIN,
                revents: 0,
            }];
            let start = Instant::now();
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) };
            (ready, start.elapsed())
        })
        .join()
        .unwrap()
    });
    assert_eq!(ready, 0);
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_millis(400),
        "{elapsed:?}"
    );
}

#[test]
fn select_parks_until_a_socket_in_its_read_set_is_ready() {
    let (ready, is_set) = watchdog(Duration::from_secs(5), || {
        let (a, peer) = pair();
        let writer = greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(50));
            (&peer).write_all(b"x").unwrap();
            peer
        });
        let result = greenlet::spawn(move || {
            let fd = raw(&a);
            // SAFETY: fd_set is plain data; FD_ZERO/FD_SET/FD_ISSET on a
            // live set with fd < FD_SETSIZE (a test process has few).
            unsafe {
                let mut set: libc::fd_set = std::mem::zeroed();
                libc::FD_ZERO(&mut set);
                libc::FD_SET(fd, &mut set);
                let ready = libc::select(
                    fd + 1,
                    &mut set,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                );
                (ready, libc::FD_ISSET(fd, &set))
            }
        })
        .join()
        .unwrap();
        drop(writer.join().unwrap());
        result
    });
    assert_eq!(ready, 1);
    assert!(is_set);
}

#[test]
fn epoll_wait_parks_only_its_greenlet_until_the_epoll_has_an_event() {
    let (ready, ticks) = watchdog(Duration::from_secs(5), || {
        let (a, peer) = pair();
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let ticking = ticker(stop.clone());
        let writer = greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(100));
            (&peer).write_all(b"x").unwrap();
            peer
        });
        let waiter = greenlet::spawn(move || {
            // SAFETY: an epoll descriptor this test owns and closes, one
            // event buffer, a socket it holds.
            unsafe {
                let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
                assert!(epfd >= 0);
                let mut event = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: 7,
                };
                assert_eq!(
                    libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, raw(&a), &mut event),
                    0
                );
                let mut out = [libc::epoll_event { events: 0, u64: 0 }];
                let ready = libc::epoll_wait(epfd, out.as_mut_ptr(), 1, 2000);
                libc::close(epfd);
                (ready, out[0].u64)
            }
        });
        let ready = waiter.join().unwrap();
        stop.set(true);
        drop(writer.join().unwrap());
        (ready, ticking.join().unwrap())
    });
    assert_eq!(ready, (1, 7));
    assert!(ticks >= 5, "the hub was blocked: {ticks} ticks");
}

/// A plain `std::net` HTTP server, one greenlet per connection, whose
/// handler waits `delay` with `std::thread::sleep` before it answers
/// `hello`. It serves `connections` connections, then ends.
fn slow_http_server(
    connections: usize,
    delay: Duration,
) -> (std::net::SocketAddr, greenlet::Greenlet<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = greenlet::spawn(move || {
        let handlers: Vec<_> = (0..connections)
            .map(|_| {
                let (mut stream, _) = listener.accept().unwrap();
                greenlet::spawn(move || {
                    let mut request = Vec::new();
                    let mut buf = [0; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = stream.read(&mut buf).unwrap();
                        assert!(n > 0, "the client closed mid-request");
                        request.extend_from_slice(&buf[..n]);
                    }
                    thread::sleep(delay);
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
                        .unwrap();
                })
            })
            .collect();
        for handler in handlers {
            handler.join().unwrap();
        }
    });
    (addr, server)
}

fn get(url: &str) -> String {
    ureq::get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

#[test]
fn twenty_ureq_gets_from_greenlets_of_one_thread_overlap() {
    let (bodies, elapsed) = watchdog(Duration::from_secs(8), || {
        let (addr, server) = slow_http_server(20, Duration::from_millis(200));
        let start = Instant::now();
        let url = format!("http://{addr}/");
        let clients: Vec<_> = (0..20)
            .map(|_| {
                let url = url.clone();
                greenlet::spawn(move || get(&url))
            })
            .collect();
        let bodies: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        server.join().unwrap();
        (bodies, start.elapsed())
    });
    assert!(bodies.iter().all(|body| body == "hello"), "{bodies:?}");
    // One after another they would take 4 s.
    assert!(
        elapsed < Duration::from_millis(1200),
        "20 GETs of 200 ms took {elapsed:?}"
    );
}

#[test]
fn a_ureq_get_to_localhost_resolves_without_stalling_a_ticker() {
    let (body, ticks) = watchdog(Duration::from_secs(8), || {
        let (addr, server) = slow_http_server(1, Duration::from_millis(200));
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let ticking = ticker(stop.clone());
        let url = format!("http://localhost:{}/", addr.port());
        let body = greenlet::spawn(move || get(&url)).join().unwrap();
        stop.set(true);
        server.join().unwrap();
        (body, ticking.join().unwrap())
    });
    assert_eq!(body, "hello");
    // The GET took at least 200 ms: 10 ms ticks kept going meanwhile.
    assert!(ticks >= 10, "{ticks} ticks");
}

#[test]
fn a_std_stream_the_hooks_waited_on_converts_to_a_greenlet_stream() {
    let got = watchdog(Duration::from_secs(5), || {
        let (client, server) = pair();
        greenlet::spawn(move || {
            let mut client = client;
            let writer = greenlet::spawn(move || {
                (&server).write_all(b"a").unwrap();
                greenlet::sleep(Duration::from_millis(50));
                (&server).write_all(b"b").unwrap();
                server
            });
            client.read_exact(&mut [0; 1]).unwrap(); // registered by the hooks
            // Made non-blocking by its new owner, which registers it itself.
            let client = greenlet::net::TcpStream::from_std(client).unwrap();
            let mut byte = [0; 1];
            (&client).read_exact(&mut byte).unwrap();
            drop(writer.join().unwrap());
            byte
        })
        .join()
        .unwrap()
    });
    assert_eq!(&got, b"b");
}

#[test]
fn reading_child_processes_stdout_pipes_in_greenlets_overlaps() {
    let (outputs, elapsed) = watchdog(Duration::from_secs(8), || {
        let start = Instant::now();
        let readers: Vec<_> = (0..5)
            .map(|i| {
                greenlet::spawn(move || {
                    let mut child = std::process::Command::new("sh")
                        .arg("-c")
                        .arg(format!("sleep 0.3; echo child {i}"))
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut out = String::new();
                    child
                        .stdout
                        .take()
                        .unwrap()
                        .read_to_string(&mut out)
                        .unwrap();
                    child.wait().unwrap();
                    out
                })
            })
            .collect();
        let outputs: Vec<String> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        (outputs, start.elapsed())
    });
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(out, &format!("child {i}\n"));
    }
    // One after another: 1.5 s.
    assert!(
        elapsed < Duration::from_millis(1000),
        "five 300 ms children took {elapsed:?}"
    );
}

/// Now on `clock`, plus `after`, as a timespec.
fn clock_in(clock: libc::clockid_t, after: Duration) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut now) }, 0);
    let nanos = now.tv_nsec as u64 + u64::from(after.subsec_nanos());
    libc::timespec {
        tv_sec: now.tv_sec
            + after.as_secs() as libc::time_t
            + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}

#[test]
fn every_libc_sleep_parks_only_its_greenlet() {
    let (results, elapsed) = watchdog(Duration::from_secs(8), || {
        let start = Instant::now();
        let short = libc::timespec {
            tv_sec: 0,
            tv_nsec: 300_000_000,
        };
        let sleepers: Vec<greenlet::Greenlet<(&str, i64)>> = vec![
            // SAFETY (each): a valid timespec, no remainder asked for.
            greenlet::spawn(move || {
                (
                    "nanosleep",
                    unsafe { libc::nanosleep(&short, std::ptr::null_mut()) } as i64,
                )
            }),
            greenlet::spawn(|| ("usleep", unsafe { libc::usleep(300_000) } as i64)),
            greenlet::spawn(|| ("sleep", unsafe { libc::sleep(1) } as i64)),
            greenlet::spawn(move || {
                ("clock_nanosleep monotonic relative", unsafe {
                    libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &short, std::ptr::null_mut())
                }
                    as i64)
            }),
            greenlet::spawn(|| {
                let at = clock_in(libc::CLOCK_MONOTONIC, Duration::from_millis(300));
                ("clock_nanosleep monotonic absolute", unsafe {
                    libc::clock_nanosleep(
                        libc::CLOCK_MONOTONIC,
                        libc::TIMER_ABSTIME,
                        &at,
                        std::ptr::null_mut(),
                    )
                }
                    as i64)
            }),
            greenlet::spawn(|| {
                let at = clock_in(libc::CLOCK_REALTIME, Duration::from_millis(300));
                ("clock_nanosleep realtime absolute", unsafe {
                    libc::clock_nanosleep(
                        libc::CLOCK_REALTIME,
                        libc::TIMER_ABSTIME,
                        &at,
                        std::ptr::null_mut(),
                    )
                }
                    as i64)
            }),
        ];
        let results: Vec<_> = sleepers.into_iter().map(|s| s.join().unwrap()).collect();
        (results, start.elapsed())
    });
    for (call, result) in &results {
        assert_eq!(*result, 0, "{call} returned {result}");
    }
    // Together: the longest (1 s), not the sum (2.5 s).
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1700), "took {elapsed:?}");
}

#[test]
fn a_kill_cuts_a_nanosleep_short_with_ecanceled_and_the_time_left() {
    let (result, error, left, joined) = watchdog(Duration::from_secs(5), || {
        let (report, reported) = mpsc::channel();
        let sleeper = greenlet::spawn(move || {
            let request = libc::timespec {
                tv_sec: 10,
                tv_nsec: 0,
            };
            let mut left = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: valid timespecs for the request and the remainder.
            let result = unsafe { libc::nanosleep(&request, &mut left) };
            let error = io::Error::last_os_error().raw_os_error();
            let _ = report.send((result, error, left.tv_sec));
        });
        greenlet::sleep(Duration::from_millis(50));
        sleeper.kill();
        let joined = matches!(sleeper.join(), Err(greenlet::JoinError::Killed));
        let (result, error, left) = reported.recv().unwrap();
        (result, error, left, joined)
    });
    assert_eq!(result, -1);
    assert_eq!(error, Some(libc::ECANCELED));
    assert!((9..=10).contains(&left), "{left} s left");
    assert!(joined, "join reports the kill");
}

#[test]
fn a_greenlet_that_panics_on_the_ecanceled_of_its_kill_is_reported_killed() {
    let killed = watchdog(Duration::from_secs(5), || {
        let (client, _server) = pair();
        let reader = greenlet::spawn(move || {
            let mut client = client;
            client.read(&mut [0; 16]).unwrap() // panics on ECANCELED
        });
        greenlet::sleep(Duration::from_millis(50));
        reader.kill();
        matches!(reader.join(), Err(greenlet::JoinError::Killed))
    });
    assert!(killed, "the kill is the cause, not the panic it led to");
}

#[test]
fn with_timeout_around_code_that_panics_on_the_ecanceled_is_elapsed() {
    let result = watchdog(Duration::from_secs(5), || {
        let (client, _server) = pair();
        greenlet::spawn(move || {
            greenlet::with_timeout(Duration::from_millis(50), || {
                (&client).read(&mut [0; 16]).unwrap() // panics on ECANCELED
            })
        })
        .join()
        .unwrap()
    });
    assert_eq!(result, Err(greenlet::Elapsed::default()));
}

#[test]
fn greenlet_net_and_stream_server_work_unchanged_under_patch_all() {
    let (echoed, timed_out) = watchdog(Duration::from_secs(8), || {
        let server = greenlet::server::StreamServer::bind(
            "127.0.0.1:0",
            |stream: greenlet::net::TcpStream, _| {
                let mut buf = [0; 64];
                loop {
                    match (&stream).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if (&stream).write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            },
        )
        .unwrap();
        server.start();
        let addr = server.local_addr().unwrap();
        let clients: Vec<_> = (0..50)
            .map(|i| {
                greenlet::spawn(move || {
                    let stream = greenlet::net::TcpStream::connect(addr).unwrap();
                    let message = format!("client {i}");
                    (&stream).write_all(message.as_bytes()).unwrap();
                    let mut back = vec![0; message.len()];
                    (&stream).read_exact(&mut back).unwrap();
                    back == message.as_bytes()
                })
            })
            .collect();
        let echoed = clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .filter(|ok| *ok)
            .count();
        // A greenlet::net read timeout still fires (its own, not a hook's).
        let quiet = greenlet::net::TcpStream::connect(addr).unwrap();
        quiet
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let timed_out =
            (&quiet).read(&mut [0; 1]).map_err(|e| e.kind()) == Err(io::ErrorKind::WouldBlock);
        server.stop();
        (echoed, timed_out)
    });
    assert_eq!(echoed, 50);
    assert!(timed_out);
}

#[test]
fn std_udp_and_unix_sockets_park_only_their_greenlet() {
    let (udp, unix) = watchdog(Duration::from_secs(5), || {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = receiver.local_addr().unwrap();
        let udp = greenlet::spawn(move || {
            let mut buf = [0; 16];
            let (n, _) = receiver.recv_from(&mut buf).unwrap(); // parks
            buf[..n].to_vec()
        });
        let sender = greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(50));
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.send_to(b"datagram", addr).unwrap();
        });
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let unix = greenlet::spawn(move || {
            let mut buf = [0; 4];
            a.read_exact(&mut buf).unwrap(); // parks
            buf
        });
        let writer = greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(50));
            b.write_all(b"unix").unwrap();
            b
        });
        sender.join().unwrap();
        drop(writer.join().unwrap());
        (udp.join().unwrap(), unix.join().unwrap())
    });
    assert_eq!(udp, b"datagram");
    assert_eq!(&unix, b"unix");
}

#[test]
fn a_thread_that_exits_with_a_greenlet_parked_in_a_std_read_ends_it_and_closes_its_socket() {
    let peer_read = watchdog(Duration::from_secs(5), || {
        let (client, server) = pair();
        let (parked, is_parked) = mpsc::channel();
        let worker = thread::spawn(move || {
            // Detached: the thread returns while it is parked in the read.
            drop(greenlet::spawn(move || {
                let mut client = client;
                let _ = client.read(&mut [0; 16]);
            }));
            greenlet::sleep(Duration::from_millis(20));
            parked.send(()).unwrap();
        });
        is_parked.recv().unwrap();
        worker.join().expect("the thread exits cleanly");
        let mut server = server;
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        server.read(&mut [0; 16]).map_err(|e| e.kind())
    });
    assert_eq!(
        peer_read,
        Ok(0),
        "the parked greenlet ended and its socket closed"
    );
}

#[test]
fn closing_a_descriptor_another_greenlet_waits_on_wakes_it_with_ebadf_and_spares_the_next_file() {
    // In a child process, so that the freed number goes to the next socket.
    const NAME: &str = "closing_a_descriptor_another_greenlet_waits_on_wakes_it_with_ebadf_and_spares_the_next_file";
    util::child::assert_runs_to_the_end(NAME, || {
        let (result, reused, echoed) = watchdog(Duration::from_secs(5), || {
            use std::os::fd::{AsRawFd, IntoRawFd};
            let (client, _server) = pair();
            let fd = client.into_raw_fd(); // owned by nobody but this test now
            let reader = greenlet::spawn(move || {
                let mut byte = 0u8;
                // SAFETY: a one-byte buffer; the descriptor is this test's.
                let result = unsafe { libc::read(fd, (&raw mut byte).cast(), 1) };
                (result, io::Error::last_os_error().raw_os_error())
            });
            let closer = greenlet::spawn(move || {
                greenlet::sleep(Duration::from_millis(50));
                // SAFETY: closes the descriptor the reader waits on, once.
                unsafe { libc::close(fd) };
                // The number is free: a greenlet::net socket takes it, and
                // registers it, before the woken reader runs and drops the
                // old registration (which must not deregister this one).
                greenlet::net::TcpListener::bind("127.0.0.1:0").unwrap()
            });
            let listener = closer.join().unwrap();
            let reused = listener.as_raw_fd() == fd;
            let addr = listener.local_addr().unwrap();
            let result = reader.join().unwrap();
            let echo = greenlet::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                let mut buf = [0; 4];
                (&stream).read_exact(&mut buf).unwrap();
                (&stream).write_all(&buf).unwrap();
            });
            let stream = greenlet::net::TcpStream::connect(addr).unwrap();
            (&stream).write_all(b"ping").unwrap();
            let mut back = [0; 4];
            (&stream).read_exact(&mut back).unwrap();
            echo.join().unwrap();
            (result, reused, &back == b"ping")
        });
        assert_eq!(result, (-1, Some(libc::EBADF)));
        assert!(reused, "the kernel gave the number to the next socket");
        assert!(echoed);
    });
}

#[test]
fn std_io_copy_from_a_file_to_a_socket_blocks_as_before() {
    let (copied, received) = watchdog(Duration::from_secs(8), || {
        const SIZE: usize = 8 * 1024 * 1024; // more than a socket buffer holds
        let path = std::env::temp_dir().join(format!("greenlet-copy-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; SIZE]).unwrap();
        let (client, server) = pair();
        let reader = greenlet::spawn(move || {
            let mut server = server;
            let mut total = 0;
            let mut buf = vec![0; 64 * 1024];
            loop {
                greenlet::sleep(Duration::from_millis(1)); // a slow reader
                let n = server.read(&mut buf).unwrap();
                if n == 0 {
                    return total;
                }
                total += n;
            }
        });
        let writer = greenlet::spawn(move || {
            let mut file = std::fs::File::open(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            let mut client = client;
            // A patched write first: the hooks make the socket non-blocking.
            client.write_all(&[7u8]).unwrap();
            // std uses sendfile here: the socket fills up on the way.
            let copied = std::io::copy(&mut file, &mut client)
                .map(|n| n + 1)
                .map_err(|e| e.to_string());
            drop(client);
            copied
        });
        (writer.join().unwrap(), reader.join().unwrap())
    });
    assert_eq!(copied, Ok(8 * 1024 * 1024 + 1));
    assert_eq!(received, 8 * 1024 * 1024 + 1);
}
