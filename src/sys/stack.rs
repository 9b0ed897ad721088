//! Greenlet stacks: guard-paged mappings counted against the process's
//! budget of kernel mappings, private to one greenlet or shared by many.
//!
//! Each mapping is two kernel mappings (the stack and its `PROT_NONE` guard
//! page) and the kernel allows `vm.max_map_count` per process (65,530 by
//! default). When stacks take them all, the allocator has none left either
//! and the next `Vec` growth aborts the process. So stacks are mapped only
//! while the process holds fewer than its budget: the cap minus a tenth of
//! it (at least 1,000 mappings) left to the allocator, files and threads.
//! Past that, mapping fails at once, and the hub makes a greenlet that needs
//! a private stack wait until another one gives its stack back.
//!
//! `GREENLET_MAX_STACKS`, read once, lowers the budget (to keep mappings for
//! something else, or to test what happens at the cap).
//!
//! Private stacks of one size would all start at the same offset of a
//! 256 KiB-aligned mapping, so their tops would share cache sets and evict
//! each other on every switch. Each therefore starts a different multiple of
//! 64 bytes below its mapping's top (its *colour*); the mapping is that much
//! larger.
//!
//! A [`SharedStack`] is one mapping that many greenlets run on, one at a
//! time (its *occupant*). The hub copies a greenlet's live bytes (from its
//! lowest live word, found with [`mark_switch_point`], to the top) into its
//! [`SharedSlot`] when it switches out, and back to the same addresses before
//! it runs again. So while a shared-stack greenlet is switched out nothing
//! may use a pointer into its stack; ARCHITECTURE.md gives the audit.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
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

/// Whether a greenlet that did not pin its kind of stack should take a
/// shared one: once the process has mapped three quarters of its budget, so
/// that the last quarter stays for shared stacks (one per hub and size) and
/// for greenlets pinned to a private stack.
pub(crate) fn prefers_shared() -> bool {
    let (budget, _) = budget();
    MAPPED.load(Ordering::Relaxed) >= budget - budget / 4
}

/// One guard-paged mapping, counted in [`MAPPED`] for as long as it is mapped.
struct Mapping {
    inner: DefaultStack,
}

