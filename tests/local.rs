//! `greenlet_local!`: each greenlet (and the root context) has its own value,
//! made lazily on first use and dropped when the greenlet ends.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use greenlet::event::Event;
use greenlet::{Greenlet, joinall, sleep, spawn, yield_now};
use util::{DropFlag, LONG, flag, ms};

// Each test uses statics of its own: the tests run in parallel threads, and
// although each thread has its own values, keeping them apart keeps the
// tests independent of that too.

greenlet::greenlet_local! {
    static OWN: Cell<u32> = Cell::new(0);
}

#[test]
fn each_greenlet_sees_its_own_value() {
    let workers: Vec<Greenlet<u32>> = (1..=3)
        .map(|n| {
            spawn(move || {
                OWN.with(|v| v.set(n));
                yield_now(); // the others set theirs in between
                OWN.with(Cell::get)
            })
        })
        .collect();
    let seen: Vec<u32> = joinall(workers).into_iter().map(Result::unwrap).collect();
    assert_eq!(seen, [1, 2, 3]);
}

greenlet::greenlet_local! {
    static ROOTS: Cell<u32> = Cell::new(0);
}

#[test]
fn the_root_context_has_a_value_of_its_own() {
    ROOTS.with(|v| v.set(99));
    let g = spawn(|| {
        let initial = ROOTS.with(Cell::get);
        ROOTS.with(|v| v.set(5));
        initial
    });
    assert_eq!(g.join().unwrap(), 0);
    assert_eq!(ROOTS.with(Cell::get), 99);
}

thread_local! {
    static INIT_CALLS: Cell<usize> = const { Cell::new(0) };
}

fn counted_init() -> Cell<u32> {
    INIT_CALLS.with(|calls| calls.set(calls.get() + 1));
    Cell::new(7)
}

greenlet::greenlet_local! {
    static COUNTED: Cell<u32> = counted_init();
}

#[test]
fn values_are_made_lazily_once_per_greenlet_that_uses_them() {
    let users: Vec<Greenlet<()>> = (0..2)
        .map(|_| {
            spawn(|| {
                for _ in 0..3 {
                    COUNTED.with(|v| v.set(v.get() + 1));
                    yield_now();
                }
            })
        })
        .collect();
    let bystander = spawn(yield_now);
    assert_eq!(INIT_CALLS.with(Cell::get), 0, "made before first use");
    for result in joinall(users) {
        result.unwrap();
    }
    bystander.join().unwrap();
    assert_eq!(INIT_CALLS.with(Cell::get), 2);
    COUNTED.with(|_| ()); // the root context's first use
    assert_eq!(INIT_CALLS.with(Cell::get), 3);
}

greenlet::greenlet_local! {
    static GUARDED: RefCell<Option<DropFlag>> = RefCell::new(None);
}

#[test]
fn a_greenlets_value_is_dropped_when_the_greenlet_finishes() {
    let dropped = flag();
    let go = Event::new();
    let g = {
        let (dropped, go) = (dropped.clone(), go.clone());
        spawn(move || {
            GUARDED.with(|v| *v.borrow_mut() = Some(DropFlag(dropped)));
            go.wait();
        })
    };
    yield_now(); // it stores its value and parks
    assert!(!dropped.get(), "dropped while its greenlet was alive");
    go.set();
    g.join().unwrap();
    assert!(dropped.get());
}

#[test]
fn a_greenlets_value_is_dropped_when_the_greenlet_is_killed() {
    let dropped = flag();
    let g = {
        let dropped = dropped.clone();
        spawn(move || {
            GUARDED.with(|v| *v.borrow_mut() = Some(DropFlag(dropped)));
            sleep(LONG);
        })
    };
    yield_now();
    assert!(!dropped.get());
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(dropped.get());
}

#[test]
fn a_greenlets_value_is_dropped_when_the_greenlet_panics() {
    let dropped = flag();
    let g = {
        let dropped = dropped.clone();
        spawn(move || {
            GUARDED.with(|v| *v.borrow_mut() = Some(DropFlag(dropped)));
            panic!("failed");
        })
    };
    assert!(g.join().unwrap_err().is_panic());
    assert!(dropped.get());
}

#[test]
fn a_greenlets_value_lives_while_other_greenlets_finish() {
    let mine = flag();
    let go = Event::new();
    let keeper = {
        let (mine, go) = (mine.clone(), go.clone());
        spawn(move || {
            GUARDED.with(|v| *v.borrow_mut() = Some(DropFlag(mine)));
            go.wait();
            GUARDED.with(|v| v.borrow().is_some())
        })
    };
    let theirs = flag();
    let other = {
        let theirs = theirs.clone();
        spawn(move || GUARDED.with(|v| *v.borrow_mut() = Some(DropFlag(theirs))))
    };
    other.join().unwrap();
    assert!(theirs.get());
    assert!(!mine.get());
    go.set();
    assert!(keeper.join().unwrap());
    assert!(mine.get());
}

