//! Helpers shared by the randomised tests of the calculator and the API. A
//! dev-dependency only: nothing deployed links it.

/// A small deterministic generator (SplitMix64, Steele et al. 2014) so that a failing
/// random test reproduces from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Values biased to the edges of `1..=max`: 0, 1, the limit, just past it, or
    /// anything between.
    pub fn edgy(&mut self, max: u64) -> u64 {
        match self.below(6) {
            0 => 0,
            1 => 1,
            2 => max,
            3 => max.saturating_add(1),
            _ => 1 + self.next_u64() % max,
        }
    }

    /// One of `items` (non-empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// `Some(value)` half of the time.
    pub fn maybe<T>(&mut self, value: impl FnOnce(&mut Rng) -> T) -> Option<T> {
        if self.below(2) == 0 {
            Some(value(self))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (Rng(5), Rng(5));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        // SplitMix64's first output from seed 0 (the reference implementation's).
        assert_eq!(Rng(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn edgy_reaches_every_edge() {
        let mut r = Rng(1);
        let seen: Vec<u64> = (0..200).map(|_| r.edgy(10)).collect();
        for edge in [0, 1, 10, 11] {
            assert!(seen.contains(&edge), "{edge}");
        }
        assert!(seen.iter().all(|v| *v <= 11));
    }
}
