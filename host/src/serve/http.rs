//! A small, bounded HTTP/1.1 server on `std::net`, enough for `verge serve`.
//!
//! Why not a crate: tiny_http 0.12 drains an unread body into a buffer sized by
//! the client's `Content-Length` (one header can abort the process), and hyper
//! brings an async runtime this synchronous, per-thread-instance server does not
//! need. What it does, each bounded:
//!
//! - request line + headers at most [`MAX_HEAD`] bytes (else 431) and
//!   [`MAX_HEADERS`] headers;
//! - bodies only with `Content-Length` (chunked gets 411), refused with 413
//!   *before* reading when the length is over the limit, which the server's
//!   [`Admit`] hook picks per request from its line and headers (and may refuse
//!   the request outright, e.g. a 401 before a large upload is read);
//! - `Expect: 100-continue` answered only for bodies within the limit;
//! - keep-alive with an idle timeout, at most [`MAX_REQUESTS_PER_CONNECTION`];
//! - a fixed pool of threads, each accepting on the shared listener with its own
//!   handler (so each owns its own Wasm instance).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

/// Largest request line + headers.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 100;
/// Requests served on one connection before it is closed.
pub const MAX_REQUESTS_PER_CONNECTION: usize = 10_000;
/// How long an idle keep-alive connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// The headers, names lowercased, in the order sent (at most [`MAX_HEADERS`]).
    pub headers: Vec<(String, String)>,
    /// The body (at most the server's limit).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the first header named `name` (lowercase), if any.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decides, from a request's line and headers (its `body` still empty), the
/// largest body it may send — or refuses it before the body is read.
pub type Admit = dyn Fn(&Request) -> Result<usize, Answer> + Send + Sync;

/// An [`Admit`] hook that allows every request up to `max_body` bytes.
#[must_use]
pub fn admit_all(max_body: usize) -> std::sync::Arc<Admit> {
    std::sync::Arc::new(move |_: &Request| Ok(max_body))
}

/// What a handler answers: a status and a JSON body.
pub type Answer = (u16, Vec<u8>);

/// The JSON error body every verge face uses.
#[must_use]
pub fn error_body(status: u16, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"error": {"status": status, "message": message}}))
        .unwrap_or_default()
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

fn write_answer(
    stream: &mut TcpStream,
    (status, body): &Answer,
    close: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: {}\r\n\r\n",
        reason(*status),
        body.len(),
        if close { "close" } else { "keep-alive" }
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    stream.flush()
}

/// Why a request could not be read.
enum Refusal {
    /// The client went away or idled out: close silently.
    Gone,
    /// Answer with this and close.
    Answer(Answer),
}

fn refuse(status: u16, message: &str) -> Refusal {
    Refusal::Answer((status, error_body(status, message)))
}

