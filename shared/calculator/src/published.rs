//! Published quantized checkpoints whose layout is known: the `quantization_config`
//! (or ModelOpt `hf_quant_config.json`) each publisher states, stored with its source
//! in `data/checkpoints.json`. A name found here is sized with that layout (the format
//! and the modules kept in 16-bit); other quantized names fall back to the naming
//! conventions of [`crate::names`], with a warning (`docs/methodology.md` §3).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use crate::checkpoint::Checkpoint;

const CHECKPOINTS_JSON: &str = include_str!("../data/checkpoints.json");

#[derive(Deserialize)]
struct File {
    checkpoints: Vec<Stored>,
}

#[derive(Deserialize)]
struct Stored {
    repo: String,
    #[serde(default)]
    aliases: Vec<String>,
    quantization_config: Value,
    source: String,
}

/// One published checkpoint: its repository id, the layout it states and where that
/// statement was read.
#[derive(Debug)]
pub struct Published {
    /// Hugging Face repository id as published.
    pub repo: String,
    /// Other repository ids of the same checkpoint (a renamed repository).
    pub aliases: Vec<String>,
    /// The storage its `quantization_config` states.
    pub checkpoint: Checkpoint,
    /// Where the layout was read (repository, commit and file).
    pub source: String,
}

static PUBLISHED: LazyLock<Vec<Published>> = LazyLock::new(|| {
    let file: File =
        serde_json::from_str(CHECKPOINTS_JSON).expect("data/checkpoints.json is valid JSON");
    file.checkpoints
        .into_iter()
        .map(|s| Published {
            checkpoint: Checkpoint::parse(&s.quantization_config)
                .expect("every stored quantization_config names its quant_method"),
            repo: s.repo,
            aliases: s.aliases,
            source: s.source,
        })
        .collect()
});

impl Published {
    /// Every stored checkpoint.
    pub fn all() -> &'static [Published] {
        &PUBLISHED
    }

    /// The stored checkpoint a name means: its repository id (or an alias) or the
    /// repository's own name without the organisation, in any case. A name with an
    /// organisation must match it: `someone/Llama-3.1-405B-Instruct-FP8` is another
    /// publisher's checkpoint, whose layout is not known.
    pub fn find(name: &str) -> Option<&'static Published> {
        let name = name.trim();
        let short = |id: &str| id.rsplit('/').next().unwrap_or(id).to_owned();
        PUBLISHED.iter().find(|p| {
            let ids = std::iter::once(&p.repo).chain(&p.aliases);
            ids.into_iter().any(|id| {
                if name.contains('/') {
                    id.eq_ignore_ascii_case(name)
                } else {
                    short(id).eq_ignore_ascii_case(name)
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_stored_layout_parses_without_notes_and_cites_a_source() {
        for p in Published::all() {
            assert!(
                p.checkpoint.format.is_some(),
                "{}: no format for {}",
                p.repo,
                p.checkpoint.method
            );
            assert!(
                p.checkpoint.notes.is_empty(),
                "{}: {:?}",
                p.repo,
                p.checkpoint.notes
            );
            assert!(
                p.source.contains('@'),
                "{}: source without a commit",
                p.repo
            );
        }
    }

    #[test]
    fn short_names_are_unique() {
        let mut seen = HashSet::new();
        for p in Published::all() {
            for id in std::iter::once(&p.repo).chain(&p.aliases) {
                let short = id.rsplit('/').next().unwrap().to_ascii_lowercase();
                assert!(seen.insert(short), "{id} shares its short name");
            }
        }
    }

    #[test]
    fn names_match_by_repository_or_short_name_only() {
        let meta = "meta-llama/Llama-3.1-405B-Instruct-FP8";
        assert_eq!(Published::find(meta).unwrap().repo, meta);
        assert_eq!(
            Published::find("llama-3.1-405b-instruct-fp8").unwrap().repo,
            meta
        );
        assert_eq!(
            Published::find("meta-llama/Meta-Llama-3.1-405B-Instruct-FP8")
                .unwrap()
                .repo,
            meta
        );
        assert!(Published::find("someone/Llama-3.1-405B-Instruct-FP8").is_none());
        assert!(Published::find("Llama-3.1-405B-Instruct").is_none());
    }
}
