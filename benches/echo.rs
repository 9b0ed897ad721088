//! Echo round trips of 64-byte messages at 10, 100 and 1,000 connections,
//! five servers side by side, all driven by the same `echo_client`:
//!
//! - greenlet: the `echo_server` example, one greenlet per connection, on
//!   the stacks the hub chooses (private ones for a thread's first 256
//!   greenlets, shared ones beyond);
//! - greenlet-shared: the same, each greenlet pinned to a shared stack
//!   (`--stack shared`);
//! - greenlet-private: the same, each greenlet pinned to a private stack
//!   (`--stack private`; not run unless named in `--servers`);
//! - threads: a thread-per-connection server on `std::net` (this binary,
//!   re-run as `--serve threads ADDR`);
//! - std+patch: the threads server's code, unmodified (plain `std::net`),
//!   with a greenlet per connection under `greenlet::monkey::patch_all`
//!   (this binary, re-run as `--serve patched ADDR`);
//! - tokio: a tokio `current_thread` echo server, a task per connection
//!   (this binary, re-run as `--serve tokio ADDR`). tokio is a
//!   dev-dependency used only here: it is the bar to beat.
//!
//! Three more, for the scaling run, run only when named in `--servers`:
//!
//! - greenlet-workers: `echo_server --workers 2` (`StreamServer::bind_workers`:
//!   two threads, a hub and an `SO_REUSEPORT` listener each);
//! - greenlet-1worker: `echo_server --workers 1`, the same code on one thread;
//! - tokio-mt: a tokio `multi_thread` runtime with `worker_threads(2)`, a
//!   task per connection (this binary, re-run as `--serve tokio-mt ADDR`).
//!
//! `--work-us MICROS` (default 0) makes every server spend that many
//! microseconds of CPU on each message before echoing it (a time-based busy
//! loop, `compute` below, the same as the `echo_server` example's), so that
//! the server, not the client, runs out of CPU. The scaling run:
//!
//! ```text
//! cargo bench --bench echo -- --repeats 3 --duration 3 --connections 100 \
//!     --work-us 20 --servers greenlet-workers,greenlet-1worker,tokio-mt
//! ```
//!
//! prints, after the first table, greenlet-workers' requests/s over
//! greenlet-1worker's and over tokio-mt's (medians; the targets are 1.7× and
//! 1×).
//!
//! Each server runs pinned to core 0 (`taskset -c 0`) and the client pinned
//! to core 1, so a server gets exactly one core (greenlet-1worker too). The
//! two-thread servers (greenlet-workers, tokio-mt) are pinned to both cores
//! (`taskset -c 0,1`), and the client stays pinned to core 1, sharing it
//! with them: it is then placed as in every other run, and the kernel's
//! scheduler gives the servers' threads whatever CPU the client leaves
//! (about two cores less the client's half core or so; an unpinned client
//! measured no differently, and moved between the cores). Each run's line
//! gives the client's CPU per request beside the server's; a server's is
//! its user + system time over all its threads, divided by the requests.
//! The runs are interleaved
//! (greenlet, threads, tokio, greenlet, threads, tokio, ...) with `--repeats`
//! repeats per connection count, since run-to-run noise on a shared machine
//! is far larger than the differences measured; the table gives the medians.
//! Each run uses a port of its own (from 20000 up, skipping any in use),
//! waits until the server accepts, and kills the server afterwards.
//!
//! The machine may be shared (a compiler running beside the benchmark halves
//! a pinned server's core), so before each run the driver waits until the
//! rest of the machine is quiet, and it measures the CPU time that neither
//! the server nor the client used during the run (from `/proc/stat`): a run
//! during which that exceeded `--max-other-load` cores is run again, up to
//! five times. Each run's line gives that figure, and the server's own CPU
//! time per request, which a busy machine disturbs less than requests/s.
//!
//! The driver first runs `cargo build --release --example echo_server
//! --example echo_client` (skip it with `--no-build`), and takes the two
//! binaries from `$CARGO_TARGET_DIR/release/examples/` if that variable is
//! set, else from the `release/examples/` directory beside this binary's.
//!
//! Run: `cargo bench --bench echo [-- --repeats N --duration SECS
//! --connections 10,100,1000 --servers greenlet,tokio --work-us MICROS
//! --max-other-load CORES --no-build]` (defaults: 3 repeats of 3 s, every
//! server but the four named only, no compute, 0.1 cores).
//! Without `--bench` among its arguments (which `cargo bench` passes) the
//! binary does nothing, so `cargo test --benches` does not start a
//! benchmark.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio, exit};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo bench --bench echo [-- options]

  --repeats N           runs of each server per connection count (default 3)
  --duration SECS       length of each run, fractions allowed (default 3)
  --connections LIST    comma-separated connection counts (default 10,100,1000)
  --servers LIST        comma-separated servers to run (default: all of
                        greenlet,greenlet-shared,std+patch,threads,tokio;
                        greenlet-private, greenlet-workers, greenlet-1worker
                        and tokio-mt run only when named)
  --work-us MICROS      microseconds of CPU each server spends on each message
                        before echoing it (default 0)
  --max-other-load C    run again (up to 5 times) a run during which other
                        processes used more than C cores (default 0.1)
  --no-build            do not build the echo_server and echo_client examples first

