//! The per-GPU training total: validation, weights, gradients, optimizer memory and
//! activations put together under ZeRO sharding (`docs/methodology.md` §7.2–7.6).

use super::activations::activation_bytes;
use super::optimizer::{state_bytes, step_workspace_bytes, GradientLayout};
use super::trainable::{smallest_adapted_dimension, trainable_set, Trainable};
use super::vocabulary::Method;
use super::{TrainingDetails, TrainingEstimate, TrainingRequest};
use crate::error::{check_weights, check_workload, to_u64, CalcError};
use crate::limits;
use crate::model::Model;
use crate::precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
use crate::runtime::{compute_bytes, CUDA_CONTEXT_BYTES, FP32_BYTES};
use crate::units::Bytes;

/// Bytes per value of QLoRA's residual stream: PEFT's `prepare_model_for_kbit_training`
/// casts the non-quantized weights (norms included) to fp32, so the hidden states
/// between layers are fp32 (methodology §7.1).
const QLORA_RESIDUAL_BYTES: u128 = FP32_BYTES;

/// The QLoRA paper's base: NF4 with double-quantized constants (methodology §3).
const QLORA_BASE: WeightFormat = WeightFormat {
    precision: Precision::Int4,
    quantization: Some(Quantization::Bitsandbytes),
    group_size: DEFAULT_GROUP_SIZE,
    double_quant: true,
};

/// ZeRO sharding over data-parallel GPUs: stage 1 shards optimizer state (with the
/// fp32 gradient and master copy), stage 2 also the 16-bit gradients, stage 3 also the
/// weights (methodology §7.4). One GPU shards nothing.
#[derive(Clone, Copy)]
struct Sharding {
    gpus: u128,
    stage: u8,
}

impl Sharding {
    fn new(req: &TrainingRequest) -> Sharding {
        let gpus = req.num_gpus as u128;
        Sharding {
            gpus,
            stage: if gpus > 1 { req.zero_stage } else { 0 },
        }
    }

    /// `bytes` held by one GPU for a state that stage `from_stage` and later shard.
    fn shard(self, bytes: u128, from_stage: u8) -> u128 {
        if self.stage >= from_stage {
            bytes.div_ceil(self.gpus)
        } else {
            bytes
        }
    }

    /// ZeRO-3's working set: `bytes` gathered for the layer being computed.
    fn gathered(self, bytes: u128) -> u128 {
        if self.stage >= 3 {
            bytes
        } else {
            0
        }
    }
}

/// Memory one GPU needs to train with `req`.
pub fn estimate_training(
    model: &Model,
    req: &TrainingRequest,
) -> Result<TrainingEstimate, CalcError> {
    let mut warnings = model.warnings.clone();
    let precision = validate(model, req, &mut warnings)?;
    let a = compute_bytes(precision);
    let layout = GradientLayout::new(precision, req.mixed_precision);
    let sharding = Sharding::new(req);
    let trainable = trainable_set(model, req, &mut warnings);
    let t = trainable.elements;
    let params = &model.params;
    // The largest tensor group ZeRO-3 gathers at once: a decoder layer or the embedding.
    let largest_layer = params
        .dense_layer
        .max(params.moe_layer)
        .max(params.embedding_matrix);

    let (weights, base_format) = weight_memory(model, req, t, a, sharding, largest_layer);
    check_weights(weights)?;
    let gradients = sharding.shard(t * layout.grad_16bit, 2)
        + sharding.shard(t * layout.grad_fp32, 1)
        + sharding.gathered(largest_layer.min(t) * a);
    let master = sharding.shard(t * layout.master, 1);
    let states = sharding.shard(state_bytes(req.optimizer, &trainable, layout), 1);
    let workspace = sharding.shard(step_workspace_bytes(req.optimizer, &trainable, layout), 1);
    let resid = if req.method == Method::Qlora {
        QLORA_RESIDUAL_BYTES
    } else {
        a
    };
    let (activations, loss) = activation_bytes(model, req, &trainable, a, resid);
    // The step runs after the activations are freed: only its excess counts (§7.6).
    let optimizer = master + states + workspace.saturating_sub(activations);
    let overhead = CUDA_CONTEXT_BYTES as u128;
    let total = weights + gradients + optimizer + activations + overhead;
    sharding_warnings(model, req, &mut warnings);

    Ok(TrainingEstimate {
        precision,
        mixed_precision: layout.is_mixed(),
        base_format,
        trainable_percent: trainable_percent(model, req, t),
        model_weights: Bytes(to_u64(weights)?),
        gradients_memory: Bytes(to_u64(gradients)?),
        optimizer_memory: Bytes(to_u64(optimizer)?),
        activation_memory: Bytes(to_u64(activations)?),
        runtime_overhead: Bytes(to_u64(overhead)?),
        training_memory: Bytes(to_u64(total)?),
        details: details(&trainable, master, states, workspace, loss)?,
        warnings,
    })
}

