//! vLLM's pipeline parallelism (`--pipeline-parallel-size`): the decoder layers split
//! into consecutive stages, one per pipeline rank, each stage split `num_gpus` ways by
//! tensor parallelism; the first stage also holds the token embedding, the last the
//! final norm and `lm_head`. Every stage runs its own profile and sizes its own KV pool
//! for its layers, and the engine takes the fewest blocks any stage has
//! (`docs/methodology.md` §10, "Pipeline stages").

use std::ops::Range;

use crate::checkpoint::ModuleScope;
use crate::error::CalcError;
use crate::model::Model;
use crate::weights::{weight_bytes, WeightStorage};

/// One pipeline stage: its layers, the model it makes for the profile run and the
/// pool, and the bytes of weights it holds before the tensor-parallel split.
pub(crate) struct Stage {
    /// The stage's layers as a model (vocabulary kept, for the last stage's sampler).
    pub model: Model,
    /// Bytes of its weights: its layers, and the embedding or `lm_head` it holds.
    pub weight_bytes: u128,
}

/// vLLM's split of `layers` over `stages` ranks (`get_pp_indices`,
/// vllm-project/vllm@5a6541db9bfa77756459722f69e8c89a0b47a14d
/// `vllm/distributed/utils.py`): `layers / stages` each, and the remainder one more
/// each on the ranks just before the last, which holds `lm_head`.
pub(crate) fn stage_layers(layers: u64, stages: u64) -> Vec<Range<u64>> {
    let base = layers / stages;
    let remainder = layers % stages;
    let mut sizes = vec![base; stages as usize];
    for i in 0..remainder as usize {
        sizes[stages as usize - 2 - i] += 1;
    }
    let mut start = 0;
    sizes
        .into_iter()
        .map(|size| {
            let range = start..start + size;
            start += size;
            range
        })
        .collect()
}

/// Why `model` cannot be split into pipeline stages here, if it cannot: the stages are
/// modelled for decoders whose layers all attend alike.
pub(crate) fn check(model: &Model, stages: u64) -> Result<(), CalcError> {
    let arch = &model.arch;
    let why = if stages > arch.num_layers {
        Some(format!(
            "must be at most the model's {} decoder layers",
            arch.num_layers
        ))
    } else if arch.mixer.is_some() || arch.sliding_layers > 0 || arch.ffn_free_layers > 0 {
        Some("pipeline stages of models with linear-attention, state-space or windowed layers are not modelled (their layer groups differ per stage)".to_owned())
    } else if arch.mtp_fusion_params > 0 || arch.vision_tower_params.is_some() {
        // MTP layers a checkpoint only stores (`load_mtp` off) are not loaded.
        Some(
            "pipeline stages with loaded multi-token-prediction layers or a vision tower are not modelled"
                .to_owned(),
        )
    } else if arch.learned_positions > 0 || arch.embedding_dim != arch.hidden_size {
        Some("pipeline stages of models with learned positions or a projected embedding are not modelled".to_owned())
    } else {
        None
    };
    why.map_or(Ok(()), |w| {
        Err(CalcError::field("pipeline_parallel_size", w))
    })
}

/// Every stage of `model` split `stages` ways, with the bytes each holds in `storage`.
pub(crate) fn stages(
    model: &Model,
    storage: &WeightStorage,
    stages: u64,
) -> Result<Vec<Stage>, CalcError> {
    check(model, stages)?;
    let ranges = stage_layers(model.arch.num_layers, stages);
    let last = ranges.len() - 1;
    ranges
        .into_iter()
        .enumerate()
        .map(|(i, layers)| stage(model, storage, layers, i == 0, i == last))
        .collect()
}

fn stage(
    model: &Model,
    storage: &WeightStorage,
    layers: Range<u64>,
    first: bool,
    last: bool,
) -> Result<Stage, CalcError> {
    let stage_model = slice(model, &layers, model.arch.vocab_size);
    // The layers' bytes: the same slice without a vocabulary, so that no embedding is
    // counted, in the checkpoint's storage with its unquantized scopes renumbered.
    let bare = slice(model, &layers, 0);
    let unquantized = renumber(storage.unquantized, &layers);
    let layer_bytes = weight_bytes(
        &bare,
        &WeightStorage {
            format: storage.format,
            unquantized: &unquantized,
        },
    );
    // The embedding and `lm_head` are V x h matrices, 16-bit in quantized storage.
    let bits = if storage.format.precision.is_quantized() {
        16
    } else {
        storage.format.precision.bits() as u128
    };
    let matrix = (model.params.embedding_matrix * bits).div_ceil(8);
    let ends = u128::from(first) + u128::from(last);
    Ok(Stage {
        model: stage_model,
        weight_bytes: layer_bytes + ends * matrix,
    })
}

/// `model`'s layers `layers` as a model of their own, with a vocabulary of `vocab`.
fn slice(model: &Model, layers: &Range<u64>, vocab: u64) -> Model {
    let mut arch = model.arch.clone();
    let cut = |mask: &[bool]| -> Vec<bool> {
        if mask.is_empty() {
            Vec::new()
        } else {
            mask[layers.start as usize..layers.end as usize].to_vec()
        }
    };
    arch.num_layers = layers.end - layers.start;
    arch.mtp_layers = 0;
    arch.attention_layers = arch.num_layers;
    arch.attention_layer_mask = cut(&model.arch.attention_layer_mask);
    arch.moe_layer_mask = cut(&model.arch.moe_layer_mask);
    if let Some(moe) = arch.moe.as_mut() {
        moe.moe_layers = arch.moe_layer_mask.iter().filter(|m| **m).count() as u64;
    }
    arch.vocab_size = vocab;
    // One vocabulary matrix at most: a stage holds the embedding or `lm_head`.
    arch.tie_word_embeddings = true;
    Model::from_architecture(arch, Vec::new())
}

/// The checkpoint's per-layer scopes for the stage's layers, numbered from its first.
fn renumber(scopes: &[ModuleScope], layers: &Range<u64>) -> Vec<ModuleScope> {
    scopes
        .iter()
        .filter_map(|s| match s.layer {
            None => Some(*s),
            Some(l) if layers.contains(&l) => Some(ModuleScope {
                layer: Some(l - layers.start),
                kind: s.kind,
            }),
            Some(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vllm_gives_the_remainder_to_the_ranks_before_the_last() {
        assert_eq!(stage_layers(126, 2), vec![0..63, 63..126]);
        // DeepSeek-V3's 61 layers over 2: 31 and 30; over 4: 15, 15, 16, 15.
        assert_eq!(stage_layers(61, 2), vec![0..31, 31..61]);
        assert_eq!(stage_layers(61, 4), vec![0..15, 15..30, 30..46, 46..61]);
        assert_eq!(stage_layers(80, 1), vec![0..80]);
    }
}
