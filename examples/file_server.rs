//! SEEDS.md row 13: a long-running agent that serves the files under a
//! directory over HTTP, with a 404 page for missing files.
//!
//! A `StreamServer` serves each connection in its own greenlet: it reads
//! one HTTP/1.0-style request (`GET` or `HEAD`), answers it and closes the
//! connection. The answer carries the file's `Content-Length` and a
//! `Content-Type` guessed from its extension; a directory gets its
//! `index.html` or a listing. Bad input never panics: a malformed request
//! gets 400, a head over 8 KiB 431, an unknown method 501, a missing file
//! 404, and a path that tries to leave the root (a `..` component, an
//! absolute path such as `//etc/passwd`, percent-escaped or not, or a
//! symbolic link pointing outside) 403.
//!
//! The whole request head must arrive within the request timeout (10 s,
//! or `--request-timeout-ms`) of the connection's start, however it is cut
//! up: a client that sends a byte every few seconds ("slowloris") gets 408
//! when that time is up, not a fresh wait after each byte.
//!
//! Files are read with `greenlet::threadpool::spawn_blocking`, not plain
//! `std::fs` in the greenlet: a regular file is never "not ready" to the
//! kernel's readiness API, so a read that goes to a slow or cold disk would
//! block the whole thread, and with it every other connection. Paths are
//! resolved there too (`canonicalize` reads the disk as well).
//!
//! `--demo` serves a small directory it makes under the system's temporary
//! directory, sends a few good and bad requests, checks the answers, prints
//! them, removes the directory and exits (1 if a check failed).
//!
//! Run: `cargo run --release --example file_server -- [--root DIR] [--addr HOST:PORT]
//! [--request-timeout-ms MS]`
//! (then `curl -i http://127.0.0.1:8080/README.md`), or `... -- --demo`.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::process::exit;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::net::{Shutdown, TcpStream};
use greenlet::server::StreamServer;
use greenlet::threadpool::spawn_blocking;

const USAGE: &str = "\
usage: cargo run --release --example file_server -- [--root DIR] [--addr HOST:PORT]
           [--request-timeout-ms MS] [--demo]

  --root DIR                the directory to serve (default .)
  --addr HOST:PORT          the address to listen on (default 127.0.0.1:8080, or
                            a free port with --demo; port 0 picks a free one,
                            printed)
  --request-timeout-ms MS   how long a client has from connecting to the end of
                            its request line and headers, in all; later it gets
                            408 (default 10000)
  --demo                    serve a small temporary directory, send a few
                            requests, check the answers and exit";

/// The most bytes a request line and its headers may take together.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client has from connecting to the end of its request head,
/// however many reads that takes, unless told otherwise (see
/// [`handle_with_request_timeout`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to take a chunk of the answer.
const PATIENCE: Duration = Duration::from_secs(10);
/// The size of the pieces a file is read and sent in.
const CHUNK: usize = 64 * 1024;
/// How long a closing connection waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(2);

/// An HTTP status this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200
    Ok,
    /// 400: the request is not HTTP as this server speaks it.
    BadRequest,
    /// 403: the path would leave the root, or may not be read.
    Forbidden,
    /// 404
    NotFound,
    /// 408: the request did not arrive in time.
    RequestTimeout,
    /// 431: the request line and headers are over [`MAX_HEAD`].
    HeadTooLarge,
    /// 500: reading the file failed.
    InternalError,
    /// 501: a method other than GET and HEAD.
    NotImplemented,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::RequestTimeout => 408,
            Status::HeadTooLarge => 431,
            Status::InternalError => 500,
            Status::NotImplemented => 501,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::RequestTimeout => "Request Timeout",
            Status::HeadTooLarge => "Request Header Fields Too Large",
            Status::InternalError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
        }
    }
}

/// A parsed request line: the method (GET or HEAD) and the path, with the
/// query and fragment removed and percent-escapes decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub head_only: bool,
    pub path: String,
}

/// What one connection got, for the access log.
#[derive(Debug)]
pub struct Served {
    pub request_line: String,
    pub status: Status,
    pub body_bytes: u64,
}

/// `dir` made absolute and free of links, checked to be a directory: the
/// form of root that [`handle`] and [`resolve`] expect.
pub fn canonical_root(dir: &Path) -> io::Result<PathBuf> {
    let root = dir.canonicalize()?;
    if !root.is_dir() {
        return Err(io::Error::new(
            ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ));
    }
    Ok(root)
}

