//! Byte counts and the way they are written for people.

use std::fmt;

use crate::choice::{choice, Choice};

/// A quantity of memory in bytes. Every memory figure the crate reports is one.
///
/// Internally the crate counts in `u128` so that no product of validated inputs can
/// overflow; a figure only becomes `Bytes` once it is known to fit in `u64`
/// (18.4 exabytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

impl Bytes {
    /// The count written as `"14.00 GB"` in the given unit, two decimals: how every
    /// answer writes memory.
    pub fn format(self, unit: Unit) -> String {
        self.format_to(unit, 2)
    }

    /// The count written with `decimals` decimals (`"14.0 GB"`), for sentences.
    pub fn format_to(self, unit: Unit, decimals: usize) -> String {
        format!("{:.decimals$} {}", self.in_unit(unit), unit.name())
    }

    /// The count in `unit`. u64 -> f64 is exact to 2^53 bytes (9 PB) and within 1e-16
    /// relative beyond, far below any printed decimal.
    pub fn in_unit(self, unit: Unit) -> f64 {
        self.0 as f64 / unit.bytes_per_unit()
    }

    /// `gib` GiB in bytes, rounded to the nearest byte (saturating at `u64::MAX`).
    pub fn from_gib(gib: f64) -> Bytes {
        Bytes((gib * Unit::Gib.bytes_per_unit()).round() as u64)
    }
}

choice!(
    /// The unit human-readable strings use. Decimal `GB` (10^9 bytes) is the default,
    /// as GPU vendors state capacities in it; `GiB` (2^30) matches `nvidia-smi` and
    /// PyTorch. The name is the spelling used in output and accepted
    /// (case-insensitively) in input.
    #[derive(Default)]
    Unit {
        /// 10^9 bytes.
        #[default]
        Gb => "GB",
        /// 2^30 bytes.
        Gib => "GiB",
        /// 10^6 bytes.
        Mb => "MB",
        /// 2^20 bytes.
        Mib => "MiB",
    }
);

impl Unit {
    /// Bytes in one unit.
    pub fn bytes_per_unit(self) -> f64 {
        match self {
            Unit::Gb => 1e9,
            Unit::Gib => 1073741824.0,
            Unit::Mb => 1e6,
            Unit::Mib => 1048576.0,
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `n` and its noun, singular or plural as English says them: `1 GPU`, `8 GPUs`,
/// `1 concurrent request`. The plural adds an `s`.
pub fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_decimal_and_binary_units() {
        assert_eq!(Bytes(14_000_000_000).format(Unit::Gb), "14.00 GB");
        assert_eq!(Bytes(1 << 30).format(Unit::Gib), "1.00 GiB");
        assert_eq!(Bytes(1 << 30).format(Unit::Gb), "1.07 GB");
        assert_eq!(Bytes(1_500_000).format(Unit::Mb), "1.50 MB");
        assert_eq!(Bytes(u64::MAX).format(Unit::Gb), "18446744073.71 GB");
    }

    #[test]
    fn parses_units_case_insensitively() {
        assert_eq!(Unit::parse("gib"), Some(Unit::Gib));
        assert_eq!(Unit::parse("GB"), Some(Unit::Gb));
        assert_eq!(Unit::parse(" MiB "), Some(Unit::Mib));
        assert_eq!(Unit::parse("TB"), None);
        assert_eq!(Unit::Gib.to_string(), "GiB");
    }

    #[test]
    fn counts_say_one_in_the_singular() {
        assert_eq!(counted(1, "GPU"), "1 GPU");
        assert_eq!(counted(8, "GPU"), "8 GPUs");
        assert_eq!(counted(0, "concurrent request"), "0 concurrent requests");
    }
}
