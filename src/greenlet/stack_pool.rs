//! The per-hub pool of guard-paged stacks.
//!
//! Creating a stack costs an `mmap` and an `mprotect` (about 11 µs here) and
//! dropping one a `munmap`; taking one from the pool costs a `Vec::pop`. A
//! greenlet takes a stack when it first runs and gives it back when it ends,
//! so a spawn+join cycle makes no system call once the pool is warm.
//!
//! The pool is capped: each stack is two memory mappings and the kernel allows
//! about 65,000 per process, so stacks beyond the cap are unmapped.

#![forbid(unsafe_code)]

use corosensei::stack::{DefaultStack, Stack};
use std::io;

/// Most stacks kept for reuse, all sizes together.
const MAX_POOLED: usize = 1024;

pub(crate) struct StackPool {
    /// One free list per stack size; almost always a single entry (the default size).
    by_size: Vec<(usize, Vec<DefaultStack>)>,
    pooled: usize,
}

impl StackPool {
    pub(crate) fn new() -> Self {
        StackPool {
            by_size: Vec::new(),
            pooled: 0,
        }
    }

    /// Takes a pooled stack of `size` bytes, or maps a new one.
    pub(crate) fn take(&mut self, size: usize) -> io::Result<DefaultStack> {
        let free = self.by_size.iter_mut().find(|(s, _)| *s == size);
        if let Some(stack) = free.and_then(|(_, free)| free.pop()) {
            self.pooled -= 1;
            return Ok(stack);
        }
        DefaultStack::new(size)
    }

    /// Returns a stack of `size` bytes for reuse, or unmaps it if the pool is full.
    pub(crate) fn give(&mut self, size: usize, stack: DefaultStack) {
        if self.pooled >= MAX_POOLED {
            return;
        }
        self.pooled += 1;
        match self.by_size.iter_mut().find(|(s, _)| *s == size) {
            Some((_, free)) => free.push(stack),
            None => self.by_size.push((size, vec![stack])),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.pooled
    }
}

/// The lowest address of a stack: the start of its guard page.
pub(crate) fn guard_start(stack: &DefaultStack) -> usize {
    stack.limit().get()
}