impl Mapping {
    /// Maps `size` usable bytes plus a guard page, or fails if the process
    /// is at its budget (`OutOfMemory`, logged once per process) or the
    /// kernel says no.
    fn new(size: usize) -> io::Result<Mapping> {
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
                     everything else); further greenlets pinned to a private stack wait until \
                     a running one finishes. Raise the limit with `sysctl -w vm.max_map_count=<n>`");
            }
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("the process holds {budget} greenlet stacks, the most {limit} allows"),
            ));
        }
        match DefaultStack::new(size) {
            Ok(inner) => Ok(Mapping { inner }),
            Err(error) => {
                MAPPED.fetch_sub(1, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    /// The highest address of the mapping: where a stack on it starts.
    fn top(&self) -> usize {
        self.inner.base().get()
    }

    /// The lowest address of the mapping: the start of its guard page.
    fn guard_start(&self) -> usize {
        self.inner.limit().get()
    }

    /// The lowest usable address, just above the guard page.
    fn usable_start(&self) -> usize {
        self.guard_start() + page_size()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // `inner` is unmapped right after this.
        MAPPED.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(unix)]
use super::unix::page_size;
#[cfg(not(unix))]
fn page_size() -> usize {
    4096
}

/// A greenlet's stack: a private mapping, or a [`SharedStack`] it runs on
/// with others (its bytes are kept by its [`SharedSlot`] while it is out).
///
/// # Invariant
/// Private: `colour` is a multiple of 64 below [`COLOUR_SPAN`], and the
/// mapping holds at least [`COLOUR_SPAN`] bytes more than the usable size
/// asked for, so `top - colour` lies inside it, 16-byte aligned, with the
/// usable size still above the guard page.
pub(crate) struct GreenletStack {
    kind: Kind,
}

enum Kind {
    Private { mapping: Mapping, colour: usize },
    Shared(Rc<SharedStack>),
}

impl GreenletStack {
    /// Maps a private stack with `size` usable bytes, or fails if the
    /// process is at its budget (`OutOfMemory`) or the kernel says no.
    pub(crate) fn private(size: usize) -> io::Result<GreenletStack> {
        let mapping = Mapping::new(size.saturating_add(COLOUR_SPAN))?;
        let n = NEXT_COLOUR.fetch_add(1, Ordering::Relaxed);
        let colour = (n % LINE_COLOURS) * 64 + (n / LINE_COLOURS % PAGE_COLOURS) * 4096;
        Ok(GreenletStack {
            kind: Kind::Private { mapping, colour },
        })
    }

    /// `stack`, for a greenlet about to start on it, and the slot that
    /// keeps its bytes while it is switched out. The stack is claimed for
    /// it from now until it first switches out (its coroutine is built on
    /// the stack, then run).
    pub(crate) fn shared(stack: &Rc<SharedStack>) -> (GreenletStack, SharedSlot) {
        let id = stack.next_id.get() + 1;
        stack.next_id.set(id);
        stack.claim(id);
        stack.greenlets.set(stack.greenlets.get() + 1);
        let slot = SharedSlot {
            stack: stack.clone(),
            id,
            buffer: Vec::new(),
            offset: 0,
            len: 0,
            out: false,
            again: false,
        };
        let stack = GreenletStack {
            kind: Kind::Shared(stack.clone()),
        };
        (stack, slot)
    }

    /// The lowest address of the mapping: the start of its guard page.
    pub(crate) fn guard_start(&self) -> usize {
        match &self.kind {
            Kind::Private { mapping, .. } => mapping.guard_start(),
            Kind::Shared(stack) => stack.mapping.guard_start(),
        }
    }

    /// Whether this is a shared stack (`true`) or a private one.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self.kind, Kind::Shared(_))
    }
}

// SAFETY: private: `base` is inside the mapping and 16-byte aligned, and the
// stack between it and the guard page is at least the size asked for (see
// the invariant); `limit` is the mapping's, which includes its guard page.
// Shared: the shared stack's mapping, whole. Both stay the same for the
// stack's life, as `Stack` requires. That several coroutines run on one
// shared stack is sound by `SharedStack`'s rule: only its occupant has its
// bytes on it, and only the occupant runs.
unsafe impl Stack for GreenletStack {
    #[inline]
    fn base(&self) -> StackPointer {
        let base = match &self.kind {
            Kind::Private { mapping, colour } => mapping.top() - colour,
            Kind::Shared(stack) => stack.mapping.top(),
        };
        StackPointer::new(base).expect("a stack's base is not null")
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        StackPointer::new(self.guard_start()).expect("a stack's limit is not null")
    }
}

/// How far below the switch point [`mark_switch_point`] fills with
/// [`CANARY`]: room for what the switch pushes. That is three words when
/// corosensei's suspend is inlined (optimised builds: its asm pushes them,
/// with no frame of its own), and one call frame of it when not (debug
/// builds): its return address, saved registers, a few scalar locals, then
/// the three words. A switch point is accepted only if the switch wrote
/// nothing in the lower half of the span, so its frame could reach below
/// the span only through half a span (64 bytes optimised, 1 KiB in debug
/// builds) of slots it never writes, which that frame does not have. The
/// span is short in optimised builds because it is filled and scanned on
/// every switch: 128 bytes left 8 words for 3, and took ~40 instructions
/// off a switch against 256.
const CANARY_SPAN: usize = if cfg!(debug_assertions) { 2048 } else { 128 };
const _: () = assert!(CANARY_SPAN.is_multiple_of(64));

/// A span's worth of canary words, to compare the span with.
static CANARIES: [u64; CANARY_SPAN / 8] = [CANARY; CANARY_SPAN / 8];

/// A word no switch writes: not a canonical x86-64 address, so never the
/// return address a switch pushes last.
const CANARY: u64 = 0xC0DE_5AFE_C0DE_5AFE;

/// Called by a shared-stack greenlet just before it switches out: fills
/// the [`CANARY_SPAN`] bytes below its stack pointer with [`CANARY`], and
/// returns the stack pointer. After the switch, the lowest word in that
/// span that is no longer the canary is the last one the switch pushed: the
/// lowest live word of the suspended coroutine ([`SharedSlot::swap_out`]).
/// Nothing below it was written after the fill, so nothing below it is live.
///
/// Inlined, so that the switch that follows is in the same frame: an extra
/// call level around corosensei's switch costs a mispredicted return on
/// every switch (~30 ns here).
#[inline(always)]
pub(crate) fn mark_switch_point() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: the asm moves the stack pointer down over the CANARY_SPAN
        // bytes below it, writes only those bytes, and moves it back: the
        // stack grows down, so they hold nothing live, and as the asm is not
        // `nostack` the compiler keeps nothing in the red zone across it.
        // Moving the stack pointer (rather than writing below it) is what
        // tells memcheck the span is addressable stack, without a client
        // request whose argument block would sit in every switching frame
        // and be saved with it. The span is inside the greenlet's stack: the
        // switch that follows pushes there anyway, and a greenlet with less
        // than CANARY_SPAN bytes left faults on the guard page, which is
        // reported as its stack overflow. The loop stores 64 bytes a round,
        // from the span's start up to the old stack pointer (the span is a
        // multiple of 64); `p`, xmm0 and the flags are clobbered, and the
        // stack pointer ends where it started.
        unsafe {
            std::arch::asm!(
                "mov {sp}, rsp",
                "movq xmm0, {canary}",
                "punpcklqdq xmm0, xmm0",
                "sub rsp, {span}",
                "mov {p}, rsp",
                "2:",
                "movdqu [{p}], xmm0",
                "movdqu [{p} + 16], xmm0",
                "movdqu [{p} + 32], xmm0",
                "movdqu [{p} + 48], xmm0",
                "add {p}, 64",
                "cmp {p}, {sp}",
                "jb 2b",
                "add rsp, {span}",
                sp = out(reg) sp,
                p = out(reg) _,
                canary = in(reg) CANARY,
                span = const CANARY_SPAN,
                out("xmm0") _,
            );
        }
        sp
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0 // no shared stacks here (SharedStack::new refuses)
    }
}