/// The share of the model that trains, in percent: as requested, else the share the
/// method trains (the adapters of LoRA and QLoRA, the last layers of freeze, every
/// parameter of full training).
fn trainable_percent(model: &Model, req: &TrainingRequest, trainable: u128) -> f64 {
    req.trainable_percent
        .unwrap_or(trainable as f64 * 100.0 / (model.params.total.max(1) as f64))
}

fn details(
    t: &Trainable,
    master: u128,
    states: u128,
    workspace: u128,
    loss: u128,
) -> Result<TrainingDetails, CalcError> {
    Ok(TrainingDetails {
        trainable_parameters: to_u64(t.elements)?,
        master_weights: Bytes(to_u64(master)?),
        optimizer_states: Bytes(to_u64(states)?),
        optimizer_step_workspace: Bytes(to_u64(workspace)?),
        loss_buffers: Bytes(to_u64(loss)?),
        layers_with_activations: t.grad_layers,
    })
}

/// Checks the request and resolves the compute dtype.
fn validate(
    model: &Model,
    req: &TrainingRequest,
    warnings: &mut Vec<String>,
) -> Result<Precision, CalcError> {
    check_workload(req.batch_size, req.sequence_length, req.num_gpus)?;
    limits::LORA_RANK.check(req.lora_rank)?;
    if let Some(p) = req.trainable_percent {
        limits::TRAINABLE_PARAMETERS.check(p)?;
    }
    if req.method.is_peft() {
        if let Some(d) = smallest_adapted_dimension(model, req.lora_target) {
            if req.lora_rank > d {
                return Err(CalcError::field(
                    "lora_rank",
                    format!(
                        "must be at most {d}, the smallest dimension of the matrices lora_target {} adapts (a larger rank makes adapters bigger than the matrices)",
                        req.lora_target.name()
                    ),
                ));
            }
        }
    }
    let precision = req.precision.unwrap_or_else(|| model.default_precision());
    if precision.is_quantized() {
        return Err(CalcError::field(
            "precision",
            format!(
                "training computes in float32, float16 or bfloat16, not {}; for a 4-bit base use method qlora",
                precision.name()
            ),
        ));
    }
    if let (Some(c), false) = (&model.arch.checkpoint, req.method == Method::Qlora) {
        warnings.push(format!(
            "the published checkpoint stores its weights in {}; training loads them in {}",
            c.method,
            precision.name()
        ));
    }
    // The old field's default (100) is harmless with adapters; any other value would
    // be silently meaningless, so it is an error.
    if req.method.is_peft() && req.trainable_percent == Some(100.0) {
        warnings.push(format!(
            "trainable_parameters applies to methods full and freeze; ignored for {}",
            req.method.name()
        ));
    } else if req.trainable_percent.is_some() && req.method.is_peft() {
        return Err(CalcError::field(
            "trainable_parameters",
            format!(
                "applies to methods full and freeze; {} trains rank-{} adapters (set lora_rank and lora_target)",
                req.method.name(),
                req.lora_rank
            ),
        ));
    }
    limits::ZERO_STAGE.check(req.zero_stage.into())?;
    Ok(precision)
}

