//! Closed sets of named values (`framework`, `precision`, `unit`, ...): one canonical
//! name per value, parsed case-insensitively with `-` and `_` alike, plus the aliases
//! a set accepts. Every such enum of the crate parses through [`Choice::parse`].

/// A value chosen from a fixed list of names.
pub trait Choice: Copy + Sized + 'static {
    /// Every value, in the order the API lists them.
    const ALL: &'static [Self];

    /// Canonical name.
    fn name(self) -> &'static str;

    /// Another spelling this set accepts (`fp16` for `float16`), from the text as
    /// given; none by default.
    fn alias(_text: &str) -> Option<Self> {
        None
    }

    /// A canonical name (case-insensitive; `-` and `_` are interchangeable), else an
    /// alias.
    fn parse(text: &str) -> Option<Self> {
        let key = normalized(text);
        Self::ALL
            .iter()
            .copied()
            .find(|c| normalized(c.name()) == key)
            .or_else(|| Self::alias(text))
    }

    /// Every canonical name, in the order of [`Choice::ALL`].
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|c| c.name()).collect()
    }
}

/// Trimmed, lowercase, `-` read as `_`.
fn normalized(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace('-', "_")
}

/// Declares an enum whose variants each have one canonical name, and its [`Choice`].
/// With `aliases = path`, the function `fn(&str) -> Option<Self>` gives the other
/// spellings the set accepts ([`Choice::alias`]).
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
    } $(aliases = $alias:path)?) => {
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

            $(fn alias(text: &str) -> Option<Self> {
                $alias(text)
            })?
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

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Size {
        Gb,
    }

    impl Choice for Size {
        const ALL: &'static [Size] = &[Size::Gb];
        fn name(self) -> &'static str {
            "GB"
        }
        fn alias(text: &str) -> Option<Size> {
            (text == "gigabytes").then_some(Size::Gb)
        }
    }

    #[test]
    fn names_with_capitals_and_aliases() {
        assert_eq!(Size::parse(" gb"), Some(Size::Gb));
        assert_eq!(Size::parse("gigabytes"), Some(Size::Gb));
        assert_eq!(Size::parse("tb"), None);
    }
}
