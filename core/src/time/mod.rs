//! Time as integers: microseconds since the Unix epoch, and spans of microseconds.
//!
//! The core has no clock; every "now" is passed in by the caller, so the same
//! inputs always give the same outputs on the host and at the edge.

pub mod rfc3339;

use alloc::string::String;
use core::fmt;
use serde::{Deserialize, Serialize};

/// A point in time: microseconds since 1970-01-01T00:00:00Z (UTC).
///
/// # Examples
///
/// ```
/// use verge_core::{Duration, Timestamp};
/// let t = Timestamp::from_secs(1_624_638_987);
/// assert_eq!(t.as_micros(), 1_624_638_987_000_000);
/// assert_eq!(t - Duration::from_days(1), Timestamp::from_secs(1_624_552_587));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The earliest representable time.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable time.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// From microseconds since the epoch.
    #[must_use]
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From whole seconds since the epoch (saturating).
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the epoch.
    #[must_use]
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 (or a naive `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`, taken as UTC).
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::Timestamp;
    /// let t = Timestamp::parse_rfc3339("2021-06-25T16:36:27Z").unwrap();
    /// assert_eq!(t, Timestamp::from_secs(1_624_638_987));
    /// assert_eq!(t.to_rfc3339(), "2021-06-25T16:36:27Z");
    /// ```
    #[must_use]
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        rfc3339::parse_timestamp(text).map(Timestamp)
    }

    /// Formats as RFC 3339 in UTC with `Z`.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        rfc3339::format_micros(self.0)
    }

    /// `self - other` as a duration, saturating at the ends of `i64`.
    #[must_use]
    pub const fn saturating_since(self, other: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }
}

impl core::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    /// Saturating: a window reaching before `Timestamp::MIN` starts at `MIN`.
    fn sub(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(rhs.0))
    }
}

impl core::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({}µs)", self.0)
    }
}

/// A span of time in microseconds. Feature-view TTLs use it; zero means "no limit".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Duration(pub i64);

impl Duration {
    /// No span at all; as a TTL it means "no limit".
    pub const ZERO: Duration = Duration(0);

    /// From microseconds.
    #[must_use]
    pub const fn from_micros(micros: i64) -> Self {
        Duration(micros)
    }

    /// From seconds (saturating).
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Duration(secs.saturating_mul(1_000_000))
    }

    /// From days (saturating).
    #[must_use]
    pub const fn from_days(days: i64) -> Self {
        Duration::from_secs(days.saturating_mul(86_400))
    }

    /// Microseconds in this span.
    #[must_use]
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// True for the zero span, which as a TTL means "no limit".
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Duration({}µs)", self.0)
    }
}

impl crate::artifact::wire::Decode for Timestamp {
    fn decode(r: &mut crate::artifact::wire::Reader<'_>) -> crate::artifact::wire::Decoded<Self> {
        r.i64().map(Timestamp)
    }
}

impl crate::artifact::wire::Decode for Duration {
    fn decode(r: &mut crate::artifact::wire::Reader<'_>) -> crate::artifact::wire::Decoded<Self> {
        r.i64().map(Duration)
    }
}
