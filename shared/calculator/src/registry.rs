//! The built-in model registry, embedded in the binary at build time and parsed once
//! per process (first use), never per request.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use crate::error::CalcError;
use crate::limits;
use crate::model::Model;
use crate::suggest::edit_distance;

/// One registry model: the facts it was written from and the parsed model.
#[derive(Debug)]
pub struct RegistryEntry {
    /// Canonical name (`Qwen3-8B`).
    pub name: String,
    /// Hugging Face repository id (`Qwen/Qwen3-8B`).
    pub hf_repo: String,
    /// Parameter count as published: an integer, or text where only a rounded figure
    /// is published.
    pub published_params: Value,
    /// Parameter count derived from the config (unique weight tensors, tied embeddings
    /// once), as the entry states it; the calculator's count must equal it.
    pub config_derived_params: u64,
    /// Figures from the model card, where given.
    pub model_card_params: Option<String>,
    /// Notes on how published and derived counts differ.
    pub notes: Option<String>,
    /// Where the facts come from.
    pub sources: Vec<String>,
    /// The architecture keys in Hugging Face `config.json` form.
    pub config: Value,
    /// The parsed model.
    pub model: Model,
}

#[derive(Deserialize)]
struct RawRegistry {
    models: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    name: String,
    hf_repo: String,
    published_params: Value,
    config_derived_params: u64,
    #[serde(default)]
    model_card_params: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    sources: Vec<String>,
    config: Value,
}

const REGISTRY_JSON: &str = include_str!("../data/models.json");

static REGISTRY: LazyLock<Vec<RegistryEntry>> = LazyLock::new(|| {
    // The file is part of the build and every entry is parsed by the test suite
    // (`registry_parses` and the parameter-count test), so this cannot fail at run time.
    let raw: RawRegistry =
        serde_json::from_str(REGISTRY_JSON).expect("data/models.json is valid JSON");
    let mut entries: Vec<RegistryEntry> = raw
        .models
        .into_iter()
        .map(|e| {
            let mut model = Model::from_config(&e.config)
                .unwrap_or_else(|err| panic!("registry model {}: {err}", e.name));
            model.name = Some(e.name.clone());
            RegistryEntry {
                name: e.name,
                hf_repo: e.hf_repo,
                published_params: e.published_params,
                config_derived_params: e.config_derived_params,
                model_card_params: e.model_card_params,
                notes: e.notes,
                sources: e.sources,
                config: e.config,
                model,
            }
        })
        .collect();
    entries.sort_by_key(|e| e.name.to_ascii_lowercase());
    entries
});

impl RegistryEntry {
    /// Every registry entry, sorted by name (case-insensitive).
    pub fn all() -> &'static [RegistryEntry] {
        &REGISTRY
    }

    /// Looks a model up by name or Hugging Face repository id, case-insensitively.
    /// An unknown name is an error carrying up to three close names.
    pub fn lookup(name: &str) -> Result<&'static RegistryEntry, CalcError> {
        let wanted = name.trim();
        RegistryEntry::all()
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(wanted) || e.hf_repo.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| CalcError::UnknownModel {
                name: name.to_owned(),
                suggestions: RegistryEntry::suggestions(wanted),
            })
    }

    /// Up to three registry names closest to `name`: edit distance on lowercased
    /// text, with names that contain the query (or are contained in it) ranked first.
    pub fn suggestions(name: &str) -> Vec<String> {
        suggestions(name)
    }
}

fn suggestions(name: &str) -> Vec<String> {
    let query = name.to_ascii_lowercase();
    let short = query.rsplit('/').next().unwrap_or(&query);
    if short.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, &str)> = RegistryEntry::all()
        .iter()
        .filter_map(|e| {
            let n = e.name.to_ascii_lowercase();
            let contains = n.contains(short) || short.contains(n.as_str());
            let d = edit_distance(short, &n);
            let close = d * 2 <= n.len().max(short.len());
            (contains || close).then_some((if contains { 0 } else { d }, e.name.as_str()))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(limits::MAX_SUGGESTIONS)
        .map(|(_, n)| n.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_parses() {
        assert_eq!(RegistryEntry::all().len(), 64);
    }

    #[test]
    fn lookup_is_case_insensitive_and_accepts_repo_ids() {
        assert_eq!(
            RegistryEntry::lookup("qwen3-0.6b").unwrap().name,
            "Qwen3-0.6B"
        );
        assert_eq!(
            RegistryEntry::lookup("Qwen/Qwen3-0.6B").unwrap().name,
            "Qwen3-0.6B"
        );
        assert_eq!(
            RegistryEntry::lookup("META-LLAMA/llama-3.1-8b")
                .unwrap()
                .name,
            "Llama-3.1-8B"
        );
    }

    #[test]
    fn unknown_names_carry_close_suggestions() {
        match RegistryEntry::lookup("Qwen3-7B") {
            Err(CalcError::UnknownModel { suggestions, .. }) => {
                assert!(!suggestions.is_empty() && suggestions.len() <= 3);
                assert!(
                    suggestions.iter().all(|s| s.starts_with("Qwen3")),
                    "{suggestions:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        match RegistryEntry::lookup("llama-3-8b") {
            Err(CalcError::UnknownModel { suggestions, .. }) => {
                assert!(
                    suggestions.contains(&"Llama-3.1-8B".to_string()),
                    "{suggestions:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        // A name that contains a registry name ranks it first; a one-letter typo is close.
        match RegistryEntry::lookup("Qwen3-8B-Instruct-2507") {
            Err(CalcError::UnknownModel { suggestions, .. }) => {
                assert_eq!(suggestions[0], "Qwen3-8B", "{suggestions:?}")
            }
            other => panic!("{other:?}"),
        }
        match RegistryEntry::lookup("Qwen3-8C") {
            Err(CalcError::UnknownModel { suggestions, .. }) => {
                assert!(
                    suggestions.contains(&"Qwen3-8B".to_string()),
                    "{suggestions:?}"
                )
            }
            other => panic!("{other:?}"),
        }
        // Six edits of eight letters is not close to anything.
        assert!(
            suggestions("Qw000000").is_empty(),
            "{:?}",
            suggestions("Qw000000")
        );
        match RegistryEntry::lookup("zzzzzzzzzzzzzzzzzzzz") {
            Err(CalcError::UnknownModel { suggestions, .. }) => assert!(suggestions.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