/// Reads one request from `stream`, answers it from the files under `root`
/// (see [`canonical_root`]) and returns what was served. The caller closes
/// the connection. An error is one of the connection itself (the client
/// went away), after which nothing more can be sent.
pub fn handle(stream: &TcpStream, root: &Path) -> io::Result<Served> {
    handle_with_request_timeout(stream, root, REQUEST_TIMEOUT)
}

/// As [`handle`], with `request_timeout` instead of [`REQUEST_TIMEOUT`]:
/// the request line and headers must all have arrived that long after the
/// call, or the answer is 408.
pub fn handle_with_request_timeout(
    stream: &TcpStream,
    root: &Path,
    request_timeout: Duration,
) -> io::Result<Served> {
    let deadline = Instant::now() + request_timeout;
    let served = answer_request(stream, root, deadline)?;
    linger(stream);
    Ok(served)
}

fn answer_request(stream: &TcpStream, root: &Path, deadline: Instant) -> io::Result<Served> {
    stream.set_write_timeout(Some(PATIENCE))?;
    let head = match read_head(stream, deadline) {
        Ok(head) => head,
        Err(status) => {
            let body_bytes = send_page(stream, status, false)?;
            return Ok(Served {
                request_line: String::from("-"),
                status,
                body_bytes,
            });
        }
    };
    let request_line = first_line(&head);
    let (status, body_bytes) = match parse_request(&head) {
        Ok(request) => answer(stream, root, &request)?,
        Err(status) => (status, send_page(stream, status, false)?),
    };
    Ok(Served {
        request_line,
        status,
        body_bytes,
    })
}

/// Ends the answer with a FIN and reads what the client still sends until
/// it closes too (for at most [`LINGER`]). Closing a socket with unread
/// input (the rest of an oversized head, say) would send a reset, which may
/// destroy the answer before the client has read it.
fn linger(stream: &TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() || stream.set_read_timeout(Some(LINGER)).is_err() {
        return;
    }
    let mut buf = [0u8; 4096];
    let mut drained = 0;
    while drained < 256 * 1024 {
        match (&*stream).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// The first line of `head`, printable, for the log.
fn first_line(head: &[u8]) -> String {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    line.trim_end_matches('\r').escape_debug().to_string()
}

/// Reads up to the blank line that ends the request head, at most
/// [`MAX_HEAD`] bytes, by `deadline`; returns the head without that blank
/// line.
///
/// Each read may wait only for what is left until `deadline`: a timeout per
/// read would let a client that sends a byte now and then hold the
/// connection for as long as it likes.
fn read_head(stream: &TcpStream, deadline: Instant) -> Result<Vec<u8>, Status> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() >= MAX_HEAD {
            return Err(Status::HeadTooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Status::RequestTimeout);
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            return Err(Status::InternalError);
        }
        let room = buf.len().min(MAX_HEAD - head.len());
        match (&*stream).read(&mut buf[..room]) {
            Ok(0) => return Err(Status::BadRequest), // ended mid-request
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Status::RequestTimeout);
            }
            Err(_) => return Err(Status::BadRequest),
        }
    }
}

/// Where the blank line ending a head starts (`\r\n\r\n` or a bare `\n\n`).
fn head_end(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len())
        .find(|&i| bytes[i..].starts_with(b"\r\n\r\n") || bytes[i..].starts_with(b"\n\n"))
}

/// Parses a request head: `METHOD /path HTTP/1.x`, then `Name: value`
/// headers (checked for shape, otherwise unused).
pub fn parse_request(head: &[u8]) -> Result<Request, Status> {
    let text = std::str::from_utf8(head).map_err(|_| Status::BadRequest)?;
    let mut lines = text.split('\n').map(|line| line.trim_end_matches('\r'));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status::BadRequest);
    };
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(Status::BadRequest);
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Status::BadRequest);
    }
    for header in lines {
        let Some((name, _value)) = header.split_once(':') else {
            return Err(Status::BadRequest);
        };
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(Status::BadRequest);
        }
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Err(Status::NotImplemented),
    };
    // Only origin-form targets ("/path?query"); the query means nothing to
    // a file server.
    if !target.starts_with('/') {
        return Err(Status::BadRequest);
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = percent_decode(path).ok_or(Status::BadRequest)?;
    Ok(Request { head_only, path })
}