/// The index of the lowest word of `span` that is not [`CANARY`].
///
/// Optimised builds compare four words at a time with no call (a `memcmp`
/// call per block cost more than the scan); debug builds, whose span is
/// eight times longer and whose loops are slow, compare blocks with
/// `memcmp`. Both find the same word.
#[inline(always)]
fn first_written(span: &[u64]) -> Option<usize> {
    const BLOCK: usize = if cfg!(debug_assertions) { 16 } else { 4 };
    let block = if cfg!(debug_assertions) {
        span.chunks(BLOCK)
            .position(|block| block != &CANARIES[..block.len()])?
    } else {
        span.chunks(BLOCK)
            .position(|block| block.iter().fold(0, |any, &word| any | (word ^ CANARY)) != 0)?
    };
    let within = span[block * BLOCK..]
        .iter()
        .position(|&word| word != CANARY)?;
    Some(block * BLOCK + within)
}

static WHOLE_STACK_LOGGED: AtomicBool = AtomicBool::new(false);

/// The byte a vacated shared stack is filled with in debug builds.
#[cfg(debug_assertions)]
const VACANT: u8 = 0xA5;

/// A stack that many greenlets of one hub run on, one at a time.
///
/// Only one greenlet has its bytes on the stack at a time (its *occupant*):
/// from when it is claimed (a greenlet starting) or swapped in (resumed)
/// until it switches out or ends. A greenlet that switches out copies the
/// bytes it uses, from its lowest live word to the top, into a heap buffer
/// (see [`SharedSlot::swap_out`] for its size), and they are copied back to the same addresses before it
/// next runs. So while it is switched out, nothing may read or write its
/// stack: its addresses hold another greenlet's bytes, or nothing. In debug
/// builds the vacated bytes are filled with a pattern, and the next claim or
/// swap-in checks it is intact.
pub(crate) struct SharedStack {
    mapping: Mapping,
    /// The id of the slot whose bytes are on the stack; 0 when vacant.
    occupant: Cell<u64>,
    next_id: Cell<u64>,
    /// Slots on this stack: greenlets started on it and not yet finished.
    greenlets: Cell<usize>,
    /// Heap bytes held by the switched-out greenlets of this stack.
    held: Cell<usize>,
    /// The lowest address of the pattern-filled vacated part (the top if none).
    #[cfg(debug_assertions)]
    vacated: Cell<usize>,
}

impl std::fmt::Debug for SharedStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStack")
            .field("top", &self.mapping.top())
            .field("greenlets", &self.greenlets.get())
            .field("held", &self.held.get())
            .finish()
    }
}

