//! Closest-name suggestions for misspelled names (models, request fields), and the
//! cut of a caller's text that answers repeat.

use crate::limits::ECHO_CHARS;

/// `text`, cut to [`ECHO_CHARS`] characters (with `...` when cut): what an answer
/// repeats of a caller's name, key or value.
pub fn clip(text: &str) -> String {
    if text.chars().count() > ECHO_CHARS {
        format!("{}...", text.chars().take(ECHO_CHARS).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Levenshtein distance over bytes (the names compared are ASCII).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.bytes().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word` (case-insensitive), if it is within half the
/// longer length; ties go to the earlier candidate.
pub fn closest_name<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&w, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| d * 2 <= w.len().max(c.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("ab", "ba"), 2);
        assert_eq!(edit_distance("abcd", "abd"), 1);
    }

    #[test]
    fn closest_finds_typos_and_rejects_strangers() {
        let fields = ["precision", "batch_size", "sequence_length"];
        assert_eq!(closest_name("precison", fields), Some("precision"));
        assert_eq!(closest_name("Batch_Size", fields), Some("batch_size"));
        assert_eq!(closest_name("xyz", fields), None);
        // Within half the longer length: 2 edits of 4 letters, not 3.
        assert_eq!(closest_name("abxx", ["abcd"]), Some("abcd"));
        assert_eq!(closest_name("axxx", ["abcd"]), None);
        // 5 edits of 8 letters: too far (10 > 8).
        assert_eq!(closest_name("abcxxxxx", ["abcdefgh"]), None);
    }
}