Internal: `--serve threads|patched|tokio|tokio-mt ADDR [--work-us MICROS]` runs one
of the comparison servers.";

const MESSAGE_SIZE: usize = 64;
const FIRST_PORT: u16 = 20000;
const SERVERS: [Server; 5] = [
    Server::Greenlet,
    Server::GreenletShared,
    Server::Patched,
    Server::Threads,
    Server::Tokio,
];
/// The scaling run's ratios of requests/s (medians), with the issue's
/// targets: two workers against one, and against tokio's two workers.
const SCALING_RATIOS: [(&str, f64); 2] = [
    ("greenlet-workers/greenlet-1worker", 1.7),
    ("greenlet-workers/tokio-mt", 1.0),
];
/// Servers run only when `--servers` names them.
const EXTRA_SERVERS: [Server; 4] = [
    Server::GreenletPrivate,
    Server::GreenletWorkers,
    Server::Greenlet1Worker,
    Server::TokioMt,
];
/// Runs of one server at one connection count, when other work keeps
/// spoiling them.
const MAX_ATTEMPTS: usize = 5;
/// How long to wait for the machine to go quiet before a run.
const QUIET_PATIENCE: Duration = Duration::from_secs(600);
/// Linux's `USER_HZ`, the unit of the CPU times in `/proc/<pid>/stat`.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Greenlet,
    GreenletShared,
    GreenletPrivate,
    GreenletWorkers,
    Greenlet1Worker,
    Patched,
    Threads,
    Tokio,
    TokioMt,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Greenlet => "greenlet",
            Server::GreenletShared => "greenlet-shared",
            Server::GreenletPrivate => "greenlet-private",
            Server::Patched => "std+patch",
            Server::Threads => "threads",
            Server::Tokio => "tokio",
            Server::GreenletWorkers => "greenlet-workers",
            Server::Greenlet1Worker => "greenlet-1worker",
            Server::TokioMt => "tokio-mt",
        }
    }

    /// The cores the server is pinned to (`taskset -c`): both for the two
    /// servers that run two threads, core 0 for the rest.
    fn cores(self) -> &'static str {
        match self {
            Server::GreenletWorkers | Server::TokioMt => "0,1",
            _ => "0",
        }
    }
}

struct Options {
    repeats: usize,
    duration: f64,
    connections: Vec<usize>,
    servers: Vec<Server>,
    build: bool,
    max_other_load: f64,
    /// CPU each server spends on each message (`--work-us`).
    work: Duration,
}

