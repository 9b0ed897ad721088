//! What the hooks know about each descriptor number, process-wide.
//!
//! An entry is one `u64`: flags in the low half, a generation in the high
//! half. Every hooked call that creates or closes a descriptor starts a new
//! generation for its number, so a registration made for an earlier file
//! under the same number is recognised as stale (see `io.rs`). The table
//! grows in chunks on first touch and is never freed (a few KiB per 4,096
//! descriptors in use).
//!
//! Layer: user-facing (monkey patching). Uses nothing else of the crate.

#![forbid(unsafe_code)]

use std::os::fd::RawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The hooks have looked at it (flags below are meaningful).
pub(crate) const KNOWN: u64 = 1;
/// A socket, or a pipe this process made (`pipe`, `pipe2`): inside
/// greenlets its blocking calls park instead. Other pipes, FIFOs and
/// terminals are left alone: they may be shared with other processes,
/// which would see their non-blocking mode change too.
pub(crate) const POLLABLE: u64 = 1 << 1;
/// Its user asked for non-blocking IO (`SOCK_NONBLOCK`, `O_NONBLOCK`,
/// `FIONBIO`): every call goes straight to the kernel.
pub(crate) const USER_NONBLOCK: u64 = 1 << 2;
/// The hooks set `O_NONBLOCK` on it; its user did not, and sees a blocking
/// descriptor (`fcntl(F_GETFL)` hides the flag, and outside greenlets a
/// call that would block waits in `poll`).
pub(crate) const OUR_NONBLOCK: u64 = 1 << 3;
/// A byte stream (a `SOCK_STREAM` socket, a pipe): a read that returns
/// less than it asked for has drained what there was.
pub(crate) const STREAM: u64 = 1 << 6;
/// Its user set `SO_RCVTIMEO` / `SO_SNDTIMEO` (read back when a call
/// would block).
pub(crate) const RCVTIMEO: u64 = 1 << 4;
pub(crate) const SNDTIMEO: u64 = 1 << 5;

const FLAGS: u64 = 0xffff_ffff;
const GENERATION: u64 = 1 << 32;

const CHUNK: usize = 4096;
const CHUNKS: usize = 1024; // descriptors up to 4 Mi; larger ones are not tracked

/// A chunk of entries; an array (not a slice), so indexing it with
/// `fd % CHUNK` needs no bounds check.
type Chunk = [AtomicU64; CHUNK];

static TABLE: [OnceLock<Box<Chunk>>; CHUNKS] = [const { OnceLock::new() }; CHUNKS];

/// A zeroed chunk, made on the heap directly (not built on the stack of a
/// greenlet that may be small).
fn new_chunk() -> Box<Chunk> {
    let entries: Box<[AtomicU64]> = (0..CHUNK).map(|_| AtomicU64::new(0)).collect();
    entries
        .try_into()
        .unwrap_or_else(|_| unreachable!("CHUNK entries were made"))
}

/// The entry for `fd`, if it can have one.
fn slot(fd: RawFd) -> Option<&'static AtomicU64> {
    let fd = usize::try_from(fd).ok()?;
    let chunk = TABLE.get(fd / CHUNK)?;
    let chunk = chunk.get_or_init(new_chunk);
    Some(&chunk[fd % CHUNK])
}

/// Makes the chunk of the lowest descriptor numbers (standard streams
/// among them) now, so that no hook needs to allocate for them later.
pub(crate) fn reserve_first() {
    let _ = slot(0);
}

/// One descriptor's entry, as read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry(u64);

impl Entry {
    pub(crate) fn has(self, flag: u64) -> bool {
        self.0 & flag != 0
    }

    pub(crate) fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// The entry of `fd` (all flags clear for an untracked number).
#[inline]
pub(crate) fn get(fd: RawFd) -> Entry {
    match usize::try_from(fd) {
        // Reading an entry never allocates: an untouched chunk is all clear.
        Ok(n) => match TABLE.get(n / CHUNK).and_then(OnceLock::get) {
            Some(chunk) => Entry(chunk[n % CHUNK].load(Ordering::Acquire)),
            None => Entry(0),
        },
        Err(_) => Entry(0),
    }
}

/// A new file under `fd`: a new generation, with `flags`.
pub(crate) fn created(fd: RawFd, flags: u64) {
    if let Some(slot) = slot(fd) {
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
            Some(((old & !FLAGS).wrapping_add(GENERATION)) | flags)
        });
    }
}

/// `fd` was closed: a new generation, nothing known.
pub(crate) fn closed(fd: RawFd) {
    created(fd, 0);
}

/// `to` now refers to what `from` does (`dup` and friends): the flags of
/// the open file (non-blocking mode) and of the socket go with it.
pub(crate) fn duplicated(from: RawFd, to: RawFd) {
    let flags = get(from).0 & FLAGS;
    created(to, flags);
}

/// Sets (`on`) or clears `flag` on `fd`, in the same generation.
pub(crate) fn set(fd: RawFd, flag: u64, on: bool) {
    if let Some(slot) = slot(fd) {
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
            Some(if on { old | flag } else { old & !flag })
        });
    }
}

/// Records what classifying `fd` found, unless its generation moved on
/// meanwhile (another thread closed it).
pub(crate) fn classified(fd: RawFd, seen: Entry, flags: u64) -> Entry {
    let Some(slot) = slot(fd) else {
        return Entry(flags);
    };
    let new = (seen.0 & !FLAGS) | flags | KNOWN;
    match slot.compare_exchange(seen.0, new, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Entry(new),
        Err(now) => Entry(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_under_a_number_starts_a_new_generation() {
        let fd = 70_001;
        created(fd, KNOWN | POLLABLE);
        let first = get(fd);
        assert!(first.has(POLLABLE));
        closed(fd);
        let after = get(fd);
        assert!(!after.has(POLLABLE) && !after.has(KNOWN));
        assert_ne!(first.generation(), after.generation());
    }

    #[test]
    fn a_duplicate_shares_the_open_files_flags() {
        created(70_010, KNOWN | POLLABLE | OUR_NONBLOCK);
        duplicated(70_010, 70_011);
        assert!(get(70_011).has(OUR_NONBLOCK));
        set(70_011, OUR_NONBLOCK, false);
        assert!(!get(70_011).has(OUR_NONBLOCK));
    }

    #[test]
    fn numbers_out_of_range_are_untracked() {
        created(-1, KNOWN);
        assert_eq!(get(-1), Entry(0));
        assert_eq!(get(i32::MAX), Entry(0));
    }

    #[test]
    fn classifying_loses_to_a_close_in_between() {
        let fd = 70_020;
        closed(fd);
        let seen = get(fd);
        closed(fd);
        let result = classified(fd, seen, POLLABLE);
        assert!(!result.has(KNOWN));
    }
}
