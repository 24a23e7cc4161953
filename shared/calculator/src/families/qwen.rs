//! Qwen 2 and 3, dense and MoE. Qwen2 hard-codes biases on q/k/v and none on the
//! output projection; Qwen3 drops them and adds per-head q/k RMSNorm. The MoE variants
//! route to `num_experts` experts of `moe_intermediate_size` on every
//! `decoder_sparse_step`-th layer not listed in `mlp_only_layers`; Qwen2-MoE adds a
//! shared expert with a sigmoid gate.

use super::family::{read_dense, read_moe, Experts, Family};
use crate::architecture::{Architecture, QkNorm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `qwen2`
pub const QWEN2: Family = Family {
    name: "qwen2",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_qwen2,
    sliding_layers: qwen_sliding_layers,
};

/// `qwen2_moe`
pub const QWEN2_MOE: Family = Family {
    name: "qwen2_moe",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_qwen2_moe,
    sliding_layers: qwen_sliding_layers,
};

/// `qwen3`
pub const QWEN3: Family = Family {
    name: "qwen3",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_qwen3,
    sliding_layers: qwen_sliding_layers,
};

/// `qwen3_moe`
pub const QWEN3_MOE: Family = Family {
    name: "qwen3_moe",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_qwen3_moe,
    sliding_layers: qwen_sliding_layers,
};

/// `num_experts_per_tok` when a config omits it: `Qwen2MoeConfig`'s default.
const QWEN2_MOE_TOP_K: u64 = 4;
/// `num_experts_per_tok` when a config omits it: `Qwen3MoeConfig`'s default.
const QWEN3_MOE_TOP_K: u64 = 8;

fn qwen2_biases(arch: &mut Architecture) {
    arch.qkv_bias = true;
    arch.o_bias = false;
}

fn read_qwen2(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_dense(keys, c, arch)?;
    qwen2_biases(arch);
    Ok(())
}

fn read_qwen3(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_dense(keys, c, arch)?;
    arch.qk_norm = QkNorm::PerHead;
    Ok(())
}

fn read_qwen2_moe(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    qwen2_biases(arch);
    read_qwen_moe(keys, c, arch, true, QWEN2_MOE_TOP_K)
}

fn read_qwen3_moe(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.qk_norm = QkNorm::PerHead;
    read_qwen_moe(keys, c, arch, false, QWEN3_MOE_TOP_K)
}

/// The MoE layout both generations share; only Qwen2-MoE has a shared expert.
pub(super) fn read_qwen_moe(
    keys: &Keys,
    c: &Common,
    arch: &mut Architecture,
    has_shared_expert: bool,
    default_top_k: u64,
) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.intermediate_size = keys
        .uint(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?
        .unwrap_or(0);
    let expert_width = keys.required(&["moe_intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    let shared = if has_shared_expert {
        keys.uint(
            &["shared_expert_intermediate_size"],
            0,
            limits::MAX_INTERMEDIATE,
        )?
        .unwrap_or(0)
    } else {
        0
    };
    let step = keys
        .uint(&["decoder_sparse_step"], 1, limits::MAX_LAYERS)?
        .unwrap_or(1);
    let dense_only = keys.index_list("mlp_only_layers", c.layers)?;
    let experts = Experts {
        count_keys: &["num_experts"],
        default_top_k,
        router_bias: false,
        default_count: None,
    };
    read_moe(keys, arch, experts, expert_width, shared, |i| {
        !dense_only[i as usize] && (i + 1) % step == 0
    })?;
    let moe_layers = match arch.moe.as_mut() {
        Some(moe) => {
            moe.shared_expert_gate = shared > 0;
            moe.moe_layers
        }
        None => 0,
    };
    if moe_layers < c.layers && arch.intermediate_size == 0 {
        return Err(CalcError::field(
            keys.path("intermediate_size"),
            "is required when some layers keep a dense MLP",
        ));
    }
    Ok(())
}

/// Qwen slides only with `use_sliding_window`, from layer `max_window_layers` on.
fn qwen_sliding_layers(keys: &Keys, c: &Common) -> Result<u64, CalcError> {
    if !keys.flag("use_sliding_window")?.unwrap_or(false) {
        return Ok(0);
    }
    let first = keys
        .uint(&["max_window_layers"], 0, limits::MAX_LAYERS)?
        .unwrap_or(c.layers);
    Ok(c.layers - first.min(c.layers))
}