/// One run's figures, as the client printed them, plus the server's CPU time.
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    p50_us: f64,
    p99_us: f64,
    /// Server CPU (user + system) per request, in microseconds.
    cpu_us: f64,
    /// The client's CPU per request, in microseconds (which the two-core
    /// servers share a core with).
    client_cpu_us: f64,
    /// CPU time the machine spent on anything but the server and the client
    /// during the run, in cores (0.5: half a core's worth).
    other_load: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let work = match args.get(3..).unwrap_or_default() {
            [] => Duration::ZERO,
            [flag, micros] if flag == "--work-us" => match micros.parse() {
                Ok(micros) => Duration::from_micros(micros),
                Err(_) => usage_error("--work-us: expected a whole number of microseconds"),
            },
            _ => usage_error("--serve: after the address, only `--work-us MICROS`"),
        };
        match (args.get(1).map(String::as_str), args.get(2)) {
            (Some("threads"), Some(addr)) => serve_threads(addr, work),
            (Some("patched"), Some(addr)) => serve_patched(addr, work),
            (Some("tokio"), Some(addr)) => serve_tokio(addr, work),
            (Some("tokio-mt"), Some(addr)) => serve_tokio_mt(addr, work),
            _ => usage_error(
                "--serve takes `threads`, `patched`, `tokio` or `tokio-mt`, then an address",
            ),
        }
        .unwrap_or_else(|e| {
            eprintln!("echo bench server: {e}");
            exit(1);
        });
        return;
    }
    let options = parse_args(&args);
    let Some(options) = options else {
        println!("echo bench: not run (pass --bench, as `cargo bench --bench echo` does)");
        return;
    };
    if let Err(e) = drive(&options) {
        eprintln!("echo bench: {e}");
        exit(1);
    }
}

/// The options, or `None` when `--bench` is missing (under `cargo test`).
fn parse_args(args: &[String]) -> Option<Options> {
    let mut options = Options {
        repeats: 3,
        duration: 3.0,
        connections: vec![10, 100, 1000],
        servers: SERVERS.to_vec(),
        build: true,
        max_other_load: 0.1,
        work: Duration::ZERO,
    };
    let mut bench = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| match args.next() {
            Some(value) => value.clone(),
            None => usage_error(&format!("{name} needs a value")),
        };
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--bench" => bench = true,
            "--no-build" => options.build = false,
            "--repeats" => match value(arg).parse() {
                Ok(n) if n > 0 => options.repeats = n,
                _ => usage_error("--repeats: expected a whole number, at least 1"),
            },
            "--duration" => match value(arg).parse::<f64>() {
                Ok(d) if d.is_finite() && d > 0.0 => options.duration = d,
                _ => usage_error("--duration: expected a positive number of seconds"),
            },
            "--max-other-load" => match value(arg).parse::<f64>() {
                Ok(cores) if cores.is_finite() && cores > 0.0 => options.max_other_load = cores,
                _ => usage_error("--max-other-load: expected a positive number of cores"),
            },
            "--work-us" => match value(arg).parse() {
                Ok(micros) => options.work = Duration::from_micros(micros),
                _ => usage_error("--work-us: expected a whole number of microseconds"),
            },
            "--connections" => {
                let list: Result<Vec<usize>, _> = value(arg).split(',').map(str::parse).collect();
                match list {
                    Ok(list) if !list.is_empty() && !list.contains(&0) => {
                        options.connections = list;
                    }
                    _ => usage_error("--connections: expected counts like 10,100,1000"),
                }
            }
            "--servers" => {
                let list: Option<Vec<Server>> = value(arg)
                    .split(',')
                    .map(|name| {
                        SERVERS
                            .iter()
                            .chain(&EXTRA_SERVERS)
                            .copied()
                            .find(|s| s.name() == name)
                    })
                    .collect();
                match list {
                    Some(list) if !list.is_empty() => options.servers = list,
                    _ => usage_error("--servers: expected names like greenlet,tokio"),
                }
            }
            // cargo bench passes a filter when given one; nothing to filter.
            other if !other.starts_with('-') => {}
            other => usage_error(&format!("unknown argument {other:?}")),
        }
    }
    bench.then_some(options)
}

fn usage_error(message: &str) -> ! {
    eprintln!("echo bench: {message}\n{USAGE}");
    exit(2);
}

/// Where the example binaries are: `$CARGO_TARGET_DIR/release/examples`, or
/// `release/examples` beside this binary (which is in `release/deps`).
fn examples_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        let dir = if dir.is_relative() {
            std::env::current_dir()?.join(dir)
        } else {
            dir
        };
        return Ok(dir.join("release").join("examples"));
    }
    let exe = std::env::current_exe()?;
    let release = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| io::Error::other("cannot tell the target directory"))?;
    Ok(release.join("examples"))
}

