//! The per-thread pool of greenlet stacks.
//!
//! Mapping a stack costs an `mmap` and an `mprotect` (several µs) and
//! unmapping one a `munmap`; taking one from the pool costs a `Vec::pop`. A
//! greenlet takes a stack when it first runs and gives it back when it ends,
//! so a spawn+join cycle makes no system call once the pool is warm.
//!
//! The pool is capped (stacks beyond the cap are unmapped), and lives in a
//! thread-local of its own: after that is gone (thread exit), stacks are
//! mapped and unmapped one by one.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io;

use crate::hub::with_hub;
use crate::sys::GreenletStack;

/// Most stacks kept for reuse per thread, all sizes together.
const MAX_POOLED: usize = 1024;

#[derive(Default)]
struct StackPool {
    /// One free list per stack size; almost always a single entry (the default size).
    by_size: Vec<(usize, Vec<GreenletStack>)>,
    pooled: usize,
}

thread_local! {
    static POOL: RefCell<StackPool> = RefCell::new(StackPool::default());
}

/// Takes a pooled stack of `size` usable bytes, or maps a new one.
pub(crate) fn take(size: usize) -> io::Result<GreenletStack> {
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
            }
            stack
        })
        .ok()
        .flatten();
    match pooled {
        Some(stack) => Ok(stack),
        None => GreenletStack::new(size),
    }
}

/// Keeps a stack of `size` usable bytes for reuse, or unmaps it if the pool is full.
///
/// While greenlets of this thread wait for a stack (the process is at its
/// budget), the pool keeps one for each of them whatever its cap: unmapping
/// a stack only for a waiter to map another costs two system calls a
/// greenlet, and is what a burst past the budget would do for all of them.
pub(crate) fn give(size: usize, stack: GreenletStack) {
    let waiting = with_hub(|hub| hub.waiting_for_stack());
    let refused = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
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