/// Weights one GPU holds: the base in its storage (16-bit, or QLoRA's NF4 with the
/// rest in fp32), the adapters, sharded by ZeRO-3 plus the gathered layer; and the
/// QLoRA base format.
fn weight_memory(
    model: &Model,
    req: &TrainingRequest,
    trainable: u128,
    a: u128,
    sharding: Sharding,
    largest_layer: u128,
) -> (u128, Option<WeightFormat>) {
    let params = &model.params;
    let (base, base_format) = match req.method {
        Method::Qlora => {
            // PEFT's prepare_model_for_kbit_training casts every non-quantized weight
            // (embeddings, lm_head, norms, biases) to fp32.
            let (bits, quantized) = model.quantized_linears(&QLORA_BASE, &[]);
            let rest = params.total - quantized;
            ((bits + rest * 32).div_ceil(8), Some(QLORA_BASE))
        }
        _ => (params.total * a, None),
    };
    let adapters = if req.method.is_peft() {
        trainable * a
    } else {
        0
    };
    let weights = sharding.shard(base + adapters, 3) + sharding.gathered(largest_layer * a);
    (weights, base_format)
}

/// Says when the GPU count and the ZeRO stage do not combine as the user may think,
/// and when the sequence is longer than the model was trained for.
fn sharding_warnings(model: &Model, req: &TrainingRequest, warnings: &mut Vec<String>) {
    let n = req.num_gpus;
    if n == 1 && req.zero_stage > 0 {
        warnings.push(format!(
            "zero_stage {} shards across GPUs; with num_gpus 1 nothing is sharded",
            req.zero_stage
        ));
    }
    if n > 1 && req.zero_stage == 0 {
        warnings.push(format!(
            "num_gpus {n} with zero_stage 0: plain data parallelism, every GPU holds a full copy of weights, gradients and optimizer state"
        ));
    }
    if let Some(max) = model.arch.max_position_embeddings {
        if req.sequence_length > max {
            warnings.push(format!(
                "sequence_length {} exceeds the model's max_position_embeddings ({max})",
                req.sequence_length
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;
    use crate::training::{LoraTarget, Optimizer};

    fn llama() -> &'static Model {
        &registry::lookup("Llama-3.1-8B").unwrap().model
    }

    fn run(edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
        let mut req = TrainingRequest::new(1, 1024);
        edit(&mut req);
        estimate_training(llama(), &req).unwrap()
    }

    const PSI: u64 = 8_030_261_248;

    #[test]
    fn precision_settings_keep_what_the_docs_say() {
        let mixed = run(|_| {});
        assert!(mixed.mixed_precision);
        assert_eq!(mixed.model_weights.0, 2 * PSI);
        assert_eq!(mixed.gradients_memory.0, 6 * PSI);
        assert_eq!(mixed.details.master_weights.0, 4 * PSI);
        assert_eq!(mixed.details.optimizer_states.0, 8 * PSI);
        let pure = run(|r| r.mixed_precision = false);
        assert_eq!(pure.gradients_memory.0, 2 * PSI);
        assert_eq!(pure.details.master_weights.0, 0);
        assert_eq!(pure.details.optimizer_states.0, 4 * PSI);
        let fp32 = run(|r| r.precision = Some(Precision::Float32));
        assert!(!fp32.mixed_precision);
        assert_eq!(fp32.model_weights.0, 4 * PSI);
        assert_eq!(fp32.gradients_memory.0, 4 * PSI);
        assert_eq!(fp32.details.optimizer_states.0, 8 * PSI);
    }

    #[test]
    fn zero_stages_shard_progressively() {
        let stage = |z| {
            run(|r| {
                r.num_gpus = 8;
                r.zero_stage = z;
            })
        };
        let (s0, s1, s2, s3) = (stage(0), stage(1), stage(2), stage(3));
        assert_eq!(
            s1.details.optimizer_states.0,
            s0.details.optimizer_states.0.div_ceil(8)
        );
        assert_eq!(s1.gradients_memory.0, 2 * PSI + (4 * PSI).div_ceil(8));
        assert_eq!(
            s2.gradients_memory.0,
            (2 * PSI).div_ceil(8) + (4 * PSI).div_ceil(8)
        );
        assert!(s3.model_weights.0 < s2.model_weights.0 / 4);
        assert!(s0.training_memory > s1.training_memory);
        assert!(s1.training_memory > s2.training_memory);
        assert!(s2.training_memory > s3.training_memory);
    }

    #[test]
    fn published_rates_match_the_accounting() {
        for o in Optimizer::ALL {
            let e = run(|r| r.optimizer = o);
            let per_param = |bytes: Bytes| bytes.0 as f64 / PSI as f64;
            // Adafactor's factored state and its per-tensor step depend on shapes.
            let shaped = o == Optimizer::Adafactor;
            match o.state_bytes_per_param(true) {
                Some(rate) => assert!((per_param(e.details.optimizer_states) - rate).abs() < 1e-6),
                None => assert!(shaped, "{}", o.name()),
            }
            match o.step_workspace_bytes_per_param(true) {
                Some(rate) => assert!(
                    (per_param(e.details.optimizer_step_workspace) - rate).abs() < 1e-6,
                    "{}",
                    o.name()
                ),
                None => assert!(shaped || o == Optimizer::Lion, "{}", o.name()),
            }
        }
        assert_eq!(
            Optimizer::AdamW.step_workspace_bytes_per_param(false),
            Some(2.0)
        );
    }

    #[test]
    fn optimizers_differ_only_in_state() {
        let adam = run(|_| {});
        let sgd = run(|r| r.optimizer = Optimizer::SgdNoMomentum);
        let bnb = run(|r| r.optimizer = Optimizer::QuantizedAdamW);
        assert_eq!(sgd.details.optimizer_states.0, 0);
        assert_eq!(
            bnb.details.optimizer_states.0,
            2 * PSI + 2 * PSI.div_ceil(256) * 4
        );
        assert_eq!(adam.gradients_memory, sgd.gradients_memory);
    }

    #[test]
    fn checkpointing_and_flash_attention_change_activations() {
        let plain = run(|r| r.sequence_length = 4096);
        let ckpt = run(|r| {
            r.sequence_length = 4096;
            r.gradient_checkpointing = true;
        });
        let eager = run(|r| {
            r.sequence_length = 4096;
            r.use_flash_attention = false;
        });
        assert!(ckpt.activation_memory.0 < plain.activation_memory.0 / 2);
        // 32 layers x 32 heads x 4096^2 x (4 + 2) bytes of scores on top.
        assert_eq!(
            eager.activation_memory.0 - plain.activation_memory.0,
            32 * 32 * 4096 * 4096 * 6
        );
    }

    #[test]
    fn methods_train_what_they_say() {
        let freeze = run(|r| r.method = Method::Freeze);
        let layer = llama().params.dense_layer as u64;
        assert_eq!(freeze.details.trainable_parameters, 2 * layer);
        assert_eq!(freeze.details.layers_with_activations, 2);
        let lora = run(|r| {
            r.method = Method::Lora;
            r.lora_target = LoraTarget::Attention;
        });
        // Rank 8 on q, k, v, o of 32 layers: 8 x ((4096+4096) + 2 x (4096+1024) + (4096+4096)).
        assert_eq!(
            lora.details.trainable_parameters,
            32 * 8 * (8192 + 2 * 5120 + 8192)
        );
        let ok = run(|r| {
            r.method = Method::Lora;
            r.trainable_percent = Some(100.0);
        });
        assert!(ok.warnings.iter().any(|w| w.contains("ignored for lora")));
        let mut req = TrainingRequest::new(1, 1024);
        req.method = Method::Qlora;
        req.trainable_percent = Some(50.0);
        assert!(matches!(
            estimate_training(llama(), &req),
            Err(CalcError::InvalidField { ref field, .. }) if field == "trainable_parameters"
        ));
    }
}
