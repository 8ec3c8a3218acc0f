//! The memory budget of the offline jobs (`verge historical --memory 2GiB`,
//! `[offline] memory = "2GiB"`): how many bytes a job may hold at once before
//! it works out of core ([`crate::source::partition`]).
//!
//! A size is a whole or decimal number with an optional unit: binary `KiB`,
//! `MiB`, `GiB`, `TiB` (powers of 1024), decimal `KB`, `MB`, `GB`, `TB`
//! (powers of 1000), or `B`; no unit means bytes. Units are case-insensitive.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// A memory budget in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Memory(pub u64);

impl Memory {
    /// Parses a size such as `2GiB`, `512MiB`, `1.5GB` or `65536`.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_host::source::memory::Memory;
    /// assert_eq!(Memory::parse("2GiB")?, Memory(2 << 30));
    /// assert_eq!(Memory::parse("1.5 kb")?, Memory(1500));
    /// assert!(Memory::parse("lots").is_err());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Not a number with a known unit, zero, or more than 2^64 bytes.
    pub fn parse(text: &str) -> Result<Memory> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kib" | "k" => 1 << 10,
            "mib" | "m" => 1 << 20,
            "gib" | "g" => 1 << 30,
            "tib" | "t" => 1 << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => bail!(
                "`{text}` is not a memory size; write a number with an optional unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), such as 2GiB"
            ),
        };
        let value: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .with_context(|| {
                format!(
                    "`{text}` is not a memory size; it needs a number before the unit, such as 2GiB"
                )
            })?;
        let bytes = value * scale as f64;
        if bytes < 1.0 {
            bail!("memory size `{text}` is zero; give at least one byte, such as 64MiB");
        }
        if bytes >= u64::MAX as f64 {
            bail!("memory size `{text}` is more than 2^64 bytes");
        }
        // Whole bytes: the fraction of a byte is dropped.
        Ok(Memory(bytes as u64))
    }

    /// The budget the command line or `verge.toml` gives: `flag` (from
    /// `--memory`) if set, else `[offline] memory` of the file at `config`;
    /// `None` when neither does (no budget: everything in memory).
    ///
    /// # Errors
    ///
    /// An unreadable or invalid `verge.toml`, or a size that does not parse
    /// (the message names where it came from).
    pub fn resolve(config: &Path, flag: Option<&str>) -> Result<Option<Memory>> {
        if let Some(text) = flag {
            return Memory::parse(text).map(Some).context("--memory");
        }
        let text = match std::fs::read_to_string(config) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", config.display())),
        };
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", config.display()))?;
        let Some(value) = table.get("offline").and_then(|o| o.get("memory")) else {
            return Ok(None);
        };
        let place = || format!("{}: [offline] memory", config.display());
        match value {
            toml::Value::String(s) => Memory::parse(s).map(Some).with_context(place),
            toml::Value::Integer(n) => match u64::try_from(*n) {
                Ok(n) if n > 0 => Ok(Some(Memory(n))),
                _ => bail!("{}: `{n}` is not a positive number of bytes", place()),
            },
            other => bail!(
                "{}: `{other}` is not a memory size; write a string such as \"2GiB\"",
                place()
            ),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_every_unit() {
        assert_eq!(Memory::parse("65536").unwrap(), Memory(65_536));
        assert_eq!(Memory::parse("64KiB").unwrap(), Memory(65_536));
        assert_eq!(Memory::parse("2gib").unwrap(), Memory(2 << 30));
        assert_eq!(Memory::parse("512 MiB").unwrap(), Memory(512 << 20));
        assert_eq!(Memory::parse("2GB").unwrap(), Memory(2_000_000_000));
        assert_eq!(Memory::parse("0.5KiB").unwrap(), Memory(512));
    }

    #[test]
    fn bad_sizes_are_refused_with_the_reason() {
        for bad in [
            "", "GiB", "2XB", "-1GiB", "1.2.3MiB", "0", "0.1B", "1e30TiB",
        ] {
            let e = Memory::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("memory size") || e.contains("is not"),
                "{bad}: {e}"
            );
        }
    }
}
