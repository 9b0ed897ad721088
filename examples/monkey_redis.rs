//! Monkey patching with a real database client: the `redis` crate's sync
//! API (written on `std::net`), unmodified, in greenlets of one thread.
//!
//! 1. 20 greenlets, each with its own connection, block in `BLPOP` on a key
//!    of their own until a producer greenlet pushes to every key 300 ms
//!    later: all 20 are released together, about 0.3 s in all. Without the
//!    patch the first `BLPOP` would block the thread, producer included.
//! 2. 10,000 `INCR`s from 100 greenlets, a connection each: the counter
//!    ends at exactly 10,000.
//!
//! Needs a Redis server (`redis-server --port 6379 --save ''`).
//!
//! Run: `cargo run --release --features hook --example monkey_redis [-- --url redis://127.0.0.1:6379/]`

use std::process::exit;
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo run --release --features hook --example monkey_redis -- [--url URL]

  --url URL   the Redis server (default redis://127.0.0.1:6379/)";

fn parse_args() -> String {
    let mut url = String::from("redis://127.0.0.1:6379/");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--url" => match args.next() {
                Some(value) => url = value,
                None => usage_error("--url needs a value"),
            },
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    url
}

fn usage_error(message: &str) -> ! {
    eprintln!("monkey_redis: {message}\n{USAGE}");
    exit(2);
}

fn connect(client: &redis::Client) -> redis::Connection {
    client.get_connection().unwrap_or_else(|e| {
        eprintln!("monkey_redis: cannot connect to Redis: {e}");
        exit(1);
    })
}

fn main() {
    env_logger::init();
    let url = parse_args();
    greenlet::monkey::patch_all();
    let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| {
        eprintln!("monkey_redis: bad URL {url:?}: {e}");
        exit(2);
    });
    let prefix = format!("monkey_redis:{}", std::process::id());

    // 1. Twenty BLPOPs released together.
    let start = Instant::now();
    let waiters: Vec<_> = (0..20)
        .map(|i| {
            let (client, key) = (client.clone(), format!("{prefix}:list:{i}"));
            greenlet::spawn(move || -> redis::RedisResult<Option<(String, String)>> {
                redis::cmd("BLPOP")
                    .arg(key)
                    .arg(5)
                    .query(&mut connect(&client))
            })
        })
        .collect();
    let producer = {
        let (client, prefix) = (client.clone(), prefix.clone());
        greenlet::spawn(move || -> redis::RedisResult<()> {
            let mut con = connect(&client);
            thread::sleep(Duration::from_millis(300)); // std's sleep, patched
            for i in 0..20 {
                redis::cmd("RPUSH")
                    .arg(format!("{prefix}:list:{i}"))
                    .arg(format!("item {i}"))
                    .query::<i64>(&mut con)?;
            }
            Ok(())
        })
    };
    let popped = greenlet::joinall(waiters)
        .into_iter()
        .filter(|result| matches!(result, Ok(Ok(Some(_)))))
        .count();
    match producer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("monkey_redis: the producer failed: {e}");
            exit(1);
        }
        Err(e) => {
            eprintln!("monkey_redis: the producer greenlet failed: {e}");
            exit(1);
        }
    }
    println!(
        "{popped}/20 BLPOPs released together in {:.2} s (one after another: 6 s)",
        start.elapsed().as_secs_f64()
    );

    // 2. Ten thousand INCRs from a hundred greenlets.
    let counter = format!("{prefix}:counter");
    let start = Instant::now();
    let workers: Vec<_> = (0..100)
        .map(|_| {
            let (client, counter) = (client.clone(), counter.clone());
            greenlet::spawn(move || -> redis::RedisResult<()> {
                let mut con = connect(&client);
                for _ in 0..100 {
                    redis::cmd("INCR").arg(&counter).query::<i64>(&mut con)?;
                }
                Ok(())
            })
        })
        .collect();
    let failed = greenlet::joinall(workers)
        .into_iter()
        .filter(|result| !matches!(result, Ok(Ok(()))))
        .count();
    let mut con = connect(&client);
    let total: i64 = redis::cmd("GET")
        .arg(&counter)
        .query(&mut con)
        .unwrap_or(-1);
    let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&counter).query(&mut con);
    println!(
        "10,000 INCRs from 100 greenlets: counter = {total} in {:.2} s ({failed} greenlets failed)",
        start.elapsed().as_secs_f64()
    );
    if popped != 20 || total != 10_000 {
        exit(1);
    }
}