impl SharedStack {
    /// Maps a shared stack with `size` usable bytes; fails at the process's
    /// budget, or where shared stacks are not supported (only x86-64 is).
    pub(crate) fn new(size: usize) -> io::Result<Rc<SharedStack>> {
        SharedStack::supported()?;
        let mapping = Mapping::new(size)?;
        Ok(Rc::new(SharedStack {
            #[cfg(debug_assertions)]
            vacated: Cell::new(mapping.top()),
            mapping,
            occupant: Cell::new(0),
            next_id: Cell::new(0),
            greenlets: Cell::new(0),
            held: Cell::new(0),
        }))
    }

    /// Fails with `Unsupported` where shared stacks are not supported:
    /// everywhere but x86-64.
    pub(crate) fn supported() -> io::Result<()> {
        if cfg!(target_arch = "x86_64") {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "shared stacks are supported on x86-64 only",
            ))
        }
    }

    /// Greenlets started on this stack and not finished.
    pub(crate) fn greenlets(&self) -> usize {
        self.greenlets.get()
    }

    /// Heap bytes held by this stack's switched-out greenlets.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held.get()
    }

    /// Makes slot `id` the occupant of a vacant stack.
    fn claim(&self, id: u64) {
        let previous = self.occupant.replace(id);
        assert_eq!(
            previous, 0,
            "greenlet: a shared stack was claimed while another greenlet's bytes were on it"
        );
        self.check_vacant();
        // A vacant stack is, to its next occupant, fresh stack memory.
        let usable = self.mapping.usable_start();
        valgrind::make_undefined(usable, self.mapping.top() - usable);
    }

    /// Slot `id`, the occupant, has ended or switched out.
    fn vacate(&self, id: u64) {
        let previous = self.occupant.replace(0);
        debug_assert_eq!(previous, id, "only the occupant leaves a shared stack");
    }

    /// In debug builds: panics if the vacated part was written since it was vacated.
    fn check_vacant(&self) {
        #[cfg(debug_assertions)]
        {
            let from = self.vacated.replace(self.mapping.top());
            let len = self.mapping.top() - from;
            // SAFETY: `from..top` is inside the mapping's usable part (it
            // was vacated by `swap_out`) and vacant: no greenlet's bytes are
            // on it, nothing runs on it, and no reference to it exists.
            let vacated = unsafe { std::slice::from_raw_parts(from as *const u8, len) };
            // A page at a time (`memcmp`), then the byte.
            static PAGE: [u8; 4096] = [VACANT; 4096];
            let written = vacated
                .chunks(PAGE.len())
                .enumerate()
                .find(|(_, chunk)| *chunk != &PAGE[..chunk.len()])
                .and_then(|(i, chunk)| {
                    let at = chunk.iter().position(|&b| b != VACANT)?;
                    Some(i * PAGE.len() + at)
                });
            if let Some(at) = written {
                panic!(
                    "greenlet: the stack of a switched-out shared-stack greenlet was written \
                     at {:#x} while it was out: nothing may use a pointer into a switched-out \
                     greenlet's stack (see ARCHITECTURE.md)",
                    from + at
                );
            }
        }
    }
}

/// A greenlet's place on a [`SharedStack`].
///
/// # Invariant
/// While this slot is not the stack's occupant (`out`), the `len` bytes at
/// `offset` in `buffer`'s spare capacity are the bytes its coroutine had on
/// the stack when it switched out, from its lowest live word (or the start
/// of that word's 64-byte block) up to the top: its whole suspended state,
/// restored to the same addresses by [`swap_in`](Self::swap_in) before the
/// coroutine runs again. `offset + len` never exceeds the capacity, and the
/// buffer's length stays 0: the bytes are written and read through raw
/// pointers, never as a slice of the `Vec`.
pub(crate) struct SharedSlot {
    stack: Rc<SharedStack>,
    id: u64,
    buffer: Vec<u8>,
    /// How many bytes are saved: below 4 GiB, as stacks are at most 1 GiB
    /// (narrow fields keep the slot, kept by every parked shared-stack
    /// greenlet, at 48 bytes).
    len: u32,
    /// Where in `buffer` the bytes start (below 64).
    offset: u8,
    /// Switched out: `buffer` holds its bytes, counted in the stack's `held`.
    out: bool,
    /// Has switched out before: it switches often enough that its bytes are
    /// kept aligned (see [`SharedSlot::swap_out`]).
    again: bool,
}

