//! The tensor-parallel splits vLLM's quantized weight kernels refuse at start-up: each
//! GPU's share of a sharded matrix must hold whole blocks or groups of the format
//! (methodology §10, "Splits the weight kernels refuse"). Matrices the checkpoint keeps in 16-bit, and widths no GPU
//! splits (replicated projections, MLA's down-projections), are exempt.

use crate::architecture::Architecture;
use crate::checkpoint::ModuleScope;
use crate::choice::Choice;
use crate::linear::LinearKind;
use crate::precision::{Quantization, WeightFormat};

/// How every refusal of a split begins, so that a planner skipping the degree can tell
/// it from the head-count rules.
pub const KERNEL_REFUSAL: &str = "vLLM refuses to load these weights";

/// Fine-grained FP8's block, values: `weight_block_size` `[128, 128]`, output rows
/// (`block_n`) by input columns (`block_k`), the only block the calculator reads.
const FP8_BLOCK: u64 = 128;

/// One sharded width of one kind of matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shard {
    /// What it is, as messages name it.
    what: &'static str,
    /// Which weights it belongs to (16-bit exemptions are by kind).
    kind: LinearKind,
    /// The whole width before the split, values.
    whole: u64,
    /// Whether the split is of the input (row parallel: `o_proj`, `down_proj`) rather
    /// than of the output (column parallel: q/k/v, gate/up).
    input: bool,
}

/// The widths tensor parallelism splits in `arch`. Key/value heads are split while
/// there are at least as many as GPUs, else replicated, one head a GPU: the width per
/// GPU is then one head's, which `kv_per_gpu` covers.
fn shards(arch: &Architecture, tp: u64) -> Vec<Shard> {
    let att = LinearKind::Attention;
    let mut out = Vec::new();
    let mut add = |what, kind, whole: u64, input| {
        if whole > 0 {
            out.push(Shard {
                what,
                kind,
                whole,
                input,
            })
        }
    };
    match &arch.mla {
        Some(m) => {
            let q = m.qk_nope_head_dim + m.qk_rope_head_dim;
            add("q_b_proj output", att, arch.num_heads * q, false);
            let kv = m.qk_nope_head_dim + m.v_head_dim;
            add("kv_b_proj output", att, arch.num_heads * kv, false);
            add("o_proj input", att, arch.num_heads * m.v_head_dim, true);
        }
        None => {
            add("q_proj output", att, arch.num_heads * arch.head_dim, false);
            let kv_per_gpu = arch.num_kv_heads.max(tp) * arch.head_dim;
            add("k_proj/v_proj output", att, kv_per_gpu, false);
            add("o_proj input", att, arch.num_heads * arch.head_dim, true);
        }
    }
    if arch.moe_layer_mask.iter().any(|moe| !moe) {
        add(
            "gate_up_proj output",
            LinearKind::Mlp,
            arch.intermediate_size,
            false,
        );
        add(
            "down_proj input",
            LinearKind::Mlp,
            arch.intermediate_size,
            true,
        );
    }
    if let Some(moe) = &arch.moe {
        let shared = LinearKind::SharedExpert;
        add(
            "shared expert's gate/up output",
            shared,
            moe.shared_intermediate,
            false,
        );
        add(
            "shared expert's down input",
            shared,
            moe.shared_intermediate,
            true,
        );
        let expert = LinearKind::Expert;
        add(
            "experts' gate/up (w13) output",
            expert,
            moe.expert_intermediate,
            false,
        );
        add(
            "experts' down (w2) input",
            expert,
            moe.expert_intermediate,
            true,
        );
    }
    out
}

/// What a GPU's shard of a matrix in `format` must be a multiple of, if anything: the
/// shard's width in, whether it is an input split, and the whole width. With the rule's
/// words.
fn multiple(format: &WeightFormat, input: bool, whole: u64) -> Option<(u64, String)> {
    match format.quantization {
        // vLLM's `validate_fp8_block_shape` (linear layers) and `Fp8MoEMethod`'s
        // `create_weights` (experts): output shards by block_n, input shards by block_k.
        Some(Quantization::Fp8) => Some((
            FP8_BLOCK,
            format!("fine-grained FP8 stores {FP8_BLOCK}x{FP8_BLOCK} blocks, which each GPU's shard must hold whole"),
        )),
        // `GPTQLinearMethod`/`AWQLinearMethod` (and their Marlin forms): an input shard
        // holds whole groups, unless one group spans the whole input.
        Some(q @ (Quantization::Gptq | Quantization::Awq))
            if input && format.group_size < whole =>
        {
            Some((
                format.group_size.max(1),
                format!(
                    "{} quantizes in groups of {} input channels, which each GPU's shard must hold whole",
                    q.name(),
                    format.group_size
                ),
            ))
        }
        _ => None,
    }
}

