//! The per-thread pool of greenlet stacks, and the hub's shared stacks.
//!
//! Mapping a stack costs an `mmap` and an `mprotect` (several µs) and
//! unmapping one a `munmap`; taking one from the pool costs a `Vec::pop`. A
//! greenlet takes a stack when it first runs and gives it back when it ends,
//! so a spawn+join cycle makes no system call once the pool is warm.
//!
//! A greenlet that asks for a shared stack (or asks for no kind while the
//! process is short of mappings, see [`StackKind`]) gets a slot on this
//! thread's shared stack of its size, mapped on first use and kept for the
//! thread's life: starting one makes no system call at all.
//!
//! The pool is capped (stacks beyond the cap are unmapped), and lives in a
//! thread-local of its own: after that is gone (thread exit), private stacks
//! are mapped and unmapped one by one, and no shared stack is handed out.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use super::StackKind;
use crate::hub::with_hub;
use crate::sys::{self, GreenletStack, SharedSlot, SharedStack};

/// Most stacks kept for reuse per thread, all sizes together.
const MAX_POOLED: usize = 1024;

/// How many of a thread's greenlets that pin no kind of stack run on private
/// stacks before the next ones go to the shared stack. A private stack's
/// switch copies nothing, but each one that runs touches a page and a TLB
/// entry of its own: past a few hundred of them the switches of shallow
/// greenlets are no slower on a shared stack, whose hot part is one stack
/// and a few hundred heap bytes a greenlet (echo at 1,000 connections, three
/// runs: 1.15×, 1.11× and 0.96× the requests of private stacks; at 100,
/// 0.96–0.99×; BENCHMARKS.md), and a burst of them starts with no system
/// call.
const PRIVATE_FIRST: usize = 256;

#[derive(Default)]
struct StackPool {
    /// One free list per stack size; almost always a single entry (the default size).
    by_size: Vec<(usize, Vec<GreenletStack>)>,
    pooled: usize,
    /// Private stacks this thread's greenlets hold (pinned or not).
    private_in_use: usize,
    /// This thread's shared stacks, one per stack size.
    shared: Vec<(usize, Rc<SharedStack>)>,
}

thread_local! {
    static POOL: RefCell<StackPool> = RefCell::new(StackPool::default());
}

/// Takes a stack of `size` usable bytes of the kind asked for (the hub's
/// choice if none): a slot on a shared stack, or a pooled private stack, or
/// a newly mapped one.
pub(crate) fn take(
    size: usize,
    kind: Option<StackKind>,
) -> io::Result<(GreenletStack, Option<SharedSlot>)> {
    let shared = match kind {
        Some(StackKind::Shared) => true,
        Some(StackKind::Private) => false,
        None => sys::prefers_shared() || private_in_use() >= PRIVATE_FIRST,
    };
    if shared {
        match take_shared(size) {
            Ok((stack, slot)) => return Ok((stack, Some(slot))),
            // Unpinned, it may still find a private stack.
            Err(_) if kind.is_none() => {}
            Err(error) => return Err(error),
        }
    }
    let pooled = POOL
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let stack = pool
                .by_size
                .iter_mut()
                .find(|(s, _)| *s == size)
                .and_then(|(_, free)| free.pop());
            if stack.is_some() {
                pool.pooled -= 1;
                pool.private_in_use += 1;
            }
            stack
        })
        .ok()
        .flatten();
    let stack = match pooled {
        Some(stack) => stack,
        None => {
            let stack = GreenletStack::private(size)?;
            let _ = POOL.try_with(|pool| pool.borrow_mut().private_in_use += 1);
            stack
        }
    };
    Ok((stack, None))
}

/// Private stacks this thread's greenlets hold.
fn private_in_use() -> usize {
    POOL.try_with(|pool| pool.borrow().private_in_use)
        .unwrap_or(0)
}

/// A slot on this thread's shared stack of `size` bytes, mapped on first use.
fn take_shared(size: usize) -> io::Result<(GreenletStack, SharedSlot)> {
    let existing = POOL
        .try_with(|pool| {
            let pool = pool.borrow();
            pool.shared
                .iter()
                .find(|(s, _)| *s == size)
                .map(|(_, stack)| stack.clone())
        })
        .map_err(|_| io::Error::other("no shared stack as the thread exits"))?;
    let stack = match existing {
        Some(stack) => stack,
        None => {
            let stack = SharedStack::new(size)?;
            let _ = POOL.try_with(|pool| pool.borrow_mut().shared.push((size, stack.clone())));
            stack
        }
    };
    Ok(GreenletStack::shared(&stack))
}

/// Keeps a stack of `size` usable bytes for reuse, or unmaps it if the pool
/// is full; a shared-stack slot is just dropped.
///
/// While greenlets of this thread wait for a stack (the process is at its
/// budget), the pool keeps one for each of them whatever its cap: unmapping
/// a stack only for a waiter to map another costs two system calls a
/// greenlet, and is what a burst past the budget would do for all of them.
pub(crate) fn give(size: usize, stack: GreenletStack) {
    if stack.is_shared() {
        return;
    }
    let waiting = with_hub(|hub| hub.waiting_for_stack());
    let refused = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.private_in_use = pool.private_in_use.saturating_sub(1);
        if pool.pooled >= MAX_POOLED.max(waiting) {
            return Some(stack);
        }
        pool.pooled += 1;
        match pool.by_size.iter_mut().find(|(s, _)| *s == size) {
            Some((_, free)) => free.push(stack),
            None => pool.by_size.push((size, vec![stack])),
        }
        None
    });
    drop(refused); // unmapped outside the borrow
}

/// Stacks this thread keeps for reuse.
pub(crate) fn len() -> usize {
    POOL.try_with(|pool| pool.borrow().pooled).unwrap_or(0)
}

/// This thread's shared stacks: how many, the greenlets started on them and
/// not finished, and the heap bytes their switched-out greenlets hold.
pub(crate) fn shared_usage() -> (usize, usize, usize) {
    POOL.try_with(|pool| {
        let pool = pool.borrow();
        pool.shared.iter().fold((0, 0, 0), |(n, g, b), (_, stack)| {
            (n + 1, g + stack.greenlets(), b + stack.held_bytes())
        })
    })
    .unwrap_or((0, 0, 0))
}
