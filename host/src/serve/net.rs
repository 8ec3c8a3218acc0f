//! `verge serve`'s network side: hyper's HTTP/1.1 server on a tokio runtime.
//!
//! Parsing, keep-alive, `Expect: 100-continue`, `HEAD` and the framing rules of
//! RFC 9112 are hyper's, tested by far more users than a server of our own. What
//! is verge's, each bounded:
//!
//! | rule | limit | answer |
//! |---|---|---|
//! | the head (request line + headers) arrives in time, idle keep-alive included | [`NetLimits::header_deadline`] | connection closed (hyper) |
//! | the head's size and header count | [`NetLimits::max_head_bytes`], [`NetLimits::max_headers`] | 431 (hyper) |
//! | an HTTP/1.1 request names its `Host` | — | 400 |
//! | a body has a `Content-Length` (no chunked uploads) | — | 411 |
//! | the body fits the limit the [`Admit`] hook picks, judged on the head | per request | 413 before reading |
//! | the whole body arrives in time, and as long as it said | [`NetLimits::body_deadline`] | 408 / 400 |
//! | open connections | [`NetLimits::max_connections`] | new ones closed at once |
//!
//! Each connection is a task, so an idle or slow client holds a few kilobytes,
//! never a thread: keep-alive clients are scheduled fairly by tokio, and a new
//! client is answered however many slow ones are open. Requests are answered by
//! a pool of handlers (one per `--threads`, each owning its Wasm instance) on
//! tokio's blocking threads; a request waits for a free handler, not for a
//! connection to close. `SIGTERM` or `SIGINT` stops accepting, lets requests in
//! flight finish (at most [`NetLimits::shutdown_grace`]) and returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue, TRANSFER_ENCODING,
};
use hyper::{Method, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Semaphore;

use super::http::{Admit, Answer, Request, error_body};

/// The network limits; [`Default`] is what `verge serve` uses.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `header_deadline` | 10 s | a whole head must arrive within this of the connection (or the previous answer) |
/// | `body_deadline` | 30 s | a whole body must arrive within this of its head |
/// | `max_head_bytes` | 16 KiB | request line + headers |
/// | `max_headers` | 100 | headers in one request |
/// | `max_connections` | 10,000 | open connections; more are closed on accept |
/// | `shutdown_grace` | 10 s | how long requests in flight may take after `SIGTERM` |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetLimits {
    /// Deadline for a request's head, idle keep-alive time included.
    pub header_deadline: Duration,
    /// Deadline for a request's body, from its head.
    pub body_deadline: Duration,
    /// Largest request head.
    pub max_head_bytes: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Most open connections.
    pub max_connections: usize,
    /// Time given to requests in flight on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for NetLimits {
    fn default() -> NetLimits {
        NetLimits {
            header_deadline: Duration::from_secs(10),
            body_deadline: Duration::from_secs(30),
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Connections the kernel queues for accept (capped by `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 4096;

/// Handlers, each used by one request at a time.
struct Pool<H> {
    free: Mutex<Vec<H>>,
    permits: Semaphore,
}

/// What every connection's service shares.
struct Shared<H> {
    pool: Pool<H>,
    admit: Arc<Admit>,
    limits: NetLimits,
}

type Reply = Response<Full<Bytes>>;

/// Serves `listener` with `handlers` until `SIGTERM` or `SIGINT`, on a tokio
/// runtime with `threads` workers.
///
/// # Errors
///
/// When the runtime cannot start or the listener cannot be handed to it.
pub fn run<H>(
    listener: TcpListener,
    threads: usize,
    admit: Arc<Admit>,
    handlers: Vec<H>,
    limits: NetLimits,
) -> anyhow::Result<()>
where
    H: FnMut(&Request) -> Answer + Send + 'static,
{
    run_until(
        listener,
        threads,
        admit,
        handlers,
        limits,
        shutdown_signal(),
    )
}

/// [`run`], stopping when `stop` completes instead of on a signal.
///
/// # Errors
///
/// As [`run`].
pub fn run_until<H>(
    listener: TcpListener,
    threads: usize,
    admit: Arc<Admit>,
    handlers: Vec<H>,
    limits: NetLimits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    H: FnMut(&Request) -> Answer + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("verge-serve")
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    let shared = Arc::new(Shared {
        pool: Pool {
            permits: Semaphore::new(handlers.len()),
            free: Mutex::new(handlers),
        },
        admit,
        limits,
    });
    // std listens with a backlog of 128: a burst of new connections (a
    // thousand clients arriving at once) would overflow it and wait out SYN
    // retransmits. Listening again on Linux raises the backlog in place.
    socket2::SockRef::from(&listener)
        .listen(LISTEN_BACKLOG)
        .context("cannot raise the listen backlog")?;
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .context("cannot hand the listener to tokio")?;
        serve(listener, shared, stop).await;
        Ok(())
    })
}

/// Resolves on `SIGTERM` or `SIGINT` (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The accept loop: one task per connection, at most `max_connections`.
async fn serve<H>(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared<H>>,
    stop: impl Future<Output = ()>,
) where
    H: FnMut(&Request) -> Answer + Send + 'static,
{
    let limits = shared.limits;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_deadline)
        .max_headers(limits.max_headers)
        .max_header_size(limits.max_head_bytes)
        // hyper's read buffer must hold a whole head; its floor is 8 KiB.
        .max_buf_size(limits.max_head_bytes.max(8192) * 2);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors and the like: back off, keep serving.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            continue; // over the limit: dropping the stream closes it
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let service = hyper::service::service_fn(move |request| {
            let shared = Arc::clone(&shared);
            async move { Ok::<_, Infallible>(respond(request, &shared).await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {}
    }
}

/// One request: the checks on its head, its body, then a handler's answer.
async fn respond<H>(request: hyper::Request<Incoming>, shared: &Shared<H>) -> Reply
where
    H: FnMut(&Request) -> Answer + Send + 'static,
{
    let keep_alive = wants_keep_alive(&request);
    let (parts, body) = request.into_parts();
    if parts.version == Version::HTTP_11 && !parts.headers.contains_key(HOST) {
        return refusal(
            400,
            "an HTTP/1.1 request must name its Host (RFC 9112, 3.2)",
        );
    }
    if parts.headers.contains_key(TRANSFER_ENCODING) {
        return refusal(
            411,
            "chunked bodies are not accepted; send a content-length",
        );
    }
    let mut head = Request {
        // HEAD is answered as GET; hyper sends the head without the body.
        method: if parts.method == Method::HEAD {
            "GET".to_owned()
        } else {
            parts.method.as_str().to_owned()
        },
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
    };
    let max_body = match (shared.admit)(&head) {
        Ok(max) => max,
        Err(answer) => return reply(answer, false),
    };
    // hyper has already refused a malformed or conflicting Content-Length.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    if declared > max_body as u64 {
        let message = format!("request body is {declared} bytes; the limit is {max_body}");
        return refusal(413, &message);
    }
    head.body = match read_body(body, max_body, shared.limits.body_deadline).await {
        Ok(bytes) => bytes,
        Err(answer) => return reply(answer, false),
    };
    let answer = answer_with_pool(&shared.pool, head).await;
    reply(answer, keep_alive)
}

/// The whole body within the deadline and the limit.
async fn read_body(body: Incoming, max: usize, deadline: Duration) -> Result<Vec<u8>, Answer> {
    match tokio::time::timeout(deadline, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err((
            413,
            error_body(
                413,
                &format!("request body is over the limit of {max} bytes"),
            ),
        )),
        Ok(Err(_)) => Err((
            400,
            error_body(400, "the request body ended before its content-length"),
        )),
        Err(_) => Err((
            408,
            error_body(
                408,
                &format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs()
                ),
            ),
        )),
    }
}

/// Bodies up to this size are answered on the connection's own worker; larger
/// ones, whose work grows with their rows and features, on a blocking thread,
/// so a big request never holds up the workers' other connections. 1 KiB holds
/// a lookup of a few entities by a few dozen features.
const INLINE_BODY_BYTES: usize = 1024;

/// Runs a free handler (inline for a small request, else on a blocking
/// thread), and puts it back.
async fn answer_with_pool<H>(pool: &Pool<H>, request: Request) -> Answer
where
    H: FnMut(&Request) -> Answer + Send + 'static,
{
    let Ok(_permit) = pool.permits.acquire().await else {
        return (503, error_body(503, "the server is shutting down"));
    };
    let Some(mut handler) = pool
        .free
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop()
    else {
        return (
            500,
            error_body(500, "internal: no free handler under a permit"),
        );
    };
    let outcome = if request.body.len() <= INLINE_BODY_BYTES {
        // A small request (one entity's lookup, a health check) costs a few
        // microseconds of CPU: answering it on this worker saves the two
        // thread hand-offs of a blocking task, which cost as much again.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            (handler(&request), handler)
        }))
        .map_err(drop)
    } else {
        tokio::task::spawn_blocking(move || (handler(&request), handler))
            .await
            .map_err(drop)
    };
    match outcome.map(|(answer, handler)| (handler, answer)) {
        Ok((handler, answer)) => {
            pool.free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(handler);
            answer
        }
        // The handler panicked (it is built not to): it is gone, and so is
        // one permit, so the pool shrinks rather than serving from a bad state.
        Err(_) => {
            pool.permits.forget_permits(1);
            (
                500,
                error_body(500, "internal: the request's handler failed"),
            )
        }
    }
}

/// Whether the client keeps the connection open after this request.
fn wants_keep_alive<B>(request: &hyper::Request<B>) -> bool {
    let connection = request
        .headers()
        .get(CONNECTION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    match request.version() {
        Version::HTTP_11 => !connection.is_some_and(|c| c.contains("close")),
        _ => connection.is_some_and(|c| c.contains("keep-alive")),
    }
}

fn refusal(status: u16, message: &str) -> Reply {
    reply((status, error_body(status, message)), false)
}

/// A JSON answer; `keep_alive` false closes the connection after it (every
/// refusal does, since the body may be unread).
fn reply((status, body): Answer, keep_alive: bool) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CONNECTION,
        HeaderValue::from_static(if keep_alive { "keep-alive" } else { "close" }),
    );
    response
}
