//! Everything that talks to the operating system directly; no other module
//! calls libc.
//!
//! What a backend provides:
//! - [`StackOwner`]: the identity of a greenlet and the guard page below its
//!   stack, readable from a signal handler.
//! - [`init_thread`]: once per process, a SIGSEGV/SIGBUS handler that reports a
//!   greenlet's stack overflow by name and chains every other fault to the
//!   handler that was there before (std's, which reports thread overflows);
//!   once per thread, an alternate signal stack if the thread has none, kept
//!   alive by the returned [`ThreadSignals`].
//! - [`RunningGuard`]: tells the handler which greenlet is on the CPU.
//! - [`is_out_of_resources`]: whether an error is a lack of descriptors or
//!   memory that passes once something is closed.
//! - [`GreenletStack`]: a guard-paged stack, within the process's budget of
//!   kernel mappings: private, or a [`SharedStack`] whose switched-out
//!   greenlets keep their bytes in a [`SharedSlot`]; [`mark_switch_point`]
//!   shows where a switching greenlet's live bytes end; [`prefers_shared`]
//!   is the policy for greenlets that pin no kind.
//! - [`max_map_count`]: the kernel's cap on memory mappings per process.
//! - [`set_backlog`]: a new accept-queue length for a socket that listens
//!   already.
//!
//! Layer: the bottom. Uses nothing of the crate.

mod stack;
#[cfg(unix)]
mod unix;

pub(crate) use stack::{GreenletStack, SharedSlot, SharedStack, mark_switch_point, prefers_shared};
#[cfg(unix)]
pub(crate) use unix::*;