/// Decodes `%XX` escapes. `None` for a bad escape, a NUL byte, or a result
/// that is not UTF-8 (so names that are not UTF-8 cannot be served).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None; // from_str_radix alone would take "%+1"
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// The file or directory that the decoded request `path` names under
/// `root` (canonical, see [`canonical_root`]), made canonical itself.
///
/// Refuses (403) a path with a `..` component or an absolute one (`//etc`
/// arrives as `/etc` once the leading `/` is taken off: joined to the root
/// it would replace it), and, since a symbolic link may still lead out, any
/// path whose canonical form is not under `root`. Touches the disk: call it
/// from a blocking-friendly thread.
pub fn resolve(root: &Path, path: &str) -> Result<PathBuf, Status> {
    let relative = path.strip_prefix('/').unwrap_or(path);
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Status::Forbidden);
            }
        }
    }
    let found = root
        .join(relative)
        .canonicalize()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::NotADirectory => Status::NotFound,
            ErrorKind::PermissionDenied => Status::Forbidden,
            _ => Status::NotFound,
        })?;
    if !found.starts_with(root) {
        return Err(Status::Forbidden);
    }
    Ok(found)
}

/// What a request resolved to.
enum Body {
    File { file: File, len: u64, path: PathBuf },
    Page(String),
}

/// Answers a well-formed request; returns the status and the body bytes sent.
fn answer(stream: &TcpStream, root: &Path, request: &Request) -> io::Result<(Status, u64)> {
    let (root, path) = (root.to_path_buf(), request.path.clone());
    match spawn_blocking(move || open(&root, &path)) {
        Err(status) => Ok((status, send_page(stream, status, request.head_only)?)),
        Ok(Body::Page(html)) => {
            send_head(
                stream,
                Status::Ok,
                "text/html; charset=utf-8",
                html.len() as u64,
            )?;
            if !request.head_only {
                (&*stream).write_all(html.as_bytes())?;
            }
            Ok((Status::Ok, html.len() as u64))
        }
        Ok(Body::File { file, len, path }) => {
            send_head(stream, Status::Ok, content_type(&path), len)?;
            if request.head_only {
                return Ok((Status::Ok, 0));
            }
            Ok((Status::Ok, send_file(stream, file, len)?))
        }
    }
}

/// Resolves and opens what `path` names: a file, a directory's
/// `index.html`, or a listing of the directory. Runs on a pool thread.
fn open(root: &Path, path: &str) -> Result<Body, Status> {
    let mut found = resolve(root, path)?;
    if found.is_dir() {
        let index = found.join("index.html");
        if !index.is_file() {
            return listing(root, &found).map(Body::Page);
        }
        // It may be a link too.
        found = index.canonicalize().map_err(|_| Status::NotFound)?;
        if !found.starts_with(root) {
            return Err(Status::Forbidden);
        }
    }
    // Checked before opening: opening a FIFO would wait for a writer.
    if !found.metadata().is_ok_and(|meta| meta.is_file()) {
        return Err(Status::Forbidden); // a device, a socket, a FIFO
    }
    let file = File::open(&found).map_err(|e| match e.kind() {
        ErrorKind::PermissionDenied => Status::Forbidden,
        ErrorKind::NotFound => Status::NotFound,
        _ => Status::InternalError,
    })?;
    let len = file.metadata().map_err(|_| Status::InternalError)?.len();
    Ok(Body::File {
        file,
        len,
        path: found,
    })
}

/// An HTML list of the entries of `dir`, linked by absolute path.
fn listing(root: &Path, dir: &Path) -> Result<String, Status> {
    let relative = dir.strip_prefix(root).map_err(|_| Status::Forbidden)?;
    let mut base = String::from("/");
    for part in relative.iter() {
        base.push_str(&percent_encode(&part.to_string_lossy()));
        base.push('/');
    }
    let mut names: Vec<(String, bool)> = fs::read_dir(dir)
        .map_err(|_| Status::Forbidden)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?; // only UTF-8 names can be asked for
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            Some((name, is_dir))
        })
        .collect();
    names.sort();
    let title = html_escape(&format!("/{}", relative.display()));
    let mut html = format!("<!DOCTYPE html>\n<title>{title}</title>\n<h1>{title}</h1>\n<ul>\n");
    for (name, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        let _ = writeln!(
            html,
            "<li><a href=\"{base}{}{slash}\">{}{slash}</a></li>",
            percent_encode(&name),
            html_escape(&name)
        );
    }
    html.push_str("</ul>\n");
    Ok(html)
}

