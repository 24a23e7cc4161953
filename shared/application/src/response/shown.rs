//! How answers write memory and warnings: each set of components twice, as strings in
//! the answer's unit (`Bytes::format`, the one place bytes become text) and as exact
//! bytes; each warning list as sentences beside their stable codes.

use calculator::{Bytes, Choice, Unit, Warning};
use serde::Serialize;

/// A set of memory components with one value type: `T` is `String` for the strings
/// in the answer's unit, `u64` for the exact bytes.
pub trait Components: Sized {
    /// The same components as another value type.
    type As<T: Serialize>: Serialize;

    /// Each component through `f`.
    fn map<T: Serialize>(&self, f: impl Fn(Bytes) -> T) -> Self::As<T>;

    /// The components as strings in `unit`.
    fn strings(&self, unit: Unit) -> Self::As<String> {
        self.map(|b| b.format(unit))
    }

    /// The components as exact bytes.
    fn bytes(&self) -> Self::As<u64> {
        self.map(|b| b.0)
    }
}

/// Declares a struct of byte components, generic over how each is written, and its
/// [`Components`] impl over `Bytes`.
macro_rules! components {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
        pub struct $name<T> {
            $($(#[$fmeta])* pub $field: T),+
        }

        impl $crate::response::shown::Components for $name<calculator::Bytes> {
            type As<T: serde::Serialize> = $name<T>;

            fn map<T: serde::Serialize>(&self, f: impl Fn(calculator::Bytes) -> T) -> $name<T> {
                $name { $($field: f(self.$field)),+ }
            }
        }
    };
}
pub(crate) use components;

/// Components written both ways: the pair of keys `memory` (or
/// `memory_requirements`) and `memory_bytes` of an answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shown<S, B> {
    /// As strings in the answer's unit.
    pub memory: S,
    /// As exact bytes.
    pub memory_bytes: B,
}

/// `parts` written both ways.
pub fn shown<C: Components>(parts: &C, unit: Unit) -> Shown<C::As<String>, C::As<u64>> {
    Shown {
        memory: parts.strings(unit),
        memory_bytes: parts.bytes(),
    }
}

/// Warnings as the answer lists them: the sentences, and in the same order their
/// stable codes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Warnings {
    /// What each warning says.
    pub warnings: Vec<String>,
    /// Each warning's code, in the same order.
    pub warning_codes: Vec<&'static str>,
}

impl Warnings {
    /// The list of `warnings`, in order.
    pub fn of<'w>(warnings: impl IntoIterator<Item = &'w Warning>) -> Warnings {
        let mut out = Warnings::default();
        for w in warnings {
            out.warnings.push(w.message.clone());
            out.warning_codes.push(w.code.name());
        }
        out
    }
}

/// Notes of a plan candidate: sentences and codes, as [`Warnings`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Notes {
    /// What each note says.
    pub notes: Vec<String>,
    /// Each note's code, in the same order.
    pub note_codes: Vec<&'static str>,
}

impl Notes {
    /// The list of `notes`, in order.
    pub fn of<'w>(notes: impl IntoIterator<Item = &'w Warning>) -> Notes {
        let w = Warnings::of(notes);
        Notes {
            notes: w.warnings,
            note_codes: w.warning_codes,
        }
    }
}

/// A signed byte count as `"-1.20 GB"`.
pub fn signed(bytes: i128, unit: Unit) -> String {
    let text = Bytes(bytes.unsigned_abs().min(u64::MAX as u128) as u64).format(unit);
    if bytes < 0 {
        format!("-{text}")
    } else {
        text
    }
}
