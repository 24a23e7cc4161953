//! Closed sets of named request values (`framework`, `loss`, ...): one canonical name
//! per value, parsed case-insensitively with `-` and `_` alike.

/// A request value chosen from a fixed list of names.
pub trait Choice: Copy + Sized + 'static {
    /// Every value, in the order the API lists them.
    const ALL: &'static [Self];

    /// Canonical name.
    fn name(self) -> &'static str;

    /// Case-insensitive parse; `-` and `_` are interchangeable.
    fn parse(text: &str) -> Option<Self> {
        let key = text.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.iter().copied().find(|c| c.name() == key)
    }

    /// Every canonical name, in the order of [`Choice::ALL`].
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|c| c.name()).collect()
    }
}

/// Declares an enum whose variants each have one canonical name, and its [`Choice`].
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $crate::choice::Choice for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];

            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}
pub(crate) use choice;

#[cfg(test)]
mod tests {
    use super::*;

    choice!(
        /// A test set.
        Fruit {
            /// First.
            RedApple => "red_apple",
            /// Second.
            Pear => "pear",
        }
    );

    #[test]
    fn names_parse_back_in_any_case_and_dash() {
        assert_eq!(Fruit::names(), ["red_apple", "pear"]);
        assert_eq!(Fruit::parse(" Red-Apple "), Some(Fruit::RedApple));
        assert_eq!(Fruit::parse("PEAR"), Some(Fruit::Pear));
        assert_eq!(Fruit::parse("plum"), None);
    }
}
