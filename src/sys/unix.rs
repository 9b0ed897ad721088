//! Unix backend: the stack-overflow reporter, the alternate signal stack and
//! a listening socket's backlog.

use std::cell::Cell;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr;
use std::sync::OnceLock;

/// Who owns a greenlet stack, as the fault handler needs to know it.
///
/// # Invariant
/// While a [`RunningGuard`] points at a `StackOwner`, the owner is alive and
/// its `guard_start` is the lowest address of the running coroutine's stack
/// mapping, whose first page is the `PROT_NONE` guard page.
#[derive(Debug)]
pub(crate) struct StackOwner {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) stack_size: usize,
    pub(crate) guard_start: Cell<usize>,
}

thread_local! {
    /// The greenlet running on this thread, or null while the root runs.
    /// Const-initialised and without a destructor, so the signal handler may
    /// read it (no lazy initialisation, no registration).
    static RUNNING: Cell<*const StackOwner> = const { Cell::new(ptr::null()) };
}

/// Marks a greenlet as running for the fault handler until dropped. It
/// borrows the owner, so the owner outlives it: RUNNING never dangles.
pub(crate) struct RunningGuard<'a>(std::marker::PhantomData<&'a StackOwner>);

impl<'a> RunningGuard<'a> {
    // Inlined into the hub's switch, so that the thread-local is reached
    // directly rather than through an accessor call (two per switch).
    #[inline(always)]
    pub(crate) fn enter(owner: &'a StackOwner) -> RunningGuard<'a> {
        RUNNING.with(|r| r.set(owner));
        RunningGuard(std::marker::PhantomData)
    }
}

impl Drop for RunningGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(ptr::null()));
    }
}

static PAGE_SIZE: OnceLock<usize> = OnceLock::new();
static PREVIOUS_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
static PREVIOUS_BUS: OnceLock<libc::sigaction> = OnceLock::new();

pub(super) fn page_size() -> usize {
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).unwrap_or(4096)
    })
}

/// Signal state of one thread; drops the alternate stack it made, if any.
pub(crate) struct ThreadSignals {
    altstack: Option<AltStack>,
}

impl std::fmt::Debug for ThreadSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadSignals")
            .field("own_altstack", &self.altstack.is_some())
            .finish()
    }
}

/// Installs the process-wide fault handler (once) and makes sure this thread
/// can run it on an alternate stack.
pub(crate) fn init_thread() -> ThreadSignals {
    PREVIOUS_SEGV.get_or_init(|| install(libc::SIGSEGV));
    PREVIOUS_BUS.get_or_init(|| install(libc::SIGBUS));
    ThreadSignals {
        altstack: AltStack::install_if_missing(),
    }
}

fn install(signal: libc::c_int) -> libc::sigaction {
    page_size();
    // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, empty mask).
    let mut action: libc::sigaction = unsafe { mem::zeroed() };
    action.sa_sigaction = handle_fault as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: as above; `old` is written by sigaction.
    let mut old: libc::sigaction = unsafe { mem::zeroed() };
    // SAFETY: both pointers are valid for the call; `handle_fault` has the
    // signature SA_SIGINFO requires and only does async-signal-safe work.
    unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, &mut old) != 0 {
            log::warn!(target: "greenlet", "cannot install the stack-overflow reporter: {}",
                io::Error::last_os_error());
        }
    }
    old
}

extern "C" fn handle_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler, and
    // for SIGSEGV/SIGBUS si_addr is the faulting address.
    let address = unsafe { (*info).si_addr() } as usize;
    let owner = RUNNING.try_with(|r| r.get()).unwrap_or(ptr::null());
    if !owner.is_null() {
        // SAFETY: by RunningGuard's invariant the owner outlives the guard, and
        // the guard is live while its greenlet runs, which is when it faults.
        let owner = unsafe { &*owner };
        let guard = owner.guard_start.get();
        if guard != 0 && address >= guard && address < guard + page_size() {
            report_overflow(owner);
        }
    }
    // SAFETY: we forward the arguments the kernel gave us unchanged.
    unsafe { chain(signal, info, context) }
}