fn build_examples() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    eprintln!("echo bench: cargo build --release --example echo_server --example echo_client");
    let status = Command::new(cargo)
        .args(["build", "--release", "--manifest-path", manifest])
        .args(["--example", "echo_server", "--example", "echo_client"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("building the examples failed ({status})"))
    }
}

struct Binaries {
    server: PathBuf,
    client: PathBuf,
    this: PathBuf,
}

fn drive(options: &Options) -> Result<(), String> {
    if options.build {
        build_examples()?;
    }
    let dir = examples_dir().map_err(|e| e.to_string())?;
    let binaries = Binaries {
        server: dir.join("echo_server"),
        client: dir.join("echo_client"),
        this: std::env::current_exe().map_err(|e| e.to_string())?,
    };
    for path in [&binaries.server, &binaries.client] {
        if !path.is_file() {
            return Err(format!(
                "{} not found: build it with `cargo build --release --examples`",
                path.display()
            ));
        }
    }
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return Err("needs two cores (server on core 0, client on core 1)".into());
    }
    eprintln!(
        "echo bench: {} repeats of {} s per server and connection count, {} us of compute \
         per message; load average {}",
        options.repeats,
        options.duration,
        options.work.as_micros(),
        load_average()
    );

    let mut port = FIRST_PORT;
    // results[connection count][server] = samples
    let mut results = Vec::new();
    let mut redone = 0;
    for &connections in &options.connections {
        let mut samples = vec![Vec::new(); options.servers.len()];
        for repeat in 1..=options.repeats {
            for (i, &server) in options.servers.iter().enumerate() {
                let mut attempt = 1;
                let sample = loop {
                    wait_for_quiet(options.max_other_load);
                    port = free_port(port)?;
                    let sample = run(server, connections, port, options, &binaries)?;
                    port += 1;
                    let noisy = sample.other_load > options.max_other_load;
                    let verdict = match (noisy, attempt < MAX_ATTEMPTS) {
                        (false, _) => "",
                        (true, true) => "  (busy machine: run again)",
                        (true, false) => "  (busy machine: kept, attempts used up)",
                    };
                    eprintln!(
                        "  {connections:>5} connections, repeat {repeat}/{}: {:<8} {:>8.0} req/s  \
                         p50 {:>6.0} us  p99 {:>6.0} us  server CPU {:.2} us/req  \
                         client CPU {:.2} us/req  other load {:.2} cores{verdict}",
                        options.repeats,
                        server.name(),
                        sample.rate,
                        sample.p50_us,
                        sample.p99_us,
                        sample.cpu_us,
                        sample.client_cpu_us,
                        sample.other_load
                    );
                    if !noisy || attempt == MAX_ATTEMPTS {
                        break sample;
                    }
                    attempt += 1;
                    redone += 1;
                };
                samples[i].push(sample);
            }
        }
        results.push((connections, samples));
    }
    print_tables(options, &results, redone);
    Ok(())
}

/// The first port from `port` up that nobody listens on.
fn free_port(mut port: u16) -> Result<u16, String> {
    while is_accepting(port) {
        port = port
            .checked_add(1)
            .ok_or_else(|| "no free port left".to_string())?;
    }
    Ok(port)
}

