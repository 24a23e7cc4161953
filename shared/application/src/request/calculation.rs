//! Which calculation a request asks for: inference or training.

use calculator::Choice;

/// Which calculation a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calculation {
    /// `/api/memory/inference`
    Inference,
    /// `/api/memory/training`
    Training,
}

impl Choice for Calculation {
    const ALL: &'static [Calculation] = &[Calculation::Inference, Calculation::Training];

    fn name(self) -> &'static str {
        match self {
            Calculation::Inference => "inference",
            Calculation::Training => "training",
        }
    }
}
