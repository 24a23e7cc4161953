//! Resolving the names people use for a registry model: its exact name or Hugging
//! Face repository id, its instruct/chat/base variants (same architecture), and its
//! published quantized checkpoints (`-FP8`, `-AWQ`, `-GPTQ-Int4`, `-bnb-4bit`, ...),
//! which are the architecture stored in that checkpoint's format
//! (`docs/methodology.md` §1).

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::checkpoint::Checkpoint;
use crate::error::CalcError;
use crate::limits;
use crate::model::Model;
use crate::precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
use crate::published::Published;
use crate::registry::RegistryEntry;
use crate::warning::{Warning, WarningCode};

/// A name resolved to a registry model.
#[derive(Debug)]
pub struct Resolution {
    /// The registry entry whose architecture it is.
    pub entry: &'static RegistryEntry,
    /// The model to size: the entry's, stored as the named checkpoint stores it.
    pub model: Cow<'static, Model>,
    /// How the name was read, when it was not the entry's own (for `warnings`).
    pub note: Option<Warning>,
}

/// Name tokens that mark a variant of the same architecture: fine-tunes for
/// instructions or chat, base and pretrained releases, the `-hf` conversions.
const VARIANT_TOKENS: [&str; 9] = [
    "instruct", "chat", "it", "base", "pt", "hf", "sft", "dpo", "meta",
];

/// Name tokens of quantized checkpoints; which format they mean is [`checkpoint_for`].
const QUANT_TOKENS: [&str; 17] = [
    "fp8",
    "dynamic",
    "awq",
    "gptq",
    "int4",
    "int8",
    "bnb",
    "4bit",
    "8bit",
    "nf4",
    "w4a16",
    "w8a8",
    "w8a16",
    "mxfp4",
    "nvfp4",
    "fp4",
    "quantized",
];

/// The tokens of a name: lower case, without the organisation, split at `-`, `_` and
/// spaces, at `.` where it separates words rather than a version (`quantized.w4a16`,
/// but `3.1`), and where a word runs into a number (`Llama3.1` is `llama 3.1`, as
/// `Llama-3.1`), except in the quantization marks (`fp8`, `w4a16`).
fn tokens(name: &str) -> Vec<String> {
    let lower = name.trim().to_ascii_lowercase();
    let short = lower.rsplit('/').next().unwrap_or(&lower);
    let version = |t: &str| {
        t.split('.')
            .all(|p| p.starts_with(|c: char| c.is_ascii_digit()))
    };
    short
        .split(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .flat_map(split_word_number)
        .flat_map(|t| {
            if version(&t) {
                vec![t]
            } else {
                t.split('.')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
        })
        .collect()
}

/// `t` split where a word runs into its number (`llama3.1` → `llama`, `3.1`): letters
/// only, then a digit. Quantization marks (`fp8`, `w4a16`) stay whole.
fn split_word_number(t: &str) -> Vec<String> {
    let letters = t.bytes().take_while(u8::is_ascii_alphabetic).count();
    let runs_into_number = letters > 0 && t.as_bytes().get(letters).is_some_and(u8::is_ascii_digit);
    if runs_into_number && !QUANT_TOKENS.contains(&t) {
        vec![t[..letters].to_owned(), t[letters..].to_owned()]
    } else {
        vec![t.to_owned()]
    }
}

/// The architecture part of a name: its tokens without variant and quantization marks
/// nor release dates (`2507`).
fn base_key(tokens: &[String]) -> String {
    let date = |t: &str| t.len() == 4 && t.chars().all(|c| c.is_ascii_digit());
    tokens
        .iter()
        .filter(|t| {
            !VARIANT_TOKENS.contains(&t.as_str()) && !QUANT_TOKENS.contains(&t.as_str()) && !date(t)
        })
        .cloned()
        .collect::<Vec<_>>()
        .join("-")
}

/// Each registry entry by its base key (entries sharing a key: the first, by name).
static BY_BASE: LazyLock<Vec<(String, &'static RegistryEntry)>> = LazyLock::new(|| {
    RegistryEntry::all()
        .iter()
        .map(|e| (base_key(&tokens(&e.name)), e))
        .collect()
});

/// Resolves a model name: exact names and repository ids first, then variants and
/// quantized checkpoints of registry models. An unknown name is an error with up to
/// three close names.
pub fn resolve_name(name: &str) -> Result<Resolution, CalcError> {
    // No model name is this long: answer at once, without the near-name search (whose
    // cost grows with the length) and without echoing the whole text.
    if name.chars().count() > limits::MAX_MODEL_NAME_CHARS {
        return Err(CalcError::UnknownModel {
            name: name.chars().take(limits::MAX_MODEL_NAME_CHARS).collect(),
            suggestions: Vec::new(),
        });
    }
    if let Ok(entry) = RegistryEntry::lookup(name) {
        return Ok(Resolution {
            entry,
            model: Cow::Borrowed(&entry.model),
            note: None,
        });
    }
    let unknown = || CalcError::UnknownModel {
        name: name.to_owned(),
        suggestions: RegistryEntry::suggestions(name.trim()),
    };
    if let Some(published) = Published::find(name) {
        let entry = by_base(&base_key(&tokens(&published.repo))).ok_or_else(unknown)?;
        let layout = format!(
            "its publisher's layout: {}; from {}",
            published.checkpoint.describe(),
            published.source
        );
        return Ok(stored_as(
            name,
            entry,
            published.checkpoint.clone(),
            &layout,
        ));
    }
    let toks = tokens(name);
    let entry = by_base(&base_key(&toks)).ok_or_else(unknown)?;
    let org = name.trim().to_ascii_lowercase();
    let org = org.split_once('/').map_or("", |(o, _)| o);
    match checkpoint_for(&toks, org, entry) {
        None => Ok(Resolution {
            entry,
            model: Cow::Borrowed(&entry.model),
            note: Some(Warning::new(
                WarningCode::NameReadAsVariant,
                format!(
                    "'{}' is read as registry model {}: its variants share the architecture",
                    name.trim(),
                    entry.name
                ),
            )),
        }),
        Some(checkpoint) => {
            let said: Vec<&str> = checkpoint
                .notes
                .iter()
                .map(|n| n.message.as_str())
                .collect();
            let said = said.join("; ");
            Ok(stored_as(name, entry, checkpoint, &said))
        }
    }
}

/// The registry entry whose base key is `key`.
fn by_base(key: &str) -> Option<&'static RegistryEntry> {
    BY_BASE
        .iter()
        .find(|(k, _)| k == key && !key.is_empty())
        .map(|(_, e)| *e)
}