fn is_accepting(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Kills the server when the run is over, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(
    server: Server,
    connections: usize,
    port: u16,
    options: &Options,
    binaries: &Binaries,
) -> Result<Sample, String> {
    let duration = options.duration;
    let addr = format!("127.0.0.1:{port}");
    let mut command = Command::new("taskset");
    command.args(["-c", server.cores()]);
    match server {
        Server::Greenlet => command.arg(&binaries.server).args(["--addr", &addr]),
        Server::GreenletShared => command
            .arg(&binaries.server)
            .args(["--addr", &addr, "--stack", "shared"]),
        Server::GreenletPrivate => command
            .arg(&binaries.server)
            .args(["--addr", &addr, "--stack", "private"]),
        Server::Patched => command
            .arg(&binaries.this)
            .args(["--serve", "patched", &addr]),
        Server::Threads => command
            .arg(&binaries.this)
            .args(["--serve", "threads", &addr]),
        Server::Tokio => command
            .arg(&binaries.this)
            .args(["--serve", "tokio", &addr]),
        Server::GreenletWorkers => {
            command
                .arg(&binaries.server)
                .args(["--addr", &addr, "--workers", "2"])
        }
        Server::Greenlet1Worker => {
            command
                .arg(&binaries.server)
                .args(["--addr", &addr, "--workers", "1"])
        }
        Server::TokioMt => command
            .arg(&binaries.this)
            .args(["--serve", "tokio-mt", &addr]),
    };
    // Every server takes the option last, after its address.
    command.args(["--work-us", &options.work.as_micros().to_string()]);
    let child = command
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start taskset (util-linux): {e}"))?;
    let mut running = Running(child);
    wait_until_accepting(&mut running.0, port, server)?;
    // Let the probe connection's close settle before measuring.
    thread::sleep(Duration::from_millis(100));

    let pid = running.0.id();
    let server_before = cpu_seconds(pid)?;
    let busy_before = busy_seconds()?;
    let started = Instant::now();
    let mut client = Command::new("taskset")
        .args(["-c", "1"])
        .arg(&binaries.client)
        .args(["--addr", &addr])
        .args(["--connections", &connections.to_string()])
        .args(["--duration", &duration.to_string()])
        .args(["--size", &MESSAGE_SIZE.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the client: {e}"))?;
    // The client's CPU time, read until it exits (the last poll misses at
    // most its final 50 ms).
    let mut client_cpu = 0.0;
    let status = loop {
        match client.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                client_cpu = cpu_seconds(client.id()).unwrap_or(client_cpu);
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("waiting for the client: {e}")),
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(pid)? - server_before;
    let busy = busy_seconds()? - busy_before;
    drop(running);
    let mut stdout = String::new();
    if let Some(mut out) = client.stdout.take() {
        out.read_to_string(&mut stdout)
            .map_err(|e| format!("reading the client's output: {e}"))?;
    }
    // Give the closed connections a moment to leave before the next server.
    thread::sleep(Duration::from_millis(300));

    if !status.success() {
        return Err(format!(
            "the client failed against {} ({status}):\n{stdout}",
            server.name()
        ));
    }
    let last = stdout.lines().last().unwrap_or("");
    let (rate, p50_us, p99_us) =
        parse_client_line(last).ok_or_else(|| format!("cannot read the client's line {last:?}"))?;
    let requests = stdout
        .lines()
        .find_map(|line| line.strip_prefix("requests: "))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(rate * duration);
    Ok(Sample {
        rate,
        p50_us,
        p99_us,
        cpu_us: server_cpu * 1e6 / requests.max(1.0),
        client_cpu_us: client_cpu * 1e6 / requests.max(1.0),
        other_load: ((busy - server_cpu - client_cpu) / wall).max(0.0),
    })
}

fn wait_until_accepting(child: &mut Child, port: u16, server: Server) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the {} server exited ({status})", server.name()));
        }
        if is_accepting(port) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "the {} server did not start listening",
                server.name()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Parses `requests/s: R  p50: L us  p99: L us`.
fn parse_client_line(line: &str) -> Option<(f64, f64, f64)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |key: &str| -> Option<f64> {
        let at = words.iter().position(|w| *w == key)?;
        words.get(at + 1)?.parse().ok()
    };
    Some((after("requests/s:")?, after("p50:")?, after("p99:")?))
}

/// User plus system CPU time of process `pid` (all its threads), in seconds.
fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The fields after the command name, which is in parentheses: utime and
    // stime are fields 14 and 15 of the line, so 12th and 13th here.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok((user + system) as f64 / TICKS_PER_SECOND),
        _ => Err(format!("cannot read the CPU times in /proc/{pid}/stat")),
    }
}

/// Waits (at most `QUIET_PATIENCE`) until the rest of the machine uses no
/// more than `limit` cores, measured over half a second.
fn wait_for_quiet(limit: f64) {
    let start = Instant::now();
    let mut said = false;
    loop {
        let (Ok(before), t0) = (busy_seconds(), Instant::now()) else {
            return;
        };
        thread::sleep(Duration::from_millis(500));
        let Ok(after) = busy_seconds() else { return };
        let load = (after - before) / t0.elapsed().as_secs_f64();
        if load <= limit {
            return;
        }
        if start.elapsed() > QUIET_PATIENCE {
            eprintln!("  (still {load:.2} cores busy after {QUIET_PATIENCE:?}: going on)");
            return;
        }
        if !said {
            eprintln!("  (other work uses {load:.2} cores: waiting for the machine to go quiet)");
            said = true;
        }
    }
}

