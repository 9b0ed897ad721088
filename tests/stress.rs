//! Stress: thousands of greenlets hammering one queue and one semaphore (and,
//! apart, a rendezvous channel and a mutex) with random short sleeps and
//! random kills; nothing may be lost, delivered twice or left held.
//!
//! The random choices come from a seeded generator; the seed is in every
//! failure message, and `GREENLET_STRESS_SEED=<n>` runs with another one.
//! (The timers still make the interleavings vary from run to run.)

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::lock::{Mutex, Semaphore};
use greenlet::queue::{Channel, Queue};
use greenlet::{Greenlet, spawn, stats, yield_now};
use util::Rng;

const DEFAULT_SEED: u64 = 0x5EED_C0FF_EE00;

/// How long the producers of one test may take before it gives up.
const LIMIT: Duration = Duration::from_secs(8);

fn seed() -> u64 {
    std::env::var("GREENLET_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// For each item: whether its `put` returned, and how often it was received.
struct Ledger {
    put: RefCell<Vec<bool>>,
    received: RefCell<Vec<u32>>,
    by_consumers: Cell<usize>,
}

impl Ledger {
    fn new(items: usize) -> Ledger {
        Ledger {
            put: RefCell::new(vec![false; items]),
            received: RefCell::new(vec![0; items]),
            by_consumers: Cell::new(0),
        }
    }

    fn mark_put(&self, id: usize) {
        let was = std::mem::replace(&mut self.put.borrow_mut()[id], true);
        assert!(!was, "item {id} put twice by its producer");
    }

    fn mark_received(&self, id: usize) {
        self.received.borrow_mut()[id] += 1;
    }

    fn put_count(&self) -> usize {
        self.put.borrow().iter().filter(|&&put| put).count()
    }

    /// Items received other than exactly once if put, never if not (at most 10).
    fn problems(&self) -> Vec<String> {
        let put = self.put.borrow();
        let received = self.received.borrow();
        put.iter()
            .zip(received.iter())
            .enumerate()
            .filter(|(_, (put, received))| **received != u32::from(**put))
            .take(10)
            .map(|(id, (put, received))| {
                format!("item {id}: put returned {put}, received {received} times")
            })
            .collect()
    }
}

/// Parks until every greenlet of `gs` has finished or `deadline` passes;
/// true if they all finished.
fn wait_all(gs: &[Greenlet<()>], deadline: Instant) -> bool {
    gs.iter()
        .all(|g| g.wait_timeout(deadline.saturating_duration_since(Instant::now())))
}

/// Joins them all (they have finished); how many were killed.
fn count_killed(gs: Vec<Greenlet<()>>) -> usize {
    gs.into_iter()
        .map(Greenlet::join)
        .filter(|result| match result {
            Ok(()) => false,
            Err(error) if error.is_killed() => true,
            Err(error) => panic!("a greenlet failed: {error}"),
        })
        .count()
}

/// Kills random greenlets at random moments, one to three at a time, until
/// `stop` is set or it has killed `budget` of each list of `targets` (so that
/// enough consumers stay alive for the producers to finish). Returns the
/// number of kills.
fn spawn_killer(
    seed: u64,
    targets: Vec<(Rc<Vec<Greenlet<()>>>, usize)>,
    stop: Rc<Cell<bool>>,
) -> Greenlet<usize> {
    spawn(move || {
        let mut rng = Rng::new(seed, u64::MAX);
        let mut budgets: Vec<usize> = targets.iter().map(|(_, budget)| *budget).collect();
        let mut kills = 0;
        while !stop.get() && budgets.iter().any(|&left| left > 0) {
            // Between rounds, either one turn of the run queue or a short sleep.
            if rng.below(2) == 0 {
                yield_now();
            } else {
                rng.pause();
            }
            for _ in 0..1 + rng.below(3) {
                let open: Vec<usize> = (0..targets.len()).filter(|&i| budgets[i] > 0).collect();
                if open.is_empty() || stop.get() {
                    break;
                }
                let list = open[rng.below(open.len())];
                let victims = &targets[list].0;
                victims[rng.below(victims.len())].kill();
                budgets[list] -= 1;
                kills += 1;
            }
        }
        kills
    })
}

/// Runs until every producer has finished while a killer strikes at random
/// (at most `producer_kills` producers and `consumer_kills` consumers), then
/// kills the consumers and waits for them. Returns both lists, all finished,
/// and the number of kills.
fn produce_under_fire(
    seed: u64,
    producers: Vec<Greenlet<()>>,
    consumers: Vec<Greenlet<()>>,
    producer_kills: usize,
    consumer_kills: usize,
) -> (Vec<Greenlet<()>>, Vec<Greenlet<()>>, usize) {
    let producers = Rc::new(producers);
    let consumers = Rc::new(consumers);
    let stop = Rc::new(Cell::new(false));
    let killer = spawn_killer(
        seed,
        vec![
            (producers.clone(), producer_kills),
            (consumers.clone(), consumer_kills),
        ],
        stop.clone(),
    );
    let all_produced = wait_all(&producers, Instant::now() + LIMIT);
    stop.set(true); // the killer stops at its next round
    let kills = killer.join().unwrap();
    assert!(
        all_produced,
        "seed {seed}: the producers did not finish within {LIMIT:?}"
    );
    for consumer in consumers.iter() {
        consumer.kill();
    }
    assert!(
        wait_all(&consumers, Instant::now() + LIMIT),
        "seed {seed}: killed consumers did not finish"
    );
    (unwrap_rc(producers), unwrap_rc(consumers), kills)
}

fn unwrap_rc<T>(rc: Rc<T>) -> T {
    Rc::try_unwrap(rc).unwrap_or_else(|_| panic!("the handles are still shared"))
}

#[test]
fn ten_thousand_greenlets_on_one_queue_and_semaphore_with_random_kills_lose_and_duplicate_nothing()
{
    const PRODUCERS: usize = 6_000;
    const CONSUMERS: usize = 3_999; // with the killer, 10,000 greenlets
    const ITEMS_EACH: usize = 2;
    const PERMITS: usize = 16;
    const CAPACITY: usize = 64;
    const KILLS_OF_EACH: usize = 600;

    let seed = seed();
    let start = Instant::now();
    let mut rng = Rng::new(seed, 0);
    let queue = Queue::bounded(CAPACITY);
    let permits = Rc::new(Semaphore::new(PERMITS));
    let ledger = Rc::new(Ledger::new(PRODUCERS * ITEMS_EACH));

    let mut roles: Vec<bool> = (0..PRODUCERS + CONSUMERS).map(|i| i < PRODUCERS).collect();
    rng.shuffle(&mut roles);
    let mut producers: Vec<Greenlet<()>> = Vec::with_capacity(PRODUCERS);
    let mut consumers: Vec<Greenlet<()>> = Vec::with_capacity(CONSUMERS);
    for (stream, is_producer) in (1..).zip(roles) {
        let mut rng = Rng::new(seed, stream);
        let (queue, ledger) = (queue.clone(), ledger.clone());
        if is_producer {
            let first = producers.len() * ITEMS_EACH;
            producers.push(spawn(move || {
                for id in first..first + ITEMS_EACH {
                    rng.pause();
                    queue.put(id);
                    ledger.mark_put(id); // no switch since `put` returned
                }
            }));
        } else {
            let permits = permits.clone();
            consumers.push(spawn(move || {
                loop {
                    rng.pause();
                    let id = queue.get();
                    ledger.mark_received(id); // no switch since `get` returned
                    ledger.by_consumers.set(ledger.by_consumers.get() + 1);
                    let _permit = permits.acquire();
                    rng.pause(); // "processing", holding a permit
                }
            }));
        }
    }
    let (producers, consumers, kills) =
        produce_under_fire(seed, producers, consumers, KILLS_OF_EACH, KILLS_OF_EACH);
    let mut drained = 0;
    for id in queue.drain() {
        ledger.mark_received(id);
        drained += 1;
    }
    let producers_killed = count_killed(producers);
    count_killed(consumers);
    let elapsed = start.elapsed();
    eprintln!(
        "seed {seed}: {elapsed:?}; {} of {} items put, {} taken by consumers, {drained} drained; \
         {producers_killed} producers killed",
        ledger.put_count(),
        PRODUCERS * ITEMS_EACH,
        ledger.by_consumers.get(),
    );

    let problems = ledger.problems();
    assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
    assert_eq!(
        permits.available(),
        PERMITS,
        "seed {seed}: permits were not all given back"
    );
    assert!(queue.is_empty(), "seed {seed}");
    assert_eq!(stats().alive, 0, "seed {seed}");
    // The run really exercised what it is about.
    assert!(
        producers_killed > 0 && ledger.by_consumers.get() > 0,
        "seed {seed}: no producer was killed before it finished ({kills} kills)"
    );
}

#[test]
fn a_rendezvous_channel_under_random_kills_delivers_every_item_put_exactly_once() {
    const PRODUCERS: usize = 800;
    const ITEMS_EACH: usize = 3;
    const CONSUMERS: usize = 200;
    const PRODUCER_KILLS: usize = 150;
    const CONSUMER_KILLS: usize = 100; // half: the rest keep the producers going

    let seed = seed();
    let start = Instant::now();
    let mut rng = Rng::new(seed, 0);
    let channel = Channel::new();
    let ledger = Rc::new(Ledger::new(PRODUCERS * ITEMS_EACH));

    let mut roles: Vec<bool> = (0..PRODUCERS + CONSUMERS).map(|i| i < PRODUCERS).collect();
    rng.shuffle(&mut roles);
    let mut producers: Vec<Greenlet<()>> = Vec::with_capacity(PRODUCERS);
    let mut consumers: Vec<Greenlet<()>> = Vec::with_capacity(CONSUMERS);
    for (stream, is_producer) in (1..).zip(roles) {
        let mut rng = Rng::new(seed, stream);
        let (channel, ledger) = (channel.clone(), ledger.clone());
        if is_producer {
            let first = producers.len() * ITEMS_EACH;
            producers.push(spawn(move || {
                for id in first..first + ITEMS_EACH {
                    rng.pause();
                    channel.put(id);
                    ledger.mark_put(id); // no switch since `put` returned
                }
            }));
        } else {
            consumers.push(spawn(move || {
                loop {
                    let id = channel.get();
                    ledger.mark_received(id); // no switch since `get` returned
                    ledger.by_consumers.set(ledger.by_consumers.get() + 1);
                    rng.pause();
                }
            }));
        }
    }
    let (producers, consumers, kills) =
        produce_under_fire(seed, producers, consumers, PRODUCER_KILLS, CONSUMER_KILLS);
    // An item handed to a getter killed before it ran may be left behind.
    let mut drained = 0;
    while let Some(id) = channel.get_timeout(Duration::ZERO) {
        ledger.mark_received(id);
        drained += 1;
    }
    let producers_killed = count_killed(producers);
    count_killed(consumers);
    eprintln!(
        "seed {seed}: {:?}; {} of {} items put, {} taken by consumers, {drained} drained; \
         {producers_killed} producers killed",
        start.elapsed(),
        ledger.put_count(),
        PRODUCERS * ITEMS_EACH,
        ledger.by_consumers.get(),
    );

    let problems = ledger.problems();
    assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
    assert_eq!(channel.waiting_getters(), 0, "seed {seed}");
    assert_eq!(stats().alive, 0, "seed {seed}");
    assert!(
        producers_killed > 0 && ledger.by_consumers.get() > 0,
        "seed {seed}: no producer was killed before it finished ({kills} kills)"
    );
}

/// Counts a greenlet inside the critical section until dropped (also when
/// its holder is killed there).
struct Inside(Rc<Cell<usize>>);

impl Inside {
    fn enter(count: &Rc<Cell<usize>>, most: &Cell<usize>) -> Inside {
        count.set(count.get() + 1);
        most.set(most.get().max(count.get()));
        Inside(count.clone())
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

#[test]
fn a_mutex_under_random_kills_admits_one_holder_at_a_time_and_loses_no_update() {
    const WORKERS: usize = 1_999;
    const SECTIONS_EACH: usize = 3;
    const KILLS: usize = 300;

    let seed = seed();
    let start = Instant::now();
    let counter = Rc::new(Mutex::new(0usize));
    let committed = Rc::new(Cell::new(0usize));
    let inside = Rc::new(Cell::new(0usize));
    let most = Rc::new(Cell::new(0usize));

    let workers: Vec<Greenlet<()>> = (1..=WORKERS as u64)
        .map(|stream| {
            let mut rng = Rng::new(seed, stream);
            let (counter, committed, inside, most) = (
                counter.clone(),
                committed.clone(),
                inside.clone(),
                most.clone(),
            );
            spawn(move || {
                for _ in 0..SECTIONS_EACH {
                    rng.pause();
                    let mut value = counter.lock();
                    let _inside = Inside::enter(&inside, &most);
                    let seen = *value;
                    for _ in 0..rng.below(3) {
                        yield_now(); // others run, and may be killed, meanwhile
                    }
                    *value = seen + 1;
                    committed.set(committed.get() + 1); // no switch since the write
                }
            })
        })
        .collect();
    let workers = Rc::new(workers);
    let stop = Rc::new(Cell::new(false));
    let killer = spawn_killer(seed, vec![(workers.clone(), KILLS)], stop.clone());

    let all_done = wait_all(&workers, Instant::now() + LIMIT);
    stop.set(true); // the killer stops at its next round
    let kills = killer.join().unwrap();
    assert!(
        all_done,
        "seed {seed}: the workers did not finish within {LIMIT:?}"
    );
    let killed = count_killed(unwrap_rc(workers));
    eprintln!(
        "seed {seed}: {:?}; {} sections committed, {killed} workers killed",
        start.elapsed(),
        committed.get()
    );

    assert_eq!(most.get(), 1, "seed {seed}: two holders at once");
    assert!(
        !counter.is_locked(),
        "seed {seed}: the mutex was left locked"
    );
    assert_eq!(
        *counter.lock(),
        committed.get(),
        "seed {seed}: updates were lost"
    );
    assert!(
        killed > 0,
        "seed {seed}: no worker was killed before it finished ({kills} kills)"
    );
}