/// Sends the file's `len` bytes, a chunk at a time, each read on a pool
/// thread. A file that shrank meanwhile ends the body early (the client,
/// told the full length, sees the answer is cut short).
fn send_file(stream: &TcpStream, mut file: File, len: u64) -> io::Result<u64> {
    let mut sent = 0;
    let mut buf = vec![0u8; CHUNK];
    while sent < len {
        let want = (len - sent).min(CHUNK as u64) as usize;
        let (back_file, back_buf, read) = spawn_blocking(move || {
            let read = file.read(&mut buf[..want]);
            (file, buf, read)
        });
        (file, buf) = (back_file, back_buf);
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("reading a file: {e}");
                break;
            }
        };
        (&*stream).write_all(&buf[..n])?;
        sent += n as u64;
    }
    Ok(sent)
}

fn send_head(stream: &TcpStream, status: Status, content_type: &str, len: u64) -> io::Result<()> {
    let head = format!(
        "HTTP/1.0 {} {}\r\nServer: greenlet-file-server\r\nContent-Type: {content_type}\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n",
        status.code(),
        status.reason()
    );
    (&*stream).write_all(head.as_bytes())
}

/// Sends a small HTML page for `status`; returns its body length.
fn send_page(stream: &TcpStream, status: Status, head_only: bool) -> io::Result<u64> {
    let text = match status {
        Status::NotFound => "There is no such file here.",
        Status::Forbidden => "That path is outside what this server shows.",
        _ => status.reason(),
    };
    let body = format!(
        "<!DOCTYPE html>\n<title>{code} {reason}</title>\n<h1>{code} {reason}</h1>\n<p>{text}</p>\n",
        code = status.code(),
        reason = status.reason()
    );
    send_head(
        stream,
        status,
        "text/html; charset=utf-8",
        body.len() as u64,
    )?;
    if !head_only {
        (&*stream).write_all(body.as_bytes())?;
    }
    Ok(body.len() as u64)
}

/// The `Content-Type` for a file, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "md" | "rs" | "toml" | "log") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

struct Args {
    root: PathBuf,
    addr: Option<String>,
    request_timeout: Duration,
    demo: bool,
}

/// Parses the arguments; prints `--help`, or rejects a bad one with exit code 2.
fn parse_args() -> Args {
    let mut parsed = Args {
        root: PathBuf::from("."),
        addr: None,
        request_timeout: REQUEST_TIMEOUT,
        demo: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage_error(&format!("{name} needs a value")))
        };
        match name.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--root" => parsed.root = PathBuf::from(value()),
            "--addr" => parsed.addr = Some(value()),
            "--request-timeout-ms" => {
                let text = value();
                parsed.request_timeout = match text.parse::<u64>() {
                    Ok(ms) if ms > 0 => Duration::from_millis(ms),
                    _ => usage_error(&format!(
                        "--request-timeout-ms needs a whole number of milliseconds above 0, not {text:?}"
                    )),
                };
            }
            "--demo" if inline.is_none() => parsed.demo = true,
            _ => usage_error(&format!("unknown argument {arg:?}")),
        }
    }
    parsed
}

fn usage_error(message: &str) -> ! {
    eprintln!("file_server: {message}\n{USAGE}");
    exit(2);
}

/// Serves `root` on `addr` until the process ends, logging each request.
fn serve(addr: &str, root: PathBuf, request_timeout: Duration) -> io::Result<()> {
    let root = Rc::new(root);
    let server = {
        let root = root.clone();
        StreamServer::bind(addr, move |stream, peer| {
            log_request(
                peer,
                handle_with_request_timeout(&stream, &root, request_timeout),
            );
        })?
    };
    let local = server.local_addr()?;
    println!("file_server: serving {} on http://{local}/", root.display());
    server.serve_forever();
    Ok(())
}

fn log_request(peer: SocketAddr, served: io::Result<Served>) {
    match served {
        Ok(s) => println!(
            "{peer} \"{}\" {} {}",
            s.request_line,
            s.status.code(),
            s.body_bytes
        ),
        Err(e) => println!("{peer} connection error: {e}"),
    }
}