/// Busy CPU time of the whole machine so far (every state but idle and
/// waiting for IO), in seconds.
fn busy_seconds() -> Result<f64, String> {
    let stat = std::fs::read_to_string("/proc/stat")
        .map_err(|e| format!("cannot read /proc/stat: {e}"))?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already counted in user).
    if ticks.len() < 8 {
        return Err("cannot read the CPU times in /proc/stat".into());
    }
    let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7];
    Ok(busy as f64 / TICKS_PER_SECOND)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn print_tables(options: &Options, results: &[(usize, Vec<Vec<Sample>>)], redone: usize) {
    let medians =
        |samples: &[Sample], f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    let servers = &options.servers;
    let index = |server: Server| servers.iter().position(|&s| s == server);
    // Ratios of two servers' rates, where both ran.
    let ratios = [
        (Server::Greenlet, Server::Tokio, "greenlet/tokio"),
        (Server::Patched, Server::Greenlet, "std+patch/greenlet"),
        (
            Server::GreenletShared,
            Server::Greenlet,
            "greenlet-shared/greenlet",
        ),
        (
            Server::GreenletShared,
            Server::GreenletPrivate,
            "greenlet-shared/greenlet-private",
        ),
        (
            Server::GreenletWorkers,
            Server::Greenlet1Worker,
            SCALING_RATIOS[0].0,
        ),
        (
            Server::GreenletWorkers,
            Server::TokioMt,
            SCALING_RATIOS[1].0,
        ),
    ];
    let ratios: Vec<(usize, usize, &str)> = ratios
        .iter()
        .filter_map(|&(a, b, name)| Some((index(a)?, index(b)?, name)))
        .collect();
    let work = match options.work.as_micros() {
        0 => String::new(),
        micros => format!(", {micros} µs of compute per message"),
    };
    let both: Vec<&str> = servers
        .iter()
        .filter(|s| s.cores() != "0")
        .map(|s| s.name())
        .collect();
    let pinning = if both.is_empty() {
        "server on core 0, client on core 1".to_string()
    } else {
        format!(
            "{} on cores 0 and 1, any other server on core 0; client on core 1",
            both.join(" and ")
        )
    };
    println!();
    println!(
        "Echo round trips, {MESSAGE_SIZE}-byte messages{work}, {} s per run, median of {} \
         interleaved runs ({pinning})",
        options.duration, options.repeats
    );
    println!();
    let names: Vec<&str> = servers.iter().map(|s| s.name()).collect();
    print!("| connections |");
    for name in &names {
        print!(" {name} req/s | {name} p99 |");
    }
    for (_, _, name) in &ratios {
        print!(" {name} |");
    }
    println!();
    println!(
        "|---:|{}{}",
        "---:|---:|".repeat(names.len()),
        "---:|".repeat(ratios.len())
    );
    for (connections, samples) in results {
        let rate: Vec<f64> = samples.iter().map(|s| medians(s, |s| s.rate)).collect();
        let p99: Vec<f64> = samples.iter().map(|s| medians(s, |s| s.p99_us)).collect();
        print!("| {} |", thousands(*connections as f64));
        for (rate, p99) in rate.iter().zip(&p99) {
            print!(" {} | {p99:.0} µs |", thousands(*rate));
        }
        for &(a, b, _) in &ratios {
            print!(" {:.2}× |", rate[a] / rate[b]);
        }
        println!();
    }
    // The scaling run's verdict: each ratio at each connection count, beside
    // the issue's target.
    let mut said = false;
    for &(a, b, name) in &ratios {
        let Some(&(_, target)) = SCALING_RATIOS.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if !said {
            println!();
            said = true;
        }
        let at: Vec<String> = results
            .iter()
            .map(|(connections, samples)| {
                let ratio = medians(&samples[a], |s| s.rate) / medians(&samples[b], |s| s.rate);
                let verdict = if ratio >= target { "met" } else { "missed" };
                format!(
                    "{ratio:.2}× at {} connections ({verdict})",
                    thousands(*connections as f64)
                )
            })
            .collect();
        println!(
            "Scaling, {name} (median req/s): {}; target ≥ {target:.1}×.",
            at.join(", ")
        );
    }
    println!();
    println!("Medians of p50 latency and of server CPU time (user + system) per request:");
    println!();
    print!("| connections |");
    for name in &names {
        print!(" {name} p50 |");
    }
    for name in &names {
        print!(" {name} CPU/req |");
    }
    println!();
    println!("|---:|{}", "---:|".repeat(2 * names.len()));
    for (connections, samples) in results {
        let p50: Vec<f64> = samples.iter().map(|s| medians(s, |s| s.p50_us)).collect();
        let cpu: Vec<f64> = samples.iter().map(|s| medians(s, |s| s.cpu_us)).collect();
        print!("| {} |", thousands(*connections as f64));
        for p50 in &p50 {
            print!(" {p50:.0} µs |");
        }
        for cpu in &cpu {
            print!(" {cpu:.2} µs |");
        }
        println!();
    }
    let worst = results
        .iter()
        .flat_map(|(_, samples)| samples.iter().flatten())
        .map(|s| s.other_load)
        .fold(0.0, f64::max);
    println!();
    println!(
        "Runs repeated because other work took more than {} cores: {redone}. Largest other \
         load in a kept run: {worst:.2} cores.",
        options.max_other_load
    );
}

