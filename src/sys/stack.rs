//! A greenlet's stack: a guard-paged mapping, counted against the process's
//! budget of kernel mappings.
//!
//! Each stack is two mappings (the stack and its `PROT_NONE` guard page) and
//! the kernel allows `vm.max_map_count` per process (65,530 by default). When
//! stacks take them all, the allocator has none left either and the next
//! `Vec` growth aborts the process. So stacks are mapped only while the
//! process holds fewer than its budget: the cap minus a tenth of it (at least
//! 1,000 mappings) left to the allocator, files and threads. Past that,
//! [`GreenletStack::new`] fails at once, and the hub makes the greenlet wait
//! until another one gives its stack back.
//!
//! `GREENLET_MAX_STACKS`, read once, lowers the budget (to keep mappings for
//! something else, or to test what happens at the cap).
//!
//! Stacks of one size would all start at the same offset of a 256 KiB-aligned
//! mapping, so their tops would share cache sets and evict each other on every
//! switch. Each stack therefore starts a different multiple of 64 bytes below
//! its mapping's top (its *colour*); the mapping is that much larger.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use corosensei::stack::{DefaultStack, Stack, StackPointer};

use super::max_map_count;

/// Kernel mappings one stack costs.
const MAPPINGS_PER_STACK: usize = 2;

/// Colours within a page: 32 cache lines, spread over half the L1 sets (the
/// set index is the address within a 4 KiB page). Kept to the first half of
/// the page, so that a greenlet that parks with less than 2 KiB of stack
/// still touches only its top page (each extra page is resident memory).
const LINE_COLOURS: usize = 32;
/// Colours by whole pages, for the larger caches whose sets go past a page.
const PAGE_COLOURS: usize = 8;
/// The most a colour moves a stack's top down.
const COLOUR_SPAN: usize = PAGE_COLOURS * 4096;

/// Stacks mapped by this process and not yet unmapped (live and pooled).
static MAPPED: AtomicUsize = AtomicUsize::new(0);
static NEXT_COLOUR: AtomicUsize = AtomicUsize::new(0);
static CAP_LOGGED: AtomicBool = AtomicBool::new(false);

/// How many stacks this process may map at once, and why no more.
fn budget() -> (usize, &'static str) {
    static BUDGET: OnceLock<(usize, &'static str)> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let cap = max_map_count().unwrap_or(65_530);
        let headroom = (cap / 10).max(1_000);
        let from_kernel = (cap.saturating_sub(headroom) / MAPPINGS_PER_STACK).max(1);
        let from_user = std::env::var("GREENLET_MAX_STACKS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0 && n < from_kernel);
        match from_user {
            Some(n) => (n, "GREENLET_MAX_STACKS"),
            None => (from_kernel, "vm.max_map_count"),
        }
    })
}

/// A guard-paged stack, counted in [`MAPPED`] for as long as it is mapped.
///
/// # Invariant
/// `colour` is a multiple of 64 below [`COLOUR_SPAN`], and `inner` maps at
/// least [`COLOUR_SPAN`] bytes more than the usable size asked for, so
/// `inner.base() - colour` lies inside the mapping, 16-byte aligned, with the
/// usable size still above the guard page.
pub(crate) struct GreenletStack {
    inner: DefaultStack,
    colour: usize,
}

impl GreenletStack {
    /// Maps a stack with `size` usable bytes, or fails if the process is at
    /// its budget (`OutOfMemory`, logged once per process) or the kernel says no.
    pub(crate) fn new(size: usize) -> io::Result<GreenletStack> {
        let (budget, limit) = budget();
        let reserved = MAPPED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mapped| {
            (mapped < budget).then_some(mapped + 1)
        });
        if reserved.is_err() {
            if !CAP_LOGGED.swap(true, Ordering::Relaxed) {
                let cap = max_map_count().unwrap_or(0);
                log::warn!(target: "greenlet",
                    "{budget} greenlet stacks are mapped, the most {limit} allows (the kernel's \
                     vm.max_map_count is {cap} mappings, two a stack, with a tenth kept for \
                     everything else); further greenlets wait until a running one finishes. \
                     Raise the limit with `sysctl -w vm.max_map_count=<n>`");
            }
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("the process holds {budget} greenlet stacks, the most {limit} allows"),
            ));
        }
        let n = NEXT_COLOUR.fetch_add(1, Ordering::Relaxed);
        let colour = (n % LINE_COLOURS) * 64 + (n / LINE_COLOURS % PAGE_COLOURS) * 4096;
        match DefaultStack::new(size.saturating_add(COLOUR_SPAN)) {
            Ok(inner) => Ok(GreenletStack { inner, colour }),
            Err(error) => {
                MAPPED.fetch_sub(1, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    /// The lowest address of the mapping: the start of its guard page.
    pub(crate) fn guard_start(&self) -> usize {
        self.inner.limit().get()
    }
}

impl Drop for GreenletStack {
    fn drop(&mut self) {
        // `inner` is unmapped right after this.
        MAPPED.fetch_sub(1, Ordering::Relaxed);
    }
}

// SAFETY: `base` is inside `inner`'s mapping and 16-byte aligned, and the
// stack between it and the guard page is at least the size asked for (see
// the invariant); `limit` is `inner`'s, which includes its guard page.
// Both stay the same for the stack's life, as `Stack` requires.
unsafe impl Stack for GreenletStack {
    #[inline]
    fn base(&self) -> StackPointer {
        let base = self.inner.base().get() - self.colour;
        StackPointer::new(base).expect("a stack's base is not null")
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.inner.limit()
    }
}
