//! A process-wide millisecond tick, so that a busy hub checks its timers and
//! IO by elapsed time and not only every [`CHECK_INTERVAL`] turns.
//!
//! Reading a clock costs 7–35 ns here, as much as a whole switch, so the hub
//! does not read one per turn. Instead one thread (`greenlet-ticker`)
//! bumps [`TICKS`] every millisecond, and each turn of a hub's loop compares
//! it with the value it saw at its last check: one relaxed load. The thread
//! runs only while some hub asks for it — one whose turns are slow (checks by
//! count come more than 2 ms apart, or a tick passes in fewer turns than the
//! count) while it has timers or IO to check — and parks after 100 ms without
//! a request. Fast turns never start it: checks by count come soon enough,
//! and its wake-ups would only take time from them.
//!
//! [`CHECK_INTERVAL`]: super::CHECK_INTERVAL

#![forbid(unsafe_code)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::{self, Thread};
use std::time::Duration;

/// Milliseconds (roughly) since the ticker first started.
static TICKS: AtomicU32 = AtomicU32::new(0);
/// Some hub asked for ticks since the ticker last looked.
static WANTED: AtomicBool = AtomicBool::new(false);
/// The ticker is parked, waiting for a request.
static PARKED: AtomicBool = AtomicBool::new(false);

const PERIOD: Duration = Duration::from_millis(1);
/// Ticks without a request after which the ticker parks.
const IDLE_TICKS: u32 = 100;

/// The current tick.
#[inline(always)]
pub(crate) fn now() -> u32 {
    TICKS.load(Ordering::Relaxed)
}

/// Asks for ticks for the next 100 ms or so, starting the ticker on first use.
#[inline]
pub(crate) fn want() {
    if !WANTED.load(Ordering::Relaxed) {
        WANTED.store(true, Ordering::SeqCst);
    }
    if let Some(ticker) = ticker()
        && PARKED.load(Ordering::SeqCst)
    {
        ticker.unpark();
    }
}

/// The ticker thread, started on first call; `None` if it could not be.
fn ticker() -> Option<&'static Thread> {
    static TICKER: OnceLock<Option<Thread>> = OnceLock::new();
    TICKER
        .get_or_init(|| {
            let started = thread::Builder::new()
                .name("greenlet-ticker".into())
                .stack_size(64 * 1024)
                .spawn(tick_forever);
            match started {
                Ok(handle) => Some(handle.thread().clone()),
                Err(e) => {
                    log::warn!(target: "greenlet",
                        "cannot start the ticker thread ({e}): a busy hub checks timers only every few turns");
                    None
                }
            }
        })
        .as_ref()
}

fn tick_forever() {
    let mut idle = 0;
    loop {
        thread::sleep(PERIOD);
        TICKS.fetch_add(1, Ordering::Relaxed);
        if WANTED.swap(false, Ordering::SeqCst) {
            idle = 0;
            continue;
        }
        idle += 1;
        if idle < IDLE_TICKS {
            continue;
        }
        PARKED.store(true, Ordering::SeqCst);
        // A request made before PARKED was set is seen here; one made after
        // it finds PARKED and unparks.
        while !WANTED.swap(false, Ordering::SeqCst) {
            thread::park();
        }
        PARKED.store(false, Ordering::SeqCst);
        idle = 0;
    }
}