/// `entry`'s architecture stored as `checkpoint` stores it, with a note that says so
/// and how the layout was known (`how`).
fn stored_as(
    name: &str,
    entry: &'static RegistryEntry,
    checkpoint: Checkpoint,
    how: &str,
) -> Resolution {
    let note = Warning::new(
        WarningCode::NameReadAsCheckpoint,
        format!(
            "'{}' is read as registry model {} stored as {} ({how})",
            name.trim(),
            entry.name,
            checkpoint.method,
        ),
    );
    let mut model = entry.model.clone();
    model.arch.checkpoint = Some(checkpoint);
    Resolution {
        entry,
        model: Cow::Owned(model),
        note: Some(note),
    }
}

fn format(precision: Precision, quantization: Option<Quantization>, group: u64) -> WeightFormat {
    WeightFormat {
        precision,
        quantization,
        group_size: group,
        double_quant: false,
    }
}

/// The storage a quantized checkpoint's name announces, by the conventions of its
/// publishers (methodology §3): `None` when the name has no quantization mark.
fn checkpoint_for(toks: &[String], org: &str, entry: &RegistryEntry) -> Option<Checkpoint> {
    let has = |t: &str| toks.iter().any(|x| x == t);
    let own = entry
        .hf_repo
        .to_ascii_lowercase()
        .starts_with(&format!("{org}/"));
    let (method, fmt, how) = if has("nvfp4") || (has("fp4") && org == "nvidia") {
        // NVIDIA publishes its TensorRT Model Optimizer NVFP4 checkpoints as `-FP4`
        // (nvidia/Llama-3.3-70B-Instruct-FP4).
        (
            "modelopt",
            format(
                Precision::Int4,
                Some(Quantization::Nvfp4),
                DEFAULT_GROUP_SIZE,
            ),
            "NVFP4, an fp8 scale per 16 weights",
        )
    } else if has("mxfp4") {
        (
            "mxfp4",
            format(
                Precision::Int4,
                Some(Quantization::Mxfp4),
                DEFAULT_GROUP_SIZE,
            ),
            "MXFP4 experts",
        )
    } else if has("fp8") && own {
        (
            "fp8",
            format(
                Precision::Float8,
                Some(Quantization::Fp8),
                DEFAULT_GROUP_SIZE,
            ),
            "the publisher's fine-grained FP8, 128x128 blocks",
        )
    } else if has("fp8") {
        ("fp8", format(Precision::Float8, None, DEFAULT_GROUP_SIZE),
         "FP8 with per-matrix scales (llm-compressor's per-channel scales add one fp32 value per output row)")
    } else if has("gptq") {
        let p = if has("int8") {
            Precision::Int8
        } else {
            Precision::Int4
        };
        (
            "gptq",
            format(p, Some(Quantization::Gptq), DEFAULT_GROUP_SIZE),
            "GPTQ, groups of 128",
        )
    } else if has("awq") {
        (
            "awq",
            format(Precision::Int4, Some(Quantization::Awq), DEFAULT_GROUP_SIZE),
            "AWQ 4-bit, groups of 128",
        )
    } else if has("bnb") || has("nf4") || has("4bit") {
        (
            "bitsandbytes",
            format(
                Precision::Int4,
                Some(Quantization::Bitsandbytes),
                DEFAULT_GROUP_SIZE,
            ),
            "bitsandbytes NF4",
        )
    } else if has("8bit") {
        (
            "bitsandbytes",
            format(
                Precision::Int8,
                Some(Quantization::Bitsandbytes),
                DEFAULT_GROUP_SIZE,
            ),
            "bitsandbytes LLM.int8()",
        )
    } else if has("w4a16") || has("int4") {
        (
            "compressed-tensors",
            format(Precision::Int4, None, DEFAULT_GROUP_SIZE),
            "int4 weights, groups of 128",
        )
    } else if has("w8a8") || has("w8a16") || has("int8") {
        (
            "compressed-tensors",
            format(Precision::Int8, None, limits::MAX_GROUP_SIZE),
            "int8 weights, one scale per output channel",
        )
    } else {
        return None;
    };
    Some(Checkpoint {
        method: method.to_owned(),
        format: Some(fmt),
        unquantized: Vec::new(),
        notes: vec![Warning::new(
            WarningCode::CheckpointLayoutFromName,
            format!(
                "format read from the name: {how}; paste the checkpoint's config.json as `config` for its exact layout"
            ),
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str) -> Resolution {
        resolve_name(name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn variants_share_the_architecture() {
        for (name, entry) in [
            ("meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B"),
            ("meta-llama/Meta-Llama-3.1-8B-Instruct", "Llama-3.1-8B"),
            ("Qwen/Qwen3-8B-Base", "Qwen3-8B"),
            ("google/gemma-2-9b", "gemma-2-9b-it"),
            ("mistralai/Mistral-7B-Instruct-v0.3", "Mistral-7B-v0.3"),
            ("meta-llama/Llama-2-7b-chat-hf", "Llama-2-7b-hf"),
            ("Qwen/Qwen3-4B-Instruct-2507", "Qwen3-4B"),
            // As people type them: spaces, and words run into their numbers.
            ("llama 3.1 70b instruct", "Llama-3.1-70B"),
            ("Llama3.1-70B-Instruct", "Llama-3.1-70B"),
            ("qwen3 8b", "Qwen3-8B"),
        ] {
            let r = read(name);
            assert_eq!(r.entry.name, entry, "{name}");
            let note = r.note.unwrap();
            assert_eq!(note.code, WarningCode::NameReadAsVariant);
            assert!(note.message.contains(entry), "{name}");
            assert!(r.model.arch.checkpoint.is_none());
        }
        assert!(read("Qwen3-8B").note.is_none());
    }

    #[test]
    fn quantized_checkpoints_carry_their_format() {
        let fmt = |name: &str| {
            let r = read(name);
            let c = r.model.arch.checkpoint.clone().unwrap();
            (r.entry.name.clone(), c.format.unwrap())
        };
        let (entry, f) = fmt("Qwen/Qwen3-8B-FP8");
        assert_eq!(
            (entry.as_str(), f.quantization),
            ("Qwen3-8B", Some(Quantization::Fp8))
        );
        let (_, f) = fmt("RedHatAI/Llama-3.1-8B-Instruct-FP8");
        assert_eq!((f.precision, f.quantization), (Precision::Float8, None));
        let (_, f) = fmt("Qwen/Qwen3-0.6B-GPTQ-Int8");
        assert_eq!(
            (f.precision, f.quantization),
            (Precision::Int8, Some(Quantization::Gptq))
        );
        let (_, f) = fmt("hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4");
        assert_eq!(f.quantization, Some(Quantization::Awq));
        let (entry, f) = fmt("unsloth/Llama-3.1-8B-Instruct-bnb-4bit");
        assert_eq!(
            (entry.as_str(), f.quantization),
            ("Llama-3.1-8B", Some(Quantization::Bitsandbytes))
        );
    }

    #[test]
    fn unknown_names_still_suggest() {
        match resolve_name("Qwen3-7B-Instruct") {
            Err(CalcError::UnknownModel { suggestions, .. }) => assert!(!suggestions.is_empty()),
            other => panic!("{other:?}"),
        }
        assert!(resolve_name("it-instruct").is_err());
    }

    #[test]
    fn base_keys_are_unique() {
        let mut keys: Vec<&str> = BY_BASE.iter().map(|(k, _)| k.as_str()).collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "two registry models share a base key");
    }
}