impl SharedSlot {
    /// Makes this slot the occupant again, with its bytes back in place.
    /// Nothing to do if it still is (it was claimed and has not switched out).
    #[inline(never)]
    pub(crate) fn swap_in(&mut self) {
        let stack = &*self.stack;
        if stack.occupant.get() == self.id {
            return;
        }
        debug_assert!(self.out, "a slot that is not the occupant has switched out");
        stack.claim(self.id);
        let (offset, len) = (usize::from(self.offset), self.len as usize);
        let from = stack.mapping.top() - len;
        // SAFETY: by the invariant (this slot was not the occupant, so it is
        // out), `len` bytes at `offset` in the buffer's capacity were written
        // by `swap_out`, copied from `from..top` of this mapping, inside its
        // usable part. The stack is vacant (just claimed): no greenlet's
        // bytes are on it and nothing runs on it, so no reference to that
        // memory is live while it is overwritten; the coroutine these bytes
        // belong to gets exactly the bytes it left, at the same addresses,
        // before it runs. The buffer is heap memory, apart from the stack.
        unsafe {
            std::ptr::copy_nonoverlapping(self.buffer.as_ptr().add(offset), from as *mut u8, len)
        };
        stack.held.set(stack.held.get() - self.buffer.capacity());
        self.out = false; // the buffer is kept for the next swap-out
    }

    /// Copies the bytes of this slot's coroutine, which has just switched
    /// out at `switch_point` (from [`mark_switch_point`]), into its buffer,
    /// and vacates the stack.
    ///
    /// The first time, the buffer is exactly the live bytes: a greenlet that
    /// parks once (a sleeper, an idle connection) costs no more. From the
    /// second time on, the copy starts at the 64-byte block the lowest live
    /// word is in, into a buffer position 64-aligned like it: aligned
    /// copies of whole vectors, ~10% off this greenlet's switches, for up
    /// to 127 bytes more of buffer.
    #[inline(never)]
    pub(crate) fn swap_out(&mut self, switch_point: usize) {
        const ALIGN: usize = 64;
        let top = self.stack.mapping.top();
        let lowest = self.lowest_live_word(switch_point, top);
        let aligned = std::mem::replace(&mut self.again, true);
        let (from, room) = if aligned {
            let from = lowest & !(ALIGN - 1);
            (from, top - from + ALIGN - 1)
        } else {
            (lowest, top - lowest)
        };
        let len = top - from;
        let capacity = self.buffer.capacity();
        if capacity < room || capacity > 2 * room + 256 {
            self.buffer = Vec::with_capacity(room);
        }
        // Below ALIGN for a byte pointer; the `min` only bounds it for the
        // argument below.
        let offset = if aligned {
            self.buffer.as_ptr().align_offset(ALIGN).min(ALIGN - 1)
        } else {
            0
        };
        // SAFETY: `from..top` is inside the mapping's usable part: the
        // lowest live word is the usable start (page-aligned, so rounding
        // leaves it) or in the upper half of the canary span, at least 64
        // bytes (half of the shortest span) above the span's start, so its
        // 64-byte block starts inside the span. The coroutine on it is suspended, so nothing writes it
        // while it is read; it is initialised (the canary below the lowest
        // live word; mapped zeros, or what the coroutine wrote, above). The
        // destination is the buffer's capacity (heap memory, apart from the
        // stack): `offset + len` is at most `room` (aligned: offset < ALIGN;
        // otherwise offset 0 and len = room), and the capacity is at least
        // `room`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                from as *const u8,
                self.buffer.as_mut_ptr().add(offset),
                len,
            )
        };
        // Fit: the offset is below ALIGN, and `len` is at most the stack's
        // size (at most 1 GiB, `Builder::stack_size`).
        debug_assert!(offset < ALIGN && u32::try_from(len).is_ok());
        (self.offset, self.len) = (offset as u8, len as u32);
        let stack = &*self.stack;
        stack.held.set(stack.held.get() + self.buffer.capacity());
        self.out = true;
        stack.vacate(self.id);
        #[cfg(debug_assertions)]
        {
            // SAFETY: as above; the bytes are saved, the stack is vacant,
            // and no reference to this memory is live.
            unsafe { std::ptr::write_bytes(from as *mut u8, VACANT, len) };
            stack.vacated.set(from);
        }
    }

    /// The greenlet has finished: nothing of it is left on the stack.
    pub(crate) fn ended(&self) {
        self.stack.vacate(self.id);
    }

    /// The suspended coroutine's lowest live word: the lowest word of the
    /// canary span below `switch_point` that the switch overwrote (see
    /// [`mark_switch_point`]). If there is none, or the whole span was
    /// overwritten (a signal handler ran there, or the switch went deeper
    /// than the span), the whole usable stack is saved instead, and that is
    /// logged once.
    fn lowest_live_word(&self, switch_point: usize, top: usize) -> usize {
        let usable = self.stack.mapping.usable_start();
        if switch_point.is_multiple_of(8)
            && let Some(span_start) = switch_point.checked_sub(CANARY_SPAN)
            && span_start > usable
            && switch_point <= top
        {
            // Memcheck reports the words the switch pushed (the saved
            // registers) as unaddressable after some resumes: its stack-
            // pointer tracking loses them across the switch. They are live;
            // the rest of the span holds the canary.
            valgrind::make_defined(span_start, CANARY_SPAN);
            // SAFETY: the span is 8-byte aligned (the stack pointer is) and
            // inside the mapping's usable part; the coroutine is suspended,
            // so nothing writes the stack while it is read. It was written
            // (the canary) before the switch, so it is initialised.
            let span =
                unsafe { std::slice::from_raw_parts(span_start as *const u64, CANARY_SPAN / 8) };
            // The switch used at most half the span (see `CANARY_SPAN`): so
            // it did not reach below the span through a run of slots it
            // never wrote.
            if let Some(lowest) = first_written(span)
                && lowest >= span.len() / 2
            {
                return span_start + lowest * 8;
            }
        }
        if !WHOLE_STACK_LOGGED.swap(true, Ordering::Relaxed) {
            log::error!(target: "greenlet",
                "a shared-stack greenlet switched out without a clean switch point; its whole \
                 stack is saved instead (slow, but correct)");
        }
        usable
    }
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        let stack = &self.stack;
        stack.greenlets.set(stack.greenlets.get() - 1);
        if stack.occupant.get() == self.id {
            stack.occupant.set(0); // it never ran
        } else if self.out {
            // Switched out and never resumed: its coroutine is leaked, and
            // its bytes go with this buffer.
            stack.held.set(stack.held.get() - self.buffer.capacity());
        }
    }
}