/// A directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Sends `request` raw and returns the status code and body of the answer.
fn fetch(addr: SocketAddr, request: &[u8]) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let end = head_end(&answer).ok_or_else(|| io::Error::other("no blank line after the head"))?;
    let status = answer
        .get(9..12)
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("no status code"))?;
    let body_start = if answer[end..].starts_with(b"\r\n\r\n") {
        end + 4
    } else {
        end + 2
    };
    Ok((status, answer[body_start..].to_vec()))
}

fn demo() -> io::Result<bool> {
    let base = std::env::temp_dir().join(format!("greenlet-file-server-{}", std::process::id()));
    let _cleanup = TempDir(base.clone());
    let site = base.join("site");
    fs::create_dir_all(site.join("docs"))?;
    fs::write(site.join("hello.txt"), "hello, world\n")?;
    fs::write(site.join("docs").join("page.html"), "<p>a page</p>\n")?;
    fs::write(base.join("secret.txt"), "outside the root\n")?;
    let root = canonical_root(&site)?;

    let server = {
        let root = root.clone();
        StreamServer::bind("127.0.0.1:0", move |stream, peer| {
            log_request(peer, handle(&stream, &root));
        })?
    };
    let addr = server.local_addr()?;
    server.start();
    println!("serving {} on http://{addr}/", root.display());

    // (request, status expected, body expected if it matters)
    type Case = (&'static [u8], u16, Option<&'static [u8]>);
    let cases: [Case; 10] = [
        (
            b"GET /hello.txt HTTP/1.0\r\n\r\n",
            200,
            Some(b"hello, world\n"),
        ),
        (
            b"GET /docs/page.html?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
            Some(b"<p>a page</p>\n"),
        ),
        (b"HEAD /hello.txt HTTP/1.0\r\n\r\n", 200, Some(b"")),
        (b"GET /missing.txt HTTP/1.0\r\n\r\n", 404, None),
        (b"GET /../secret.txt HTTP/1.0\r\n\r\n", 403, None),
        (
            b"GET /docs/%2e%2e/%2e%2e/secret.txt HTTP/1.0\r\n\r\n",
            403,
            None,
        ),
        (b"GET //etc/passwd HTTP/1.0\r\n\r\n", 403, None),
        (b"GET /bad%zz HTTP/1.0\r\n\r\n", 400, None),
        (b"hello there\r\n\r\n", 400, None),
        (b"DELETE /hello.txt HTTP/1.0\r\n\r\n", 501, None),
    ];
    let mut all_good = true;
    for (request, want_status, want_body) in cases {
        let shown =
            String::from_utf8_lossy(request.split(|&b| b == b'\r').next().unwrap_or(request))
                .into_owned();
        let (status, body) = fetch(addr, request)?;
        let good = status == want_status && want_body.is_none_or(|want| body == want);
        all_good &= good;
        println!(
            "  {:<50} -> {status} ({} bytes) {}",
            format!("{shown:?}"),
            body.len(),
            if good { "as expected" } else { "WRONG" }
        );
    }
    // A head that never ends is cut off at MAX_HEAD.
    let mut huge = b"GET /hello.txt HTTP/1.0\r\n".to_vec();
    while huge.len() <= MAX_HEAD {
        huge.extend_from_slice(b"X-Padding: 0123456789abcdef0123456789abcdef\r\n");
    }
    let (status, _) = fetch(addr, &huge)?;
    println!(
        "  {:<50} -> {status} {}",
        format!("a {} byte head", huge.len()),
        if status == 431 {
            "as expected"
        } else {
            "WRONG"
        }
    );
    all_good &= status == 431;
    server.stop();
    Ok(all_good)
}

fn main() {
    let args = parse_args();
    env_logger::init();
    if args.demo {
        match demo() {
            Ok(true) => println!("ok"),
            Ok(false) => {
                println!("FAILED");
                exit(1);
            }
            Err(e) => {
                eprintln!("file_server: demo: {e}");
                exit(1);
            }
        }
        return;
    }
    let root = match canonical_root(&args.root) {
        Ok(root) => root,
        Err(e) => {
            eprintln!("file_server: cannot serve {}: {e}", args.root.display());
            exit(2);
        }
    };
    let addr = args.addr.unwrap_or_else(|| String::from("127.0.0.1:8080"));
    if let Err(e) = serve(&addr, root, args.request_timeout) {
        eprintln!("file_server: cannot listen on {addr}: {e}");
        exit(1);
    }
}
