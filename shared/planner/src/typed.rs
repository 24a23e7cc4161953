//! GPU and instance names as people type them: makers' words optional ("NVIDIA",
//! "GeForce"), case and separators free, the memory and form factor optional where the
//! catalog's first variant is meant ("H100" is the H100 SXM 80GB). The catalog lists
//! each GPU's most common variant first; that order is the default.

/// Words that name a maker or a product line, which people leave out.
const MAKER_WORDS: [&str; 6] = ["nvidia", "amd", "aws", "geforce", "instinct", "tesla"];

/// Words that name a variant of a GPU rather than the GPU: form factors, "per chip".
const VARIANT_WORDS: [&str; 6] = ["sxm", "pcie", "nvl", "gb", "per", "chip"];

/// How a typed name was matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matched {
    /// The name as the catalog spells it (case, separators and makers' words aside).
    Exactly,
    /// The only GPU the name can mean, or its first variant: the answer says which.
    Assumed,
}

/// A name's tokens: lower case, makers' words out, split at every character that is
/// not a letter or digit and between letters and digits ("A100-80GB" is a, 100, 80,
/// gb).
fn tokens(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut last_digit = None;
    for c in name.chars().flat_map(char::to_lowercase) {
        let digit = c.is_ascii_digit();
        let boundary = !c.is_ascii_alphanumeric() || last_digit.is_some_and(|d| d != digit);
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if c.is_ascii_alphanumeric() {
            word.push(c);
            last_digit = Some(digit);
        } else {
            last_digit = None;
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out.retain(|t| !MAKER_WORDS.contains(&t.as_str()));
    out
}

/// The tokens that name the GPU itself: the variant words left out, and a number
/// followed by "gb" (its memory).
fn model_tokens(tokens: &[String]) -> Vec<&str> {
    tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            let memory = t.bytes().all(|b| b.is_ascii_digit())
                && tokens.get(i + 1).is_some_and(|n| n == "gb");
            !memory && !VARIANT_WORDS.contains(&t.as_str())
        })
        .map(|(_, t)| t.as_str())
        .collect()
}

/// Whether every token of `part` is in `whole`, each used once.
fn contains(whole: &[String], part: &[String]) -> bool {
    let mut left: Vec<&String> = whole.iter().collect();
    part.iter()
        .all(|t| match left.iter().position(|w| *w == t) {
            Some(i) => {
                left.swap_remove(i);
                true
            }
            None => false,
        })
}

/// The entry of `names` (in catalog order) that `typed` means, and how: the same
/// tokens; else, of the names holding every typed token, the first whose GPU tokens
/// are the typed ones, or the only one. `None` when nothing, or several, could be meant.
pub fn find<'a>(typed: &str, names: impl Iterator<Item = &'a str>) -> Option<(&'a str, Matched)> {
    let want = tokens(typed);
    if want.is_empty() {
        return None;
    }
    let holding: Vec<(&str, Vec<String>)> = names
        .map(|n| (n, tokens(n)))
        .filter(|(_, t)| contains(t, &want))
        .collect();
    if let Some((n, _)) = holding.iter().find(|(_, t)| *t == want) {
        return Some((n, Matched::Exactly));
    }
    let model = model_tokens(&want);
    let same_gpu = holding.iter().find(|(_, t)| model_tokens(t) == model);
    match (same_gpu, holding.as_slice()) {
        (Some((n, _)), _) | (None, [(n, _)]) => Some((n, Matched::Assumed)),
        _ => None,
    }
}

/// An instance type with case and separators free (`P5 48xlarge`, `p5_48xlarge`).
pub fn same_instance(typed: &str, name: &str) -> bool {
    let squeeze = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .flat_map(|c| c.to_lowercase())
            .collect()
    };
    !typed.trim().is_empty() && squeeze(typed) == squeeze(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    fn read(typed: &str) -> Option<(&'static str, Matched)> {
        find(
            typed,
            Catalog::embedded().gpus.iter().map(|g| g.name.as_str()),
        )
    }

    #[test]
    fn names_as_people_type_them() {
        use Matched::{Assumed, Exactly};
        for (typed, meant, how) in [
            ("NVIDIA H100 SXM 80GB", "NVIDIA H100 SXM 80GB", Exactly),
            ("h100-sxm-80gb", "NVIDIA H100 SXM 80GB", Exactly),
            ("H100", "NVIDIA H100 SXM 80GB", Assumed),
            ("h200", "NVIDIA H200 SXM 141GB", Assumed),
            ("NVIDIA H200", "NVIDIA H200 SXM 141GB", Assumed),
            ("L40S", "NVIDIA L40S 48GB", Assumed),
            ("L40", "NVIDIA L40 48GB", Assumed),
            ("A10", "NVIDIA A10 24GB", Assumed),
            ("a10g", "NVIDIA A10G 24GB", Assumed),
            ("4090", "NVIDIA GeForce RTX 4090", Assumed),
            ("RTX 4090", "NVIDIA GeForce RTX 4090", Exactly),
            ("rtx4090", "NVIDIA GeForce RTX 4090", Exactly),
            ("A100-80GB", "NVIDIA A100 80GB", Exactly),
            ("A100 40GB", "NVIDIA A100 40GB", Exactly),
            ("A100", "NVIDIA A100 80GB", Assumed),
            ("H100 PCIe", "NVIDIA H100 PCIe 80GB", Assumed),
            ("mi300x", "AMD Instinct MI300X", Exactly),
            ("b200", "NVIDIA B200", Exactly),
        ] {
            assert_eq!(read(typed), Some((meant, how)), "{typed}");
        }
    }

    #[test]
    fn what_could_mean_several_or_nothing_is_not_guessed() {
        // The RTX 6000 Ada and the RTX A6000 both hold "rtx" and "6000".
        for typed in ["RTX 6000", "H300", "", "NVIDIA", "80GB"] {
            assert_eq!(read(typed), None, "{typed}");
        }
    }

    #[test]
    fn instance_types_with_separators_and_case_free() {
        assert!(same_instance("P5 48XLARGE", "p5.48xlarge"));
        assert!(same_instance("p5_48xlarge", "p5.48xlarge"));
        assert!(!same_instance("p5", "p5.48xlarge"));
        assert!(!same_instance("  ", ""));
    }
}