/// Why vLLM refuses to load `arch`'s weights in `format` split over `tp` GPUs, if it
/// does. `unquantized` are the matrices the checkpoint keeps in 16-bit. Under expert
/// parallelism (`whole_experts`) no expert is split, so only the other matrices count.
pub fn refused_split(
    arch: &Architecture,
    format: &WeightFormat,
    unquantized: &[ModuleScope],
    tp: u64,
    whole_experts: bool,
) -> Option<String> {
    if tp <= 1 {
        return None;
    }
    let in_16_bit = |kind| {
        unquantized
            .iter()
            .any(|s| s.layer.is_none() && s.kind == kind)
    };
    shards(arch, tp)
        .into_iter()
        .filter(|s| !(whole_experts && s.kind == LinearKind::Expert))
        .filter(|s| !in_16_bit(s.kind) && s.whole.is_multiple_of(tp))
        .find_map(|s| {
            let (step, rule) = multiple(format, s.input, s.whole)?;
            let width = s.whole / tp;
            (!width.is_multiple_of(step)).then(|| {
                let remedy = if s.kind == LinearKind::Expert {
                    "expert parallelism (vLLM's --enable-expert-parallel keeps each expert whole on one GPU) or a smaller tensor-parallel degree"
                } else {
                    "a smaller tensor-parallel degree"
                };
                format!(
                    "{KERNEL_REFUSAL} over {tp} GPUs: the {} is {width} wide on each ({} / {tp}), not a multiple of {step} ({rule}); {remedy} avoids it",
                    s.what, s.whole
                )
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::resolve_name;
    use crate::precision::Precision;

    fn format(q: Quantization, group: u64) -> WeightFormat {
        WeightFormat {
            precision: if q == Quantization::Fp8 {
                Precision::Float8
            } else {
                Precision::Int4
            },
            quantization: Some(q),
            group_size: group,
            double_quant: false,
        }
    }

    fn arch(name: &str) -> Architecture {
        resolve_name(name).unwrap().model.arch.clone()
    }

    #[test]
    fn fp8_experts_of_1536_do_not_split_eight_ways() {
        // Qwen3-235B-A22B: experts 1536 wide, 192 on each of eight GPUs.
        let a = arch("Qwen3-235B-A22B");
        let fp8 = format(Quantization::Fp8, 128);
        let why = refused_split(&a, &fp8, &[], 8, false).unwrap();
        assert!(
            why.contains("experts' gate/up (w13) output is 192 wide"),
            "{why}"
        );
        assert!(why.contains("expert parallel"), "{why}");
        assert_eq!(refused_split(&a, &fp8, &[], 4, false), None);
        // Kept in 16-bit, the experts are no longer blocked.
        let experts = [ModuleScope {
            layer: None,
            kind: LinearKind::Expert,
        }];
        assert_eq!(refused_split(&a, &fp8, &experts, 8, false), None);
        // Under expert parallelism each expert stays whole on one GPU.
        assert_eq!(refused_split(&a, &fp8, &[], 8, true), None);
    }

    #[test]
    fn deepseek_v3_splits_sixteen_ways() {
        let a = arch("DeepSeek-V3");
        let fp8 = format(Quantization::Fp8, 128);
        for tp in [2, 4, 8, 16] {
            assert_eq!(refused_split(&a, &fp8, &[], tp, false), None, "tp {tp}");
        }
    }

    #[test]
    fn group_wise_formats_need_whole_groups_on_each_gpu() {
        // Llama-3.1-8B: o_proj's input is 4096 = 32 groups of 128; split 8 ways 512 = 4
        // groups, but in groups of 1024 half of one.
        let a = arch("Llama-3.1-8B");
        assert_eq!(
            refused_split(&a, &format(Quantization::Awq, 128), &[], 8, false),
            None
        );
        let why = refused_split(&a, &format(Quantization::Gptq, 1024), &[], 8, false).unwrap();
        assert!(why.contains("o_proj input is 512 wide"), "{why}");
        // One group over the whole input (group_size -1): nothing to split.
        assert_eq!(
            refused_split(&a, &format(Quantization::Gptq, 1 << 20), &[], 8, false),
            None
        );
    }

    #[test]
    fn formats_without_blocks_split_anywhere() {
        let a = arch("Qwen3-235B-A22B");
        for q in [
            Quantization::Mxfp4,
            Quantization::Nvfp4,
            Quantization::Bitsandbytes,
        ] {
            assert_eq!(
                refused_split(&a, &format(q, 128), &[], 8, false),
                None,
                "{q:?}"
            );
        }
        assert_eq!(
            refused_split(&a, &format(Quantization::Fp8, 128), &[], 1, false),
            None
        );
    }
}