/// Sleeps in its destructor (as one closing a connection politely might),
/// then sets its flag.
struct SlowDrop(Rc<Cell<bool>>);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        sleep(ms(10));
        self.0.set(true);
    }
}

greenlet::greenlet_local! {
    static SLOW: RefCell<Option<SlowDrop>> = RefCell::new(None);
}

#[test]
fn a_value_whose_destructor_blocks_is_dropped_in_full_when_its_greenlet_finishes() {
    let done = flag();
    let g = {
        let done = done.clone();
        spawn(move || SLOW.with(|v| *v.borrow_mut() = Some(SlowDrop(done))))
    };
    g.join().unwrap();
    assert!(done.get());
}

#[test]
fn a_value_whose_destructor_blocks_is_dropped_in_full_when_its_greenlet_is_killed() {
    let done = flag();
    let g = {
        let done = done.clone();
        spawn(move || {
            SLOW.with(|v| *v.borrow_mut() = Some(SlowDrop(done)));
            sleep(LONG);
        })
    };
    yield_now();
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(
        done.get(),
        "the blocking destructor of a killed greenlet's local was cut short"
    );
}

greenlet::greenlet_local! {
    /// A documented local.
    pub static FIRST: Cell<u8> = Cell::new(1);
    // Without the attribute reaching the static, the lint would fail the build.
    #[allow(non_upper_case_globals)]
    pub(crate) static second: RefCell<String> = RefCell::new(String::from("two"));
    static THIRD: u64 = 3
}

#[test]
fn one_invocation_declares_several_locals_with_attributes_and_visibility() {
    assert_eq!(FIRST.with(Cell::get), 1);
    assert_eq!(second.with(|v| v.borrow().clone()), "two");
    assert_eq!(THIRD.with(|v| *v), 3);
    let g = spawn(|| {
        FIRST.with(|v| v.set(10));
        second.with(|v| v.borrow_mut().push('!'));
        (
            FIRST.with(Cell::get),
            second.with(|v| v.borrow().clone()),
            THIRD.with(|v| *v),
        )
    });
    assert_eq!(g.join().unwrap(), (10, "two!".to_owned(), 3));
    assert_eq!(FIRST.with(Cell::get), 1);
    assert_eq!(second.with(|v| v.borrow().clone()), "two");
}

greenlet::local::greenlet_local! {
    static THROUGH_MODULE: Cell<i32> = Cell::new(-1);
}

#[test]
fn the_macro_is_also_reachable_from_the_local_module() {
    let key: &'static greenlet::local::LocalKey<Cell<i32>> = &THROUGH_MODULE;
    key.with(|v| v.set(v.get() - 1));
    assert_eq!(THROUGH_MODULE.with(Cell::get), -2);
    assert_eq!(spawn(|| THROUGH_MODULE.with(Cell::get)).join().unwrap(), -1);
}

greenlet::greenlet_local! {
    static BASE: Cell<u32> = Cell::new(10);
    static DERIVED: u32 = BASE.with(Cell::get) * 2;
}

#[test]
fn an_initializer_may_read_another_local_of_the_same_greenlet() {
    let g = spawn(|| {
        BASE.with(|v| v.set(21));
        DERIVED.with(|v| *v)
    });
    assert_eq!(g.join().unwrap(), 42);
    assert_eq!(DERIVED.with(|v| *v), 20);
}

greenlet::greenlet_local! {
    static OUTER: Cell<u32> = Cell::new(1);
    static INNER: Cell<u32> = Cell::new(2);
}

#[test]
fn with_may_use_another_local_inside_its_closure() {
    let g = spawn(|| OUTER.with(|outer| INNER.with(|inner| outer.get() + inner.get())));
    assert_eq!(g.join().unwrap(), 3);
}

greenlet::greenlet_local! {
    static HISTORY: RefCell<Vec<u32>> = RefCell::new(Vec::new());
}

#[test]
fn values_persist_across_switches_within_one_greenlet() {
    let workers: Vec<Greenlet<Vec<u32>>> = (0..3u32)
        .map(|n| {
            spawn(move || {
                for step in 0..4 {
                    HISTORY.with(|h| h.borrow_mut().push(n * 10 + step));
                    if step % 2 == 0 {
                        yield_now();
                    } else {
                        sleep(ms(1));
                    }
                }
                HISTORY.with(|h| h.borrow().clone())
            })
        })
        .collect();
    for (n, result) in (0u32..).zip(joinall(workers)) {
        let expected: Vec<u32> = (0..4).map(|step| n * 10 + step).collect();
        assert_eq!(result.unwrap(), expected);
    }
    assert!(HISTORY.with(|h| h.borrow().is_empty()));
}