/// Memcheck's view of a shared stack. Its bytes change owner without the
/// stack pointer moving over them, so valgrind's own tracking (which marks
/// memory as the stack pointer passes) would call a resumed greenlet's
/// frames unaddressable. The hub says what they are instead, with
/// valgrind's client requests; outside valgrind each is a few no-op
/// instructions.
mod valgrind {
    use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

    /// `VG_USERREQ__RUNNING_ON_VALGRIND`: answers non-zero under valgrind.
    const RUNNING_ON_VALGRIND: u64 = 0x1001;
    /// `VG_USERREQ_TOOL_BASE('M', 'C')`: memcheck's requests.
    const MEMCHECK: u64 = (b'M' as u64) << 24 | (b'C' as u64) << 16;
    const MAKE_MEM_UNDEFINED: u64 = MEMCHECK + 1;
    const MAKE_MEM_DEFINED: u64 = MEMCHECK + 2;

    /// Whether this process runs under valgrind: not asked yet, no, yes.
    static RUNNING: AtomicU8 = AtomicU8::new(UNKNOWN);
    const UNKNOWN: u8 = 0;
    const NO: u8 = 1;
    const YES: u8 = 2;

    /// Whether this process runs under valgrind, asked once: the requests
    /// below are made on every shared-stack switch, and each builds its
    /// argument block on the stack (~15 instructions) for nothing when
    /// valgrind is not there. A process cannot come under valgrind later.
    #[inline(always)]
    fn running() -> bool {
        match RUNNING.load(Relaxed) {
            NO => false,
            YES => true,
            _ => ask(),
        }
    }

    #[cold]
    #[inline(never)]
    fn ask() -> bool {
        let running = request([RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0]) != 0;
        RUNNING.store(if running { YES } else { NO }, Relaxed);
        running
    }

    /// `from..from + len` is addressable and its contents unknown (as stack
    /// memory below the stack pointer is).
    #[inline(always)]
    pub(super) fn make_undefined(from: usize, len: usize) {
        if running() {
            request([MAKE_MEM_UNDEFINED, from as u64, len as u64, 0, 0, 0]);
        }
    }

