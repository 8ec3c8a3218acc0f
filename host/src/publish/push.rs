//! The admin-endpoint client: `verge publish --url` pushes a pair to a running
//! worker or `verge serve`, and `--rollback --url` asks it to roll back.
//!
//! | request | body | answer |
//! |---|---|---|
//! | `PUT /admin/artifacts` | bundle ‖ snapshot; signatures in [`BUNDLE_SIGNATURE_HEADER`] / [`SNAPSHOT_SIGNATURE_HEADER`] | `{"published": {...}, "previous": {...} or null}` |
//! | `POST /admin/rollback` | empty | the same shape |
//!
//! Both carry `Authorization: Bearer <token>`; the token comes from an
//! environment variable so it never appears in argv (visible to every user in
//! `ps`) or in a message. Plain HTTP only, and only to a loopback address
//! unless the caller allows otherwise: a bearer token sent in clear text over a
//! network can be read by anyone on the path. (Reach a remote worker through a
//! TLS-terminating tunnel on localhost, e.g. `cloudflared access tcp`.)

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value as Json;
use verge_core::artifact::manifest::PublishedPair;

/// The request headers carrying the signatures (128 hex digits): the core's
/// names, which the receivers read.
pub use verge_core::api::admin::{BUNDLE_SIGNATURE_HEADER, SNAPSHOT_SIGNATURE_HEADER};

/// How long a push may wait for the receiver (it hashes and checks the pair).
const TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer read: a JSON status, never an artifact.
const MAX_ANSWER: u64 = 1 << 20;

/// Where to push: a parsed `http://host:port/prefix` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    host: String,
    port: u16,
    /// The path prefix, without a trailing `/` (empty for the root).
    prefix: String,
}

impl Endpoint {
    /// Parses `http://HOST[:PORT][/PREFIX]`.
    ///
    /// # Errors
    ///
    /// Another scheme (https needs a TLS client verge does not carry), a
    /// missing host, a bad port, or user info in the URL.
    pub fn parse(url: &str) -> anyhow::Result<Endpoint> {
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                bail!(
                    "--url {url}: verge pushes over plain HTTP only; reach an https endpoint through a local TLS tunnel and give its http://127.0.0.1:PORT address"
                );
            }
            bail!("--url {url} is not an http:// URL");
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            bail!(
                "--url must not carry credentials; the token comes from the environment (--token-env)"
            );
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .with_context(|| format!("--url {url}: `{p}` is not a port"))?,
            ),
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            bail!("--url {url} has no host");
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    fn addresses(&self) -> anyhow::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", self.host))?
            .collect();
        if addrs.is_empty() {
            bail!("{} resolves to no address", self.host);
        }
        Ok(addrs)
    }

    /// Whether every address the host resolves to is a loopback address.
    ///
    /// # Errors
    ///
    /// When the host cannot be resolved.
    pub fn is_loopback(&self) -> anyhow::Result<bool> {
        Ok(self.addresses()?.iter().all(|a| a.ip().is_loopback()))
    }

    /// Sends one request and reads the answer: `(status, body)`.
    fn send(
        &self,
        method: &str,
        route: &str,
        token: &str,
        headers: &[(&str, String)],
        body: &[&[u8]],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let target = format!("{}{route}", self.prefix);
        let addr = self.addresses()?[0];
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .with_context(|| format!("cannot connect to {addr} (is the server running?)"))?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let length: usize = body.iter().map(|b| b.len()).sum();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nhost: {}:{}\r\ncontent-type: application/octet-stream\r\ncontent-length: {length}\r\nconnection: close\r\n",
            self.host, self.port
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        // The token is written to the socket only: never formatted into a
        // message or an error.
        let mut auth = String::with_capacity(token.len() + 24);
        auth.push_str("authorization: Bearer ");
        auth.push_str(token);
        auth.push_str("\r\n\r\n");
        let sent = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(auth.as_bytes()))
            .and_then(|()| body.iter().try_for_each(|part| stream.write_all(part)))
            .and_then(|()| stream.flush());
        drop(zeroize::Zeroizing::new(auth));
        // A server refusing early (401, 413) may close before the whole body
        // is sent; its answer is still worth reading.
        let answer = read_answer(stream);
        match (sent, answer) {
            (_, Ok(answer)) => Ok(answer),
            (Err(e), Err(_)) => {
                Err(e).with_context(|| format!("sending {method} {target} to {addr} failed"))
            }
            (Ok(()), Err(e)) => Err(e.context(format!("reading the answer to {method} {target}"))),
        }
    }
}