/// `123456.7` as `123,457`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Thread-per-connection echo server on `std::net`. The listener is made by
/// mio (already a dependency of the crate) for its backlog of 1024: std's 128
/// drops SYNs in a burst of connects, which then wait a second to retry.
fn serve_threads(addr: &str, work: Duration) -> io::Result<()> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener: std::net::TcpListener = mio::net::TcpListener::bind(addr)?.into();
    listener.set_nonblocking(false)?;
    loop {
        let (stream, _) = listener.accept()?;
        thread::spawn(move || {
            let _ = echo_std(stream, work);
        });
    }
}

/// The thread server's code, unmodified, under `greenlet::monkey::patch_all`:
/// one greenlet per connection instead of a thread (the accept loop runs in
/// a greenlet too, since a std call in the root context blocks the thread).
fn serve_patched(addr: &str, work: Duration) -> io::Result<()> {
    greenlet::monkey::patch_all();
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener: std::net::TcpListener = mio::net::TcpListener::bind(addr)?.into();
    listener.set_nonblocking(false)?;
    let accept_loop = greenlet::spawn(move || -> io::Result<()> {
        loop {
            let (stream, _) = listener.accept()?;
            greenlet::spawn(move || {
                let _ = echo_std(stream, work);
            });
        }
    });
    accept_loop
        .join()
        .map_err(|e| io::Error::other(e.to_string()))?
}

fn echo_std(mut stream: TcpStream, work: Duration) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        compute(work);
        stream.write_all(&buf[..n])?;
    }
}

/// Keeps this thread's CPU busy for `work` (the request's own work): the
/// `echo_server` example's `compute`, copied, so that every server does the
/// same.
fn compute(work: Duration) {
    if work.is_zero() {
        return;
    }
    let end = Instant::now() + work;
    let mut x = 1u64;
    while Instant::now() < end {
        for _ in 0..64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

/// tokio `current_thread` echo server, a task per connection. tokio's
/// `TcpListener::bind` listens with a backlog of 1024.
fn serve_tokio(addr: &str, work: Duration) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(accept_tokio(addr, work))
}

/// tokio `multi_thread` echo server on two worker threads (which steal each
/// other's tasks), a task per connection.
fn serve_tokio_mt(addr: &str, work: Duration) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()?;
    runtime.block_on(accept_tokio(addr, work))
}

/// The tokio servers' accept loop: a task per connection, echoing after
/// `work` of computing for each read.
async fn accept_tokio(addr: &str, work: Duration) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if stream.set_nodelay(true).is_err() {
                return;
            }
            let mut buf = [0u8; 16 * 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        compute(work);
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}
