//! The seeded generator every test and benchmark draws from: xorshift64*, tiny,
//! stable across platforms and releases, so a failure replays from its seed and a
//! benchmark measures the same data on every run. Not for anything secret.

/// xorshift64* (Marsaglia's xorshift with Vigna's multiplier).
///
/// # Examples
///
/// ```
/// use verge_test_kit::rng::Rng;
/// let (mut a, mut b) = (Rng::new(42), Rng::new(42));
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    seed: u64,
}

impl Rng {
    /// A generator seeded with `seed` (0, which would stay 0 forever, becomes 1).
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        let seed = seed.max(1);
        Rng { state: seed, seed }
    }

    /// The seed it started from, for failure messages.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Seeded from `$var` when it holds a number, else from the clock; prints
    /// `label: var=seed` (shown by the harness when the test fails) so a failure
    /// can be replayed.
    #[must_use]
    pub fn from_env(var: &str, label: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
        println!("{label}: {var}={seed}");
        Rng::new(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An index in `0..n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A float in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    /// The stream is part of the contract: benchmarks and recorded failures
    /// depend on seed 42 giving these numbers on every platform and release.
    #[test]
    fn seed_42_gives_the_pinned_xorshift64_star_stream() {
        let mut rng = Rng::new(42);
        assert_eq!(rng.next_u64(), 0x56ce_4ab7_719b_a3a0);
        assert_eq!(rng.next_u64(), 0xc841_eb53_ebbb_2dda);
        assert_eq!(rng.next_u64(), 0xca46_6be0_c998_0276);
        assert_eq!(rng.seed(), 42);
    }

    #[test]
    fn ranges_hold_and_zero_is_not_a_dead_seed() {
        let mut rng = Rng::new(0);
        assert_ne!(rng.next_u64(), 0, "a zero state would stay zero");
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.index(0), 0);
        for _ in 0..1000 {
            assert!(rng.below(7) < 7);
            assert!(rng.index(3) < 3);
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }
}