fn read_answer(stream: TcpStream) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut reader = BufReader::new(stream.take(MAX_ANSWER + 64 * 1024));
    let mut line = String::new();
    // Skip interim answers (100 Continue).
    let status = loop {
        line.clear();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP answer: {:?}", line.trim_end()))?;
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("the connection closed inside the answer's headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse::<u64>().ok(),
                    "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                    _ => {}
                }
            }
        }
        if !(100..200).contains(&status) {
            break (status, length, chunked);
        }
    };
    let (status, length, chunked) = status;
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .with_context(|| format!("bad chunk size {:?}", line.trim_end()))?;
            if size == 0 {
                break;
            }
            if body.len() as u64 + size > MAX_ANSWER {
                bail!("the answer is over {MAX_ANSWER} bytes; not a verge admin answer");
            }
            reader.by_ref().take(size).read_to_end(&mut body)?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        if n > MAX_ANSWER {
            bail!("the answer is {n} bytes; not a verge admin answer");
        }
        reader.by_ref().take(n).read_to_end(&mut body)?;
    } else {
        reader.by_ref().take(MAX_ANSWER).read_to_end(&mut body)?;
    }
    Ok((status, body))
}

/// The server's answer to an admin request that succeeded.
fn accepted(what: &str, (status, body): (u16, Vec<u8>)) -> anyhow::Result<Json> {
    let json: Option<Json> = serde_json::from_slice(&body).ok();
    if status == 200 {
        return json.with_context(|| {
            format!(
                "{what}: the server answered 200 with a body that is not JSON: {}",
                String::from_utf8_lossy(&body)
            )
        });
    }
    let message = verge_core::api::error_message(&body);
    let hint = match status {
        401 => " (check the token in the --token-env variable)",
        404 => {
            " (is the admin route on? the worker needs ADMIN_TOKEN, `verge serve` --admin-token-env)"
        }
        _ => "",
    };
    bail!("{what} refused with HTTP {status}: {message}{hint}")
}

/// Pushes `bundle ‖ snapshot` (and `pair`'s signatures) to `PUT
/// /admin/artifacts`; returns the server's JSON answer.
///
/// # Errors
///
/// Connection failures, and any non-200 answer with the server's message.
pub fn push(
    endpoint: &Endpoint,
    token: &str,
    bundle: &[u8],
    snapshot: &[u8],
    pair: &PublishedPair,
) -> anyhow::Result<Json> {
    let mut headers = Vec::new();
    if let Some(sig) = pair.bundle_signature {
        headers.push((BUNDLE_SIGNATURE_HEADER, sig.to_string()));
    }
    if let Some(sig) = pair.snapshot_signature {
        headers.push((SNAPSHOT_SIGNATURE_HEADER, sig.to_string()));
    }
    let answer = endpoint.send(
        "PUT",
        "/admin/artifacts",
        token,
        &headers,
        &[bundle, snapshot],
    )?;
    accepted("the publish", answer)
}

/// Asks the server to serve its previous pair again (`POST /admin/rollback`).
///
/// # Errors
///
/// Connection failures, and any non-200 answer with the server's message.
pub fn rollback(endpoint: &Endpoint, token: &str) -> anyhow::Result<Json> {
    let answer = endpoint.send("POST", "/admin/rollback", token, &[], &[])?;
    accepted("the rollback", answer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let e = Endpoint::parse("http://127.0.0.1:8787").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.prefix.as_str()),
            ("127.0.0.1", 8787, "")
        );
        let e = Endpoint::parse("http://localhost/edge/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.prefix.as_str()),
            ("localhost", 80, "/edge")
        );
        let e = Endpoint::parse("http://[::1]:9000/x").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.prefix.as_str()),
            ("::1", 9000, "/x")
        );
        assert!(e.is_loopback().unwrap());
        for bad in [
            "https://example.com",
            "ftp://x",
            "http://",
            "http://h:0",
            "http://h:port",
            "http://user:pw@h",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
