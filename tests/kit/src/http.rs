//! The tests' HTTP/1.1 client, for `verge serve` and the Worker under workerd.
//!
//! Ordinary requests go through [`Client`], a keep-alive [`ureq`] agent: a
//! well-kept client, so a test failure is the server's, not a home-made parser's.
//! Tests that send hostile bytes (a malformed request line, a head past the
//! limit, a body that never comes, `Expect: 100-continue`) need to write exactly
//! those bytes on one socket, which no client crate does; [`raw`] is the small
//! socket helper they share.

use std::time::Duration;

use serde_json::Value as Json;

/// One answer: status, headers (names lower-cased) and body bytes.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// `(name, value)` in the order received, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `content-type` header, or "".
    #[must_use]
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The body as text (lossily decoded).
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When it is not JSON; the message shows the body.
    #[must_use]
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// `error.message` of a JSON error body.
    ///
    /// # Panics
    ///
    /// When the body has no such string.
    #[must_use]
    pub fn error_message(&self) -> String {
        let json = self.json();
        json["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {json}"))
            .to_owned()
    }
}

/// A keep-alive client for one server (`host:port`), safe to share across threads.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    /// A client for `http://{addr}` (`addr` like `127.0.0.1:8080`) with a 60 s
    /// deadline per request.
    #[must_use]
    pub fn new(addr: impl std::fmt::Display) -> Client {
        let agent = ureq::Agent::config_builder()
            // Tests assert on 4xx and 5xx answers: they are answers, not errors.
            .http_status_as_error(false)
            // Hostile-method tests send `post` and the like.
            .allow_non_standard_methods(true)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Client {
            agent,
            base: format!("http://{addr}"),
        }
    }

    /// The base URL, `http://host:port`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Sends one request; retries once on a transport error (a server may close
    /// an idle keep-alive connection just as it is reused).
    ///
    /// # Panics
    ///
    /// When both tries fail.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        self.try_send(method, path, headers, body)
            .or_else(|_| self.try_send(method, path, headers, body))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Sends one request.
    ///
    /// # Errors
    ///
    /// A transport error (refused, reset, timed out, a malformed answer).
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, ureq::Error> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(body.to_vec())?;
        let mut response = self.agent.run(request)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_owned(), v)
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &[], b"")
    }

    /// `POST path` with `body`'s JSON text (no content type: the API reads the
    /// body as JSON whatever the header says).
    pub fn post(&self, path: &str, body: &Json) -> Answer {
        self.send("POST", path, &[], body.to_string().as_bytes())
    }
}

pub mod raw {
    //! Exact bytes on one socket, for hostile-input tests: what is written is
    //! what the server reads, with no client in between to fix it up.

    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    /// A connection with a 30 s read timeout.
    ///
    /// # Panics
    ///
    /// When it cannot connect.
    pub fn connect(addr: impl ToSocketAddrs) -> TcpStream {
        let s = TcpStream::connect(addr).expect("cannot connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        s
    }

    /// Writes `raw`, reads one answer: (status, head text, body).
    ///
    /// # Panics
    ///
    /// On an I/O error or a closed connection.
    pub fn exchange(stream: &mut TcpStream, raw: &[u8]) -> (u16, String, Vec<u8>) {
        stream.write_all(raw).expect("cannot write the request");
        read_response(stream)
    }

    /// Reads one answer: (status, head text, body of `content-length` bytes,
    /// none when absent, as for a `100 Continue`).
    ///
    /// # Panics
    ///
    /// On an I/O error, a closed connection or a malformed head.
    pub fn read_response(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
        let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("cannot read the head");
            assert!(n > 0, "connection closed mid-head: {head:?}");
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length").then(|| v.trim())
            })
            .map_or(0, |n| n.parse().expect("a numeric content-length"));
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("cannot read the body");
        (status, head, body)
    }

    /// One request on a fresh connection (`connection: close`): (status, body).
    pub fn request(
        addr: impl ToSocketAddrs,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut s = connect(addr);
        let mut raw = format!(
            "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        let (status, _, body) = exchange(&mut s, &raw);
        (status, body)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpListener;

    use super::{Client, raw};

    /// Serves `answers` one per connection on loopback, and returns the address
    /// and a handle that yields each request's head and body as received.
    fn canned(answers: Vec<&'static str>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                seen.push(format!("{head}{}", String::from_utf8(body).unwrap()));
                stream.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        (addr, handle)
    }

    #[test]
    fn client_sends_method_headers_body_and_keeps_error_answers() {
        let (addr, server) = canned(vec![
            "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: 37\r\nconnection: close\r\n\r\n{\"error\":{\"message\":\"too big\",\"x\":1}}",
        ]);
        let answer = Client::new(&addr).send(
            "PUT",
            "/admin/x?y=1",
            &[("authorization", "Bearer t")],
            b"abc",
        );
        assert_eq!(answer.status, 413);
        assert_eq!(answer.content_type(), "application/json");
        assert_eq!(answer.header("Connection"), Some("close"));
        assert_eq!(answer.error_message(), "too big");
        let seen = server.join().unwrap();
        assert!(
            seen[0].starts_with("PUT /admin/x?y=1 HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
        assert!(
            seen[0].contains("authorization: Bearer t\r\n"),
            "{}",
            seen[0]
        );
        assert!(seen[0].ends_with("\r\n\r\nabc"), "{}", seen[0]);
    }

    #[test]
    fn raw_writes_exact_bytes_and_reads_one_answer() {
        let (addr, server) = canned(vec![
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno",
        ]);
        let mut s = raw::connect(addr.as_str());
        let (status, head, body) = raw::exchange(&mut s, b"NOT-HTTP\r\ncontent-length: 1\r\n\r\nx");
        assert_eq!((status, body.as_slice()), (400, &b"no"[..]));
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        assert_eq!(
            server.join().unwrap()[0],
            "NOT-HTTP\r\ncontent-length: 1\r\n\r\nx"
        );
    }
}
