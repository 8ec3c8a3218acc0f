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
//! `ps`) or in a message. Requests go through ureq, the one HTTP client verge
//! uses. Plain HTTP only, and only to a loopback address
//! unless the caller allows otherwise: a bearer token sent in clear text over a
//! network can be read by anyone on the path. (Reach a remote worker through a
//! TLS-terminating tunnel on localhost, e.g. `cloudflared access tcp`.)

use std::net::{SocketAddr, ToSocketAddrs as _};
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
        // One contiguous body with a Content-Length: receivers refuse chunked
        // uploads (411), and judge the length before reading a byte.
        let body = body.concat();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // A 401 or 413 is an answer to report, not a transport error.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        let url = format!("http://{addr}{target}");
        // The token goes into the request only: never into a message or an error.
        let auth = zeroize::Zeroizing::new(format!("Bearer {token}"));
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("host", format!("{}:{}", self.host, self.port))
            .header("content-type", "application/octet-stream")
            .header("authorization", auth.as_str());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(body)
            .with_context(|| format!("internal: building {method} {target}"))?;
        let mut answer = agent.run(request).with_context(|| {
            format!("{method} {target} to {addr} failed (is the server running?)")
        })?;
        let status = answer.status().as_u16();
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .with_context(|| format!("reading the answer to {method} {target}"))?;
        Ok((status, body))
    }
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
