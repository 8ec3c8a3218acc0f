//! What a `verge serve` handler sees and returns: a request read whole (head
//! and body), a status with a JSON body, and the admission hook that judges a
//! request on its head before its body is read. The network side is
//! [`super::net`] (hyper); these types keep the handlers independent of it.

use verge_core::api::ApiError;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// The headers, names lowercased, in the order sent.
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

/// The JSON error body every verge face uses: the core's
/// [`ApiError::into_response`], so the server's own refusals (408, 411, 413,
/// ...) are shaped exactly as the API's.
#[must_use]
pub fn error_body(status: u16, message: &str) -> Vec<u8> {
    ApiError {
        status,
        message: message.to_owned(),
    }
    .into_response()
    .body
}