/// Reads one request; `Ok((request, keep_alive))`.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    admit: &Admit,
) -> Result<(Request, bool), Refusal> {
    let mut head_bytes = 0usize;
    let mut line = Vec::new();
    let mut read_line = |reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>| {
        line.clear();
        let limit = (MAX_HEAD - head_bytes.min(MAX_HEAD) + 1) as u64;
        match reader.by_ref().take(limit).read_until(b'\n', line) {
            Ok(0) => Err(Refusal::Gone),
            Ok(n) => {
                head_bytes += n;
                if head_bytes > MAX_HEAD || line.last() != Some(&b'\n') {
                    return Err(refuse(
                        431,
                        &format!("the request line and headers exceed {MAX_HEAD} bytes"),
                    ));
                }
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                Ok(())
            }
            Err(_) => Err(Refusal::Gone),
        }
    };
    // Tolerate blank lines before a request (RFC 9112 §2.2).
    loop {
        read_line(reader, &mut line)?;
        if !line.is_empty() {
            break;
        }
    }
    let text = String::from_utf8_lossy(&line).into_owned();
    let mut parts = text.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse(400, "malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(refuse(505, "only HTTP/1.0 and HTTP/1.1 are served")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(refuse(400, "malformed method"));
    }
    let (method, path) = (method.to_string(), path.to_string());
    let mut content_length: Option<usize> = None;
    let mut keep_alive = !http10;
    let mut expect_continue = false;
    let mut headers = Vec::new();
    loop {
        read_line(reader, &mut line)?;
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(refuse(431, &format!("more than {MAX_HEADERS} headers")));
        }
        let header = String::from_utf8_lossy(&line);
        let Some((name, value)) = header.split_once(':') else {
            return Err(refuse(400, "malformed header line"));
        };
        let value = value.trim();
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "content-length" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| refuse(400, "content-length is not a number"))?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(refuse(400, "conflicting content-length headers"));
                }
                content_length = Some(n);
            }
            "transfer-encoding" => {
                return Err(refuse(
                    411,
                    "chunked bodies are not accepted; send a content-length",
                ));
            }
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep_alive = false;
                } else if v.contains("keep-alive") {
                    keep_alive = true;
                }
            }
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
        headers.push((name, value.to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let max_body = admit(&request).map_err(Refusal::Answer)?;
    let length = content_length.unwrap_or(0);
    if length > max_body {
        return Err(refuse(
            413,
            &format!("request body is {length} bytes; the limit is {max_body}"),
        ));
    }
    if expect_continue && length > 0 {
        let stream = reader.get_mut();
        if stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .and_then(|()| stream.flush())
            .is_err()
        {
            return Err(Refusal::Gone);
        }
    }
    let mut body = Vec::with_capacity(length.min(64 * 1024));
    match reader.by_ref().take(length as u64).read_to_end(&mut body) {
        Ok(n) if n == length => {}
        _ => return Err(Refusal::Gone),
    }
    request.body = body;
    Ok((request, keep_alive))
}

/// Serves one connection until it closes, idles out or errs.
fn serve_connection(stream: TcpStream, admit: &Admit, handler: &mut dyn FnMut(&Request) -> Answer) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    for served in 1..=MAX_REQUESTS_PER_CONNECTION {
        match read_request(&mut reader, admit) {
            Ok((request, keep_alive)) => {
                let keep_alive = keep_alive && served < MAX_REQUESTS_PER_CONNECTION;
                let answer = handler(&request);
                if write_answer(&mut writer, &answer, !keep_alive).is_err() || !keep_alive {
                    break;
                }
            }
            Err(Refusal::Gone) => break,
            Err(Refusal::Answer(answer)) => {
                let _ = write_answer(&mut writer, &answer, true);
                // Let the client read the answer before the socket closes: stop
                // writing, then discard (a bounded amount of) what it still sends,
                // so the close does not reset the connection under its read.
                let _ = writer.shutdown(Shutdown::Write);
                let _ = reader
                    .get_mut()
                    .set_read_timeout(Some(Duration::from_millis(200)));
                let mut sink = [0u8; 8192];
                let mut drained = 0usize;
                while drained < 1 << 20 {
                    match reader.get_mut().read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => drained += n,
                    }
                }
                break;
            }
        }
    }
}

/// Runs `threads` workers accepting on `listener`, each with the handler
/// `make_handler(i)` made for it, all admitting requests through `admit`. Returns only if every worker stops (which they
/// do not, barring a failing listener).
///
/// # Errors
///
/// When a handler cannot be made or a thread cannot start.
pub fn run<H>(
    listener: &TcpListener,
    threads: usize,
    admit: &std::sync::Arc<Admit>,
    mut make_handler: impl FnMut(usize) -> anyhow::Result<H>,
) -> anyhow::Result<()>
where
    H: FnMut(&Request) -> Answer + Send + 'static,
{
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads.max(1) {
        let mut handler = make_handler(i)?;
        let listener = listener.try_clone()?;
        let admit = std::sync::Arc::clone(admit);
        workers.push(
            std::thread::Builder::new()
                .name(format!("verge-serve-{i}"))
                .spawn(move || {
                    loop {
                        match listener.accept() {
                            Ok((stream, _)) => serve_connection(stream, &*admit, &mut handler),
                            // Out of descriptors and the like: back off, keep serving.
                            Err(_) => std::thread::sleep(Duration::from_millis(50)),
                        }
                    }
                })?,
        );
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}