/// Writes the overflow message with plain `write` calls (no allocation, no
/// locks: we are in a signal handler) and aborts.
fn report_overflow(owner: &StackOwner) -> ! {
    let mut out = Buf::new();
    out.push(b"greenlet: stack overflow in greenlet ");
    out.push_number(owner.id as usize);
    if let Some(name) = &owner.name {
        out.push(b" \"");
        let bytes = name.as_bytes();
        out.push(&bytes[..bytes.len().min(120)]);
        out.push(b"\"");
    }
    out.push(b" (stack size ");
    out.push_number(owner.stack_size);
    out.push(b" bytes); give it a bigger stack with greenlet::Builder::stack_size\n");
    // SAFETY: writing initialised bytes to fd 2; a short or failed write only
    // loses the message.
    unsafe {
        libc::write(2, out.bytes.as_ptr().cast(), out.len);
    }
    std::process::abort();
}

/// Hands a fault that is not ours to the handler that was installed before.
///
/// # Safety
/// The arguments must be the ones the kernel passed to our handler.
unsafe fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = match signal {
        libc::SIGSEGV => PREVIOUS_SEGV.get(),
        _ => PREVIOUS_BUS.get(),
    };
    match previous {
        Some(previous)
            if previous.sa_sigaction != libc::SIG_DFL && previous.sa_sigaction != libc::SIG_IGN =>
        {
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: with SA_SIGINFO the stored address is a handler of this type.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { mem::transmute(previous.sa_sigaction) };
                handler(signal, info, context);
            } else {
                // SAFETY: without SA_SIGINFO the stored address is a plain handler.
                let handler: extern "C" fn(libc::c_int) =
                    unsafe { mem::transmute(previous.sa_sigaction) };
                handler(signal);
            }
        }
        _ => {
            // Restore the default action and return: the faulting instruction
            // runs again and the kernel kills the process as it would have.
            // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask.
            unsafe {
                let mut default: libc::sigaction = mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, ptr::null_mut());
            }
        }
    }
}

/// A fixed buffer for building the message without allocating.
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_number(&mut self, mut n: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

/// An alternate signal stack we made for a thread that had none (std gives
/// one to the threads it starts; threads made elsewhere may lack it).
///
/// # Invariant
/// `base..base+len` is a live mapping installed as this thread's sigaltstack.
struct AltStack {
    base: *mut libc::c_void,
    len: usize,
}

impl AltStack {
    fn install_if_missing() -> Option<AltStack> {
        // SAFETY: a zeroed stack_t is valid; sigaltstack only writes `current`.
        let mut current: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: querying with a null new stack changes nothing.
        if unsafe { libc::sigaltstack(ptr::null(), &mut current) } != 0
            || current.ss_flags & libc::SS_DISABLE == 0
        {
            return None;
        }
        let len = 64 * 1024;
        // SAFETY: an anonymous private mapping with no address hint.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let altstack = AltStack { base, len };
        let new = libc::stack_t {
            ss_sp: base,
            ss_flags: 0,
            ss_size: len,
        };
        // SAFETY: `new` describes the live mapping just made; on failure the
        // AltStack's Drop unmaps it.
        if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } != 0 {
            return None;
        }
        Some(altstack)
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling first means no signal can land on the mapping we
        // then unmap, which by the invariant is ours.
        unsafe {
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(self.base, self.len);
        }
    }
}

/// Whether `error` says the process or system ran out of descriptors or
/// memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`): a condition that passes
/// once something is closed, so the caller should back off and retry.
pub(crate) fn is_out_of_resources(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Sets the backlog of `socket`, which is listening already (std and mio
/// listen with 128): on Linux and the BSDs a second `listen` only changes the
/// length of its accept queue, capped by the system (`net.core.somaxconn` on
/// Linux).
pub(crate) fn set_backlog(socket: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    // SAFETY: listen reads two integers; the descriptor is borrowed, so it
    // stays open (and the same socket) for the call.
    if unsafe { libc::listen(socket.as_raw_fd(), backlog) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The kernel's cap on memory mappings per process (`vm.max_map_count`),
/// if it can be read.
pub(crate) fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}
