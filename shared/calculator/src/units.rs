//! Byte counts and the way they are written for people.

use std::fmt;

/// A quantity of memory in bytes. Every memory figure the crate reports is one.
///
/// Internally the crate counts in `u128` so that no product of validated inputs can
/// overflow; a figure only becomes `Bytes` once it is known to fit in `u64`
/// (18.4 exabytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

impl Bytes {
    /// The count written as `"14.00 GB"` in the given unit, two decimals.
    pub fn format(self, unit: Unit) -> String {
        // u64 -> f64 is exact to 2^53 bytes (9 PB) and within 1e-16 relative beyond,
        // far below the two printed decimals.
        format!(
            "{:.2} {}",
            self.0 as f64 / unit.bytes_per_unit(),
            unit.name()
        )
    }
}

/// The unit human-readable strings use. Decimal `GB` (10^9 bytes) is the default, as
/// GPU vendors state capacities in it; `GiB` (2^30) matches `nvidia-smi` and PyTorch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Unit {
    /// 10^9 bytes.
    #[default]
    Gb,
    /// 2^30 bytes.
    Gib,
    /// 10^6 bytes.
    Mb,
    /// 2^20 bytes.
    Mib,
}

impl Unit {
    /// Every unit, in the order the API lists them.
    pub const ALL: [Unit; 4] = [Unit::Gb, Unit::Gib, Unit::Mb, Unit::Mib];

    /// The spelling used in output and accepted (case-insensitively) in input.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Gb => "GB",
            Unit::Gib => "GiB",
            Unit::Mb => "MB",
            Unit::Mib => "MiB",
        }
    }

    /// Bytes in one unit.
    pub fn bytes_per_unit(self) -> f64 {
        match self {
            Unit::Gb => 1e9,
            Unit::Gib => 1073741824.0,
            Unit::Mb => 1e6,
            Unit::Mib => 1048576.0,
        }
    }

    /// Parses a unit name; `GB` and `GiB` differ only in case-insensitive letters, so
    /// the match is on the lowercased text.
    pub fn parse(text: &str) -> Option<Unit> {
        Unit::ALL
            .into_iter()
            .find(|u| u.name().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
}
