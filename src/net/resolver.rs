//! Name resolution without blocking the hub: host names go to one
//! process-wide pool of at most [`RESOLVER_THREADS`] threads (a
//! [`ThreadPool`], so the calling greenlet parks and is woken from the pool
//! thread); numeric addresses never leave the calling thread.
//!
//! The cap bounds what a burst of lookups costs: 10,000 greenlets that
//! connect to host names at once make 10,000 queued jobs, not 10,000
//! threads. A job owns its host name, so a greenlet killed while it waits
//! unwinds at once; its lookup still ends on the pool and the result is
//! dropped there.

use std::io;
use std::net::SocketAddr;
use std::sync::OnceLock;

use crate::threadpool::ThreadPool;

use super::addr::ToSocketAddrs;
use super::addr::sealed::{Addresses, SocketAddrs};

/// The most threads that look names up at once, for the whole process.
/// getaddrinfo mostly waits on the network, so a few threads keep up with
/// many lookups, and more would only crowd a name server.
const RESOLVER_THREADS: usize = 8;

/// The name of the resolver's threads (Linux keeps at most 15 bytes).
const RESOLVER_THREAD_NAME: &str = "greenlet-lookup";

pub(crate) fn resolver() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| ThreadPool::with_thread_name(RESOLVER_THREADS, RESOLVER_THREAD_NAME))
}

/// Resolves `addr` to socket addresses without blocking the hub: a host
/// name is looked up on the resolver's pool of at most 8 threads (shared by
/// the whole process; further lookups wait their turn) while the calling
/// greenlet parks; addresses written as numbers are converted at once.
///
/// As `std::net::ToSocketAddrs::to_socket_addrs`, with the same errors; a
/// name that resolves to no address gives an empty iterator here and an
/// `InvalidInput` error from `connect` and `bind`.
///
/// A greenlet killed or timed out while its lookup runs unwinds at once;
/// the lookup ends on its thread and its result is dropped.
///
/// # Examples
///
/// ```
/// let addrs: Vec<_> = greenlet::net::lookup_host("localhost:80")?.collect();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
///
/// let direct: Vec<_> = greenlet::net::lookup_host("127.0.0.1:8080")?.collect();
/// assert_eq!(direct, ["127.0.0.1:8080".parse().unwrap()]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn lookup_host(addr: impl ToSocketAddrs) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&addr)
}

/// The addresses of `addr`, looked up on the resolver if need be.
pub(super) fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<SocketAddrs> {
    match addr.to_addresses()? {
        Addresses::Ready(addrs) => Ok(addrs),
        Addresses::Lookup(host, port) => {
            let addrs = resolver().run(
                move || {
                    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                        .map(Iterator::collect)
                },
                "lookup_host",
            )??;
            Ok(SocketAddrs::many(addrs))
        }
    }
}

/// The error std gives when an address list is empty.
fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}

/// Tries `f` on each address of `addr` in turn; the first success, or the
/// last error.
pub(crate) fn each_addr<A, T>(
    addr: &A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T>
where
    A: ToSocketAddrs + ?Sized,
{
    let mut last = None;
    for addr in resolve(addr)? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::{Arc, Mutex, mpsc};

    #[test]
    fn a_greenlet_killed_while_its_lookup_waits_for_a_resolver_thread_unwinds_at_once() {
        // Every resolver thread is held by a job that waits for `release`,
        // so the victim's lookup waits in the pool's queue.
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let blockers: Vec<_> = (0..RESOLVER_THREADS)
            .map(|_| {
                let released = released.clone();
                crate::spawn(move || {
                    resolver().run(
                        move || {
                            let _ = released.lock().unwrap().recv();
                        },
                        "test",
                    )
                })
            })
            .collect();
        crate::yield_now();
        let asked = Rc::new(Cell::new(false));
        let victim = crate::spawn({
            let asked = asked.clone();
            move || {
                asked.set(true);
                lookup_host(("localhost", 80)).map(Iterator::count)
            }
        });
        crate::yield_now();
        assert!(asked.get() && !victim.is_finished());
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());

        drop(release);
        for blocker in crate::joinall(blockers) {
            blocker.unwrap().unwrap();
        }
        // The victim's job ran on and its result was dropped; the pool
        // still answers.
        assert!(lookup_host(("localhost", 80)).unwrap().count() > 0);
    }
}
