//! Repository ids and revisions, checked against the Hub's own naming rules before
//! any request is made, so nothing but a well-formed `owner/name` reaches a URL.

/// Longest owner or repository name the Hub accepts (huggingface_hub's
/// `validate_repo_id`: `[\w\-.]{1,96}`).
pub const MAX_NAME_CHARS: usize = 96;

/// Longest revision (branch, tag or commit) accepted here; the Hub's branch names are
/// git refs, and 128 characters is far beyond any in use.
pub const MAX_REVISION_CHARS: usize = 128;

/// The default revision: the repository's main branch.
pub const DEFAULT_REVISION: &str = "main";

/// One part of a repository id: letters, digits, `-`, `_` and `.`, starting and ending
/// with a letter or digit, without `--` or `..` (the Hub's rules).
fn valid_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    let edge = |b: u8| b.is_ascii_alphanumeric();
    !part.is_empty()
        && part.len() <= MAX_NAME_CHARS
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && !part.contains("--")
        && !part.contains("..")
}

/// First path segments of the Hub's other routes (dataset and Space repositories, the
/// API, the site's pages): an owner spelled so would name one of them in a URL.
const RESERVED_OWNERS: [&str; 10] = [
    "api",
    "datasets",
    "spaces",
    "models",
    "buckets",
    "collections",
    "organizations",
    "settings",
    "docs",
    "papers",
];

/// Whether `id` is a Hub model id, `owner/name`. Bare names (`gpt2`) are not looked up:
/// the Hub now files them under an owner, and a bare typo should not cost a request.
pub fn is_repo_id(id: &str) -> bool {
    match id.split_once('/') {
        Some((owner, name)) => {
            valid_part(owner)
                && valid_part(name)
                && !name.ends_with(".git")
                && !RESERVED_OWNERS.contains(&owner.to_ascii_lowercase().as_str())
        }
        None => false,
    }
}

/// Whether `revision` is a branch, tag or commit name this client will put in a URL:
/// letters, digits, `-`, `_`, `.` and `/` (as in `refs/pr/1`), starting with a letter
/// or digit, without `..` or `//`.
pub fn is_revision(revision: &str) -> bool {
    let bytes = revision.as_bytes();
    !revision.is_empty()
        && revision.len() <= MAX_REVISION_CHARS
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && !revision.contains("..")
        && !revision.contains("//")
        && !revision.ends_with('/')
}

/// Whether `revision` names one commit (40 hex digits), whose files never change.
pub fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `revision` as one URL path segment (`refs/pr/1` → `refs%2Fpr%2F1`); the characters
/// [`is_revision`] allows need no other escaping.
pub fn revision_segment(revision: &str) -> String {
    revision.replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_follow_the_hubs_rules() {
        for ok in [
            "Qwen/Qwen2-7B-Instruct",
            "TechxGenus/Meta-Llama-3-70B-Instruct-AWQ",
            "meta-llama/Llama-3.1-8B",
            "a/b",
            "user_1/model.v2",
        ] {
            assert!(is_repo_id(ok), "{ok}");
        }
        for bad in [
            "",
            "gpt2",
            "a/b/c",
            "/b",
            "a/",
            "-a/b",
            "a/b-",
            "a/b--c",
            "a/b..c",
            "a/.b",
            "a/b.git",
            "a b/c",
            "a/b?x=1",
            "a/b#c",
            "a/%2e%2e",
            "../etc",
            "a\\b/c",
            "ä/b",
            "datasets/squad",
            "Spaces/x",
            "api/models",
            &format!("a/{}", "x".repeat(97)),
        ] {
            assert!(!is_repo_id(bad), "{bad}");
        }
    }

    #[test]
    fn revisions_are_refs_or_commits() {
        for ok in ["main", "v1.0", "refs/pr/12", &"a".repeat(40)] {
            assert!(is_revision(ok), "{ok}");
        }
        for bad in [
            "", "/main", "main/", "a//b", "a/../b", "a b", "a?b", "a%2Fb", "-x",
        ] {
            assert!(!is_revision(bad), "{bad}");
        }
        assert!(is_commit(&"0123456789abcdef".repeat(3)[..40]));
        assert!(!is_commit("main"));
        assert_eq!(revision_segment("refs/pr/1"), "refs%2Fpr%2F1");
    }
}