    /// `from..from + len` is addressable and initialised.
    #[inline(always)]
    pub(super) fn make_defined(from: usize, len: usize) {
        if running() {
            request([MAKE_MEM_DEFINED, from as u64, len as u64, 0, 0, 0]);
        }
    }

    /// Valgrind's client request: a fixed sequence of rotations that leaves
    /// `rdi` unchanged, then `xchg rbx, rbx`. Valgrind recognises it and
    /// reads the request from `rax`; without valgrind it does nothing.
    /// Inlined: a call would move the stack pointer, and memcheck marks
    /// the stack below it dead when it moves back up.
    /// Returns valgrind's answer (`rdx`), which is 0 without valgrind.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn request(args: [u64; 6]) -> u64 {
        let answer: u64;
        // SAFETY: the rotations add up to 128 bits (rdi is restored), the
        // exchange of rbx with itself changes nothing, and rdx is declared
        // as written (valgrind writes its answer there; without valgrind it
        // keeps the 0 put in). The asm reads `args` only under valgrind,
        // which the pointer keeps alive; it touches no stack.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") 0u64 => answer,
                options(nostack, preserves_flags),
            );
        }
        answer
    }

    /// Valgrind is not supported here: nothing to tell it.
    #[cfg(not(target_arch = "x86_64"))]
    fn request(_args: [u64; 6]) -> u64 {
        0
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn a_shared_stack_has_one_occupant_from_claim_to_end() {
        let stack = SharedStack::new(64 * 1024).unwrap();
        let (first_stack, mut first) = GreenletStack::shared(&stack);
        assert!(first_stack.is_shared());
        assert_eq!(stack.greenlets(), 1);
        assert_eq!(stack.occupant.get(), first.id);
        // The occupant resuming again has nothing to copy.
        first.swap_in();
        assert_eq!(stack.occupant.get(), first.id);
        first.ended();
        assert_eq!(stack.occupant.get(), 0);
        let (_, second) = GreenletStack::shared(&stack);
        assert_eq!(stack.occupant.get(), second.id);
        assert_ne!(first.id, second.id);
        assert_eq!(stack.greenlets(), 2);
        drop(first);
        assert_eq!(stack.greenlets(), 1);
        drop(second); // never ran: the stack is vacant again
        assert_eq!((stack.greenlets(), stack.occupant.get()), (0, 0));
        assert_eq!(stack.held_bytes(), 0);
    }

    #[test]
    fn a_shared_slot_stays_at_48_bytes() {
        // Every parked shared-stack greenlet keeps one: 16 bytes more were
        // 32 bytes more resident memory a parked greenlet (malloc's steps).
        assert!(std::mem::size_of::<SharedSlot>() <= 48);
    }

    #[test]
    #[should_panic(expected = "another greenlet's bytes were on it")]
    fn claiming_an_occupied_shared_stack_panics() {
        let stack = SharedStack::new(64 * 1024).unwrap();
        let _first = GreenletStack::shared(&stack);
        let _second = GreenletStack::shared(&stack);
    }

    #[test]
    fn a_switch_point_whose_span_is_untouched_but_for_the_top_gives_the_lowest_written_word() {
        let stack = SharedStack::new(64 * 1024).unwrap();
        let (_, slot) = GreenletStack::shared(&stack);
        let top = stack.mapping.top();
        let switch_point = top - 4096;
        let span_start = switch_point - CANARY_SPAN;
        let words = CANARY_SPAN / 8;
        let write = |index: usize, word: u64| {
            // SAFETY: inside the mapping's usable part, which nothing else
            // uses in this test; aligned to 8.
            unsafe { std::ptr::write((span_start + index * 8) as *mut u64, word) }
        };
        // What a switch leaves: the canary, then three pushed words.
        (0..words).for_each(|i| write(i, CANARY));
        (words - 3..words).for_each(|i| write(i, 0x1234));
        assert_eq!(slot.lowest_live_word(switch_point, top), switch_point - 24);
        // A word written in the lower half: not a clean switch point.
        write(1, 0x1234);
        let usable = stack.mapping.usable_start();
        assert_eq!(slot.lowest_live_word(switch_point, top), usable);
        slot.ended();
    }
}
