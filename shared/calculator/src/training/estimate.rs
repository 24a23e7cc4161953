//! The per-GPU training total: validation, weights, gradients, optimizer memory and
//! activations put together under ZeRO sharding (`docs/methodology.md` §7.2–7.6).

use super::activations::{activation_bytes, Casting};
use super::framework::{
    place, DeepspeedSettings, Framework, FsdpSharding, Offload, Placement, StateInputs,
    DEFAULT_GPUS_PER_NODE,
};
use super::optimizer::{state_bytes, step_workspace_bytes, GradientLayout};
use super::trainable::{smallest_adapted_dimension, trainable_set, Trainable};
use super::vocabulary::{Loss, Method, Optimizer, OptimizerImplementation};
use super::{TrainingDetails, TrainingEstimate, TrainingRequest};
use crate::choice::Choice;
use crate::error::{check_weights, to_u64, CalcError};
use crate::limits;
use crate::model::Model;
use crate::precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
use crate::runtime::{compute_bytes, CUDA_CONTEXT_BYTES, FP32_BYTES};
use crate::units::Bytes;
use crate::warning::{Warning, WarningCode};

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

/// The request's own errors, without sizing anything: ranges, the method's and the
/// framework's settings, offload. [`estimate_training`] refuses the same requests.
pub fn check_training(model: &Model, req: &TrainingRequest) -> Result<(), CalcError> {
    checked(model, req, &mut Vec::new()).map(drop)
}

/// The compute dtype and the framework of a valid request, with what they imply.
fn checked(
    model: &Model,
    req: &TrainingRequest,
    warnings: &mut Vec<Warning>,
) -> Result<(Precision, Framework), CalcError> {
    let precision = validate(model, req, warnings)?;
    let framework = resolve_framework(req);
    check_framework(req, framework, precision, warnings)?;
    Ok((precision, framework))
}

/// Memory one GPU needs to train with `req`.
pub fn estimate_training(
    model: &Model,
    req: &TrainingRequest,
) -> Result<TrainingEstimate, CalcError> {
    let mut warnings = model.warnings.clone();
    let (precision, framework) = checked(model, req, &mut warnings)?;
    let implementation = req
        .optimizer_implementation
        .unwrap_or(OptimizerImplementation::DEFAULT);
    let fsdp_sharding = req.fsdp_sharding.unwrap_or(FsdpSharding::DEFAULT);
    let a = compute_bytes(precision);
    let layout = GradientLayout::new(precision, req.mixed_precision);
    let trainable = trainable_set(model, req, &mut warnings);
    let t = trainable.elements;
    let params = &model.params;
    let (peft_base, base_format) = peft_base(model, req, a);
    let gpus = req.num_gpus as u128;
    let per_node = gpus_per_node(req) as u128;
    let inputs = StateInputs {
        framework,
        layout,
        peft_base,
        model_elements: params.total,
        trainable: t,
        cast_elements: trainable.linear_elements,
        // The largest tensor group a sharding framework gathers at once: a decoder
        // layer or the embedding.
        largest_layer: model
            .layer_parameters()
            .into_iter()
            .max()
            .unwrap_or(0)
            .max(params.embedding_matrix),
        compute: a,
        states: state_bytes(req.optimizer, &trainable, layout),
        workspace: step_workspace_bytes(req.optimizer, implementation, &trainable, layout),
        gpus,
        shard_group: match fsdp_sharding {
            FsdpSharding::HybridShard => per_node,
            FsdpSharding::NoShard => 1,
            _ => gpus,
        },
        zero_stage: req.zero_stage,
        fsdp_sharding,
        offload_optimizer: req.offload_optimizer,
        offload_parameters: req.offload_parameters,
        deepspeed: req.deepspeed.unwrap_or_default(),
    };
    let placed = place(&inputs);
    let weights = placed.weights + placed.autocast_copies;
    check_weights(weights)?;
    let gradients = placed.gradients + placed.comm_buffers;
    let casting = casting(req, framework, layout, a);
    let (activations, loss) = activation_bytes(model, req, &trainable, &casting);
    // The step runs after the activations are freed: only its excess counts (§7.6).
    let optimizer = placed.master + placed.states + placed.workspace.saturating_sub(activations);
    let overhead = CUDA_CONTEXT_BYTES as u128;
    let total = weights + gradients + optimizer + activations + overhead;
    sharding_warnings(model, req, framework, &mut warnings);

    Ok(TrainingEstimate {
        framework,
        optimizer_implementation: implementation,
        fsdp_sharding: (framework == Framework::Fsdp).then_some(fsdp_sharding),
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
        host_memory_per_node: Bytes(to_u64(placed.host * per_node)?),
        nvme_per_node: Bytes(to_u64(placed.nvme * per_node)?),
        details: details(&trainable, &placed, loss)?,
        warnings,
    })
}

/// How the framework feeds its matmuls: torch autocast over an fp32 model keeps the
/// residual stream in fp32 and every trained projection casts its input; PEFT's fp32
/// adapters under autocast cast theirs, as dropout copies them; QLoRA's residual is
/// fp32 (§7.1, §7.5).
fn casting(
    req: &TrainingRequest,
    framework: Framework,
    layout: GradientLayout,
    a: u128,
) -> Casting {
    let autocast = framework == Framework::Transformers && layout.is_mixed();
    let peft = req.method.is_peft();
    Casting {
        a,
        resid: if req.method == Method::Qlora {
            QLORA_RESIDUAL_BYTES
        } else if autocast && !peft {
            FP32_BYTES
        } else {
            a
        },
        norms_trained: !peft,
        input_casts: autocast && !peft,
        adapter_copies: peft && (autocast || req.lora_dropout > 0.0),
    }
}

/// GPUs of one node: the request's, else the default, never more than `num_gpus`.
fn gpus_per_node(req: &TrainingRequest) -> u64 {
    req.gpus_per_node
        .unwrap_or(DEFAULT_GPUS_PER_NODE)
        .min(req.num_gpus)
        .max(1)
}

/// The framework: the request's, else DeepSpeed when a ZeRO stage is given (the only
/// framework with stages), else transformers.
fn resolve_framework(req: &TrainingRequest) -> Framework {
    match req.framework {
        Some(f) => f,
        None if req.zero_stage > 0 || req.deepspeed.is_some() => Framework::Deepspeed,
        None if req.fsdp_sharding.is_some() => Framework::Fsdp,
        None => Framework::Transformers,
    }
}

/// Refuses settings the framework does not have, and says what a setting implies.
fn check_framework(
    req: &TrainingRequest,
    framework: Framework,
    precision: Precision,
    warnings: &mut Vec<Warning>,
) -> Result<(), CalcError> {
    check_framework_fields(req, framework)?;
    check_deepspeed_settings(req, warnings);
    if framework == Framework::Fsdp {
        check_fsdp(req, warnings)?;
    }
    check_method_fields(req)?;
    let pure_16bit = !req.mixed_precision && precision != Precision::Float32;
    if framework == Framework::Deepspeed && pure_16bit {
        return Err(CalcError::field(
            "mixed_precision",
            "DeepSpeed's bf16 and fp16 modes always keep fp32 master weights and optimizer state; pure 16-bit training is not one of its modes (set mixed_precision true, or use framework transformers or fsdp)",
        ));
    }
    if let Some(implementation) = req.optimizer_implementation {
        if !matches!(req.optimizer, Optimizer::AdamW | Optimizer::Adam) {
            warnings.push(Warning::new(WarningCode::OptimizerImplementationIgnored, format!(
                "optimizer_implementation {} applies to Adam and AdamW; {} is accounted as its own implementation runs",
                implementation.name(),
                req.optimizer.name()
            )));
        }
    }
    check_offload(req, framework, warnings)
}

/// A ZeRO stage, an FSDP strategy or DeepSpeed settings under another framework.
fn check_framework_fields(req: &TrainingRequest, framework: Framework) -> Result<(), CalcError> {
    let name = framework.name();
    if req.zero_stage > 0 && framework != Framework::Deepspeed {
        return Err(CalcError::field(
            "zero_stage",
            format!("ZeRO stages are DeepSpeed's; framework {name} does not have them (use framework deepspeed, or fsdp with fsdp_sharding)"),
        ));
    }
    if req.fsdp_sharding.is_some() && framework != Framework::Fsdp {
        return Err(CalcError::field(
            "fsdp_sharding",
            format!("applies to framework fsdp, not {name}"),
        ));
    }
    if req.deepspeed.is_some() && framework != Framework::Deepspeed {
        return Err(CalcError::field(
            "framework",
            format!("reduce_bucket_size, overlap_comm and sub_group_size are DeepSpeed settings; framework is {name}"),
        ));
    }
    Ok(())
}

/// DeepSpeed settings that the stage makes ineffective are said.
fn check_deepspeed_settings(req: &TrainingRequest, warnings: &mut Vec<Warning>) {
    let Some(ds) = req.deepspeed else {
        return;
    };
    if req.zero_stage == 0 {
        warnings.push(Warning::new(WarningCode::DeepspeedSettingIgnored, "reduce_bucket_size, overlap_comm and sub_group_size have no effect at zero_stage 0 (no gradient buckets, no sub-groups)"));
    } else if req.zero_stage < 3 && ds.sub_group_size != DeepspeedSettings::default().sub_group_size
    {
        warnings.push(Warning::new(
            WarningCode::DeepspeedSettingIgnored,
            "sub_group_size applies to zero_stage 3; ignored",
        ));
    }
}

/// Hybrid sharding needs whole nodes; one GPU shards nothing.
fn check_fsdp(req: &TrainingRequest, warnings: &mut Vec<Warning>) -> Result<(), CalcError> {
    let per_node = gpus_per_node(req);
    if req.fsdp_sharding == Some(FsdpSharding::HybridShard)
        && !req.num_gpus.is_multiple_of(per_node)
    {
        return Err(CalcError::field(
            "gpus_per_node",
            format!("hybrid_shard needs num_gpus ({}) to be a whole number of nodes of gpus_per_node ({per_node})", req.num_gpus),
        ));
    }
    if req.num_gpus == 1 {
        warnings.push(Warning::new(
            WarningCode::NothingSharded,
            "framework fsdp with num_gpus 1: nothing is sharded",
        ));
    }
    Ok(())
}

/// `loss_chunks` without the chunked loss, `lora_dropout` without adapters.
fn check_method_fields(req: &TrainingRequest) -> Result<(), CalcError> {
    if req.loss_chunks.is_some() && req.loss != Loss::Chunked {
        return Err(CalcError::field(
            "loss_chunks",
            format!("applies to loss chunked, not {}", req.loss.name()),
        ));
    }
    if req.lora_dropout > 0.0 && !req.method.is_peft() {
        return Err(CalcError::field(
            "lora_dropout",
            format!(
                "applies to methods lora and qlora, not {}",
                req.method.name()
            ),
        ));
    }
    Ok(())
}

/// Offload as each framework allows it: DeepSpeed's optimizer offload from stage 1 (to
/// NVMe from stage 3) and parameter offload at stage 3; FSDP's one CPU switch, which
/// moves parameters, gradients and the optimizer step together.
fn check_offload(
    req: &TrainingRequest,
    framework: Framework,
    warnings: &mut Vec<Warning>,
) -> Result<(), CalcError> {
    let (opt, par) = (req.offload_optimizer, req.offload_parameters);
    let refuse = |field: &str, why: &str| Err(CalcError::field(field, why.to_string()));
    match framework {
        Framework::Transformers => {
            if opt != Offload::None {
                return refuse(
                    "offload_optimizer",
                    "framework transformers (DDP) has no offload; use framework deepspeed or fsdp",
                );
            }
            if par != Offload::None {
                return refuse(
                    "offload_parameters",
                    "framework transformers (DDP) has no offload; use framework deepspeed or fsdp",
                );
            }
        }
        Framework::Deepspeed => {
            // ZeRO-Offload steps with DeepSpeed's CPU optimizers (CPU Adam/AdamW, CPU
            // Lion; `zero_force_ds_cpu_optimizer` refuses others).
            let cpu_optimizer = matches!(
                req.optimizer,
                Optimizer::AdamW | Optimizer::Adam | Optimizer::Lion
            );
            if opt != Offload::None && !cpu_optimizer {
                return Err(CalcError::field("offload_optimizer", format!("DeepSpeed offloads the optimizer step to its CPU Adam, AdamW or Lion (zero_force_ds_cpu_optimizer, on by default), not {}", req.optimizer.name())));
            }
            if opt != Offload::None && req.zero_stage == 0 {
                return refuse(
                    "offload_optimizer",
                    "DeepSpeed offloads the optimizer from zero_stage 1",
                );
            }
            if opt == Offload::Nvme && req.zero_stage < 3 {
                return refuse("offload_optimizer", "DeepSpeed offloads the optimizer to NVMe only with zero_stage 3 (ZeRO-Infinity); use cpu");
            }
            if par != Offload::None && req.zero_stage < 3 {
                return refuse(
                    "offload_parameters",
                    "DeepSpeed offloads parameters only with zero_stage 3",
                );
            }
        }
        Framework::Fsdp => {
            let offloaded = opt != Offload::None || par != Offload::None;
            if offloaded && req.optimizer == Optimizer::QuantizedAdamW {
                return refuse("offload_optimizer", "bitsandbytes' 8-bit AdamW steps on the GPU only; FSDP's CPU offload steps on the CPU");
            }
            if opt == Offload::Nvme {
                return refuse("offload_optimizer", "FSDP offloads to the CPU only");
            }
            if par == Offload::Nvme {
                return refuse("offload_parameters", "FSDP offloads to the CPU only");
            }
            if opt != par {
                warnings.push(Warning::new(WarningCode::FsdpOffloadTogether, "FSDP offloads parameters, gradients and the optimizer step together (CPUOffload(offload_params=True)); accounted as both offloaded"));
            }
        }
    }
    Ok(())
}

/// The share of the model that trains, in percent: as requested, else the share the
/// method trains (the adapters of LoRA and QLoRA, the last layers of freeze, every
/// parameter of full training).
fn trainable_percent(model: &Model, req: &TrainingRequest, trainable: u128) -> f64 {
    req.trainable_percent
        .unwrap_or(trainable as f64 * 100.0 / (model.params.total.max(1) as f64))
}

fn details(t: &Trainable, p: &Placement, loss: u128) -> Result<TrainingDetails, CalcError> {
    Ok(TrainingDetails {
        trainable_parameters: to_u64(t.elements)?,
        master_weights: Bytes(to_u64(p.master)?),
        optimizer_states: Bytes(to_u64(p.states)?),
        optimizer_step_workspace: Bytes(to_u64(p.workspace)?),
        communication_buffers: Bytes(to_u64(p.comm_buffers)?),
        autocast_weight_copies: Bytes(to_u64(p.autocast_copies)?),
        loss_buffers: Bytes(to_u64(loss)?),
        layers_with_activations: t.grad_layers,
    })
}

/// Checks the request and resolves the compute dtype.
fn validate(
    model: &Model,
    req: &TrainingRequest,
    warnings: &mut Vec<Warning>,
) -> Result<Precision, CalcError> {
    limits::check_workload(req.batch_size, req.sequence_length, req.num_gpus)?;
    if let Some(m) = model.arch.mixer {
        warnings.push(Warning::new(WarningCode::MixerActivationsDerived, format!(
            "activations of the {} layers are derived from what their fast kernels save ({}), not yet measured on a GPU; transformers' PyTorch fallback without those kernels keeps more",
            m.kind.name(),
            m.kind.training_kernels()
        )));
    }
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
        warnings.push(Warning::new(
            WarningCode::CheckpointLoadedForTraining,
            format!(
                "the published checkpoint stores its weights in {}; training loads them in {}",
                c.method,
                precision.name()
            ),
        ));
    }
    // The old field's default (100) is harmless with adapters; any other value would
    // be silently meaningless, so it is an error.
    if req.method.is_peft() && req.trainable_percent == Some(100.0) {
        warnings.push(Warning::new(
            WarningCode::TrainableParametersIgnored,
            format!(
                "trainable_parameters applies to methods full and freeze; ignored for {}",
                req.method.name()
            ),
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
    if let Some(n) = req.gpus_per_node {
        limits::GPUS_PER_NODE.check(n)?;
    }
    if let Some(n) = req.loss_chunks {
        limits::LOSS_CHUNKS.check(n)?;
    }
    if let Some(ds) = req.deepspeed {
        limits::REDUCE_BUCKET_SIZE.check(ds.reduce_bucket_size)?;
        limits::SUB_GROUP_SIZE.check(ds.sub_group_size)?;
    }
    limits::LORA_DROPOUT.check(req.lora_dropout)?;
    Ok(precision)
}

/// The frozen base of LoRA (compute dtype) and QLoRA (NF4 linears, the rest fp32),
/// in bytes, with the QLoRA base format; `None` for full and freeze.
fn peft_base(
    model: &Model,
    req: &TrainingRequest,
    a: u128,
) -> (Option<u128>, Option<WeightFormat>) {
    let params = &model.params;
    match req.method {
        Method::Qlora => {
            // PEFT's prepare_model_for_kbit_training casts every non-quantized weight
            // (embeddings, lm_head, norms, biases) to fp32.
            let (bits, quantized) = model.quantized_linears(&QLORA_BASE, &[]);
            let rest = params.total - quantized;
            (Some((bits + rest * 32).div_ceil(8)), Some(QLORA_BASE))
        }
        Method::Lora => (Some(params.total * a), None),
        Method::Full | Method::Freeze => (None, None),
    }
}

/// Says when the GPU count and the ZeRO stage do not combine as the user may think,
/// and when the sequence is longer than the model was trained for.
fn sharding_warnings(
    model: &Model,
    req: &TrainingRequest,
    framework: Framework,
    warnings: &mut Vec<Warning>,
) {
    let n = req.num_gpus;
    if n == 1 && req.zero_stage > 0 {
        warnings.push(Warning::new(WarningCode::NothingSharded, format!(
            "zero_stage {} shards across GPUs; with num_gpus 1 nothing is sharded (DeepSpeed still allocates its buckets)",
            req.zero_stage
        )));
    }
    if n > 1 && framework == Framework::Deepspeed && req.zero_stage == 0 {
        warnings.push(Warning::new(WarningCode::FullReplicas, format!(
            "num_gpus {n} with zero_stage 0: plain data parallelism, every GPU holds a full copy of weights, gradients and optimizer state"
        )));
    }
    if let Some(max) = model.arch.max_position_embeddings {
        if req.sequence_length > max {
            warnings.push(Warning::new(
                WarningCode::ExceedsMaxPositions,
                format!(
                    "sequence_length {} exceeds the model's max_position_embeddings ({max})",
                    req.sequence_length
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryEntry;
    use crate::training::{LoraTarget, Optimizer};

    fn llama() -> &'static Model {
        &RegistryEntry::lookup("Llama-3.1-8B").unwrap().model
    }

    fn run(edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
        let mut req = TrainingRequest::new(1, 1024);
        edit(&mut req);
        estimate_training(llama(), &req).unwrap()
    }

    const PSI: u64 = 8_030_261_248;

    /// Llama-3.1-8B's linear weights with the output projection: 32 layers of
    /// q, o (4096²), k, v (4096 × 1024) and gate, up, down (4096 × 14336), plus
    /// 128,256 × 4096.
    const LINEAR: u64 =
        32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336) + 128_256 * 4096;

    #[test]
    fn precision_settings_keep_what_the_docs_say() {
        // transformers (torch autocast): fp32 weights that are their own master, a
        // 16-bit cached copy of every linear weight, fp32 gradients and states.
        let amp = run(|_| {});
        assert!(amp.mixed_precision);
        assert_eq!(amp.framework, Framework::Transformers);
        assert_eq!(amp.details.autocast_weight_copies.0, 2 * LINEAR);
        assert_eq!(amp.model_weights.0, 4 * PSI + 2 * LINEAR);
        assert_eq!(amp.gradients_memory.0, 4 * PSI);
        assert_eq!(amp.details.master_weights.0, 0);
        assert_eq!(amp.details.optimizer_states.0, 8 * PSI);
        // DeepSpeed: 16-bit weights and gradients, fp32 master and gradient, states.
        let ds = run(|r| r.framework = Some(Framework::Deepspeed));
        assert_eq!(ds.model_weights.0, 2 * PSI);
        assert_eq!(ds.gradients_memory.0, 6 * PSI);
        assert_eq!(ds.details.master_weights.0, 4 * PSI);
        assert_eq!(ds.details.optimizer_states.0, 8 * PSI);
        let pure = run(|r| r.mixed_precision = false);
        assert_eq!(pure.model_weights.0, 2 * PSI);
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
    fn ddp_copies_the_gradients_into_its_buckets() {
        let one = run(|_| {});
        let two = run(|r| r.num_gpus = 2);
        assert_eq!(two.details.communication_buffers.0, 4 * PSI);
        assert_eq!(two.gradients_memory.0, one.gradients_memory.0 + 4 * PSI);
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
        assert_eq!(s1.framework, Framework::Deepspeed);
        assert_eq!(
            s1.details.optimizer_states.0,
            s0.details.optimizer_states.0.div_ceil(8)
        );
        // Stages 1-2: one 5e8-element 16-bit bucket (overlap_comm off by default).
        let buckets = 500_000_000 * 2;
        assert_eq!(s1.details.communication_buffers.0, buckets);
        assert_eq!(
            s1.gradients_memory.0,
            2 * PSI + (4 * PSI).div_ceil(8) + buckets
        );
        assert_eq!(
            s2.gradients_memory.0,
            (2 * PSI).div_ceil(8) + (4 * PSI).div_ceil(8) + buckets
        );
        // The step's flattened 16-bit copy of the gradient partition.
        assert_eq!(s2.details.optimizer_step_workspace.0, (2 * PSI).div_ceil(8));
        assert!(s3.model_weights.0 < s2.model_weights.0 / 4);
        assert!(s1.training_memory > s2.training_memory);
        assert!(s2.training_memory > s3.training_memory);
    }

    /// Llama-3.1-70B: 70,553,706,496 parameters; its largest layer is the embedding,
    /// 128,256 × 8,192.
    const PSI_70B: u64 = 70_553_706_496;
    const LAYER_70B: u64 = 128_256 * 8_192;

    fn llama_70b(edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
        let mut req = TrainingRequest::new(1, 4096);
        req.num_gpus = 8;
        req.gradient_checkpointing = true;
        edit(&mut req);
        let model = &RegistryEntry::lookup("Llama-3.1-70B").unwrap().model;
        assert_eq!(model.params.total, PSI_70B as u128);
        estimate_training(model, &req).unwrap()
    }

    #[test]
    fn llama_70b_zero3_over_8_gpus_is_the_hand_derivation() {
        let e = llama_70b(|r| r.zero_stage = 3);
        // 16-bit weight partition + the gathered embedding.
        assert_eq!(e.model_weights.0, 2 * PSI_70B / 8 + 2 * LAYER_70B);
        // 16-bit gradient partition + one 1e9-element fp32 sub-group + the gathered
        // layer's gradient + one 5e8-element 16-bit reduce bucket.
        assert_eq!(
            e.gradients_memory.0,
            2 * PSI_70B / 8 + 4 * 1_000_000_000 + 2 * LAYER_70B + 2 * 500_000_000
        );
        // fp32 master + two fp32 moments, fused AdamW: no step temporaries.
        assert_eq!(e.optimizer_memory.0, 12 * PSI_70B / 8);
        assert_eq!(e.details.optimizer_step_workspace.0, 0);
    }

    #[test]
    fn llama_70b_fsdp_full_shard_over_8_gpus_is_the_hand_derivation() {
        let e = llama_70b(|r| r.framework = Some(Framework::Fsdp));
        // fp32 shards + two gathered 16-bit units (the computed and the prefetched).
        assert_eq!(e.model_weights.0, 4 * PSI_70B / 8 + 2 * 2 * LAYER_70B);
        // fp32 gradient shards + the unit's unsharded 16-bit gradient.
        assert_eq!(e.gradients_memory.0, 4 * PSI_70B / 8 + 2 * LAYER_70B);
        assert_eq!(e.optimizer_memory.0, 8 * PSI_70B / 8);
        // Hybrid sharding over nodes of 4 GPUs holds twice the shards.
        let hybrid = llama_70b(|r| {
            r.framework = Some(Framework::Fsdp);
            r.fsdp_sharding = Some(FsdpSharding::HybridShard);
            r.gpus_per_node = Some(4);
        });
        assert_eq!(hybrid.optimizer_memory.0, 8 * PSI_70B / 4);
    }

    #[test]
    fn offloading_the_optimizer_moves_its_bytes_to_the_host() {
        let on_gpu = llama_70b(|r| r.zero_stage = 3);
        let off = llama_70b(|r| {
            r.zero_stage = 3;
            r.offload_optimizer = Offload::Cpu;
        });
        assert_eq!(off.optimizer_memory.0, 0);
        // Master, moments and fp32 gradient of every GPU's partition, on its node.
        assert_eq!(off.host_memory_per_node.0, 16 * PSI_70B);
        assert_eq!(off.nvme_per_node.0, 0);
        assert_eq!(off.model_weights, on_gpu.model_weights);
        let nvme = llama_70b(|r| {
            r.zero_stage = 3;
            r.offload_optimizer = Offload::Nvme;
            r.offload_parameters = Offload::Nvme;
        });
        assert_eq!(nvme.nvme_per_node.0, 12 * PSI_70B + 2 * PSI_70B);
        // The fp32 gradient partitions, and per GPU the pinned swap buffers: 4 of one
        // 1e9-element fp32 sub-group, 5 of 1e8 16-bit weights.
        assert_eq!(
            nvme.host_memory_per_node.0,
            4 * PSI_70B + 8 * (4 * 1_000_000_000 * 4 + 5 * 100_000_000 * 2)
        );
        assert_eq!(nvme.model_weights.0, 2 * LAYER_70B);
    }

    #[test]
    fn fp32_under_deepspeed_counts_one_fp32_gradient() {
        let fp32 = |stage| {
            run(|r| {
                r.framework = Some(Framework::Deepspeed);
                r.precision = Some(Precision::Float32);
                r.mixed_precision = false;
                r.zero_stage = stage;
                r.num_gpus = 8;
            })
        };
        // Stage 0: fp32 weights and gradients, no copy.
        let s0 = fp32(0);
        assert_eq!(s0.gradients_memory.0, 4 * PSI);
        assert_eq!(s0.details.master_weights.0, 0);
        // Stage 2: the gradient partition, and the optimizer's cloned fp32 partition.
        let s2 = fp32(2);
        assert_eq!(
            s2.gradients_memory.0 - s2.details.communication_buffers.0,
            (4 * PSI).div_ceil(8)
        );
        assert_eq!(s2.details.master_weights.0, (4 * PSI).div_ceil(8));
    }

    #[test]
    fn offload_keeps_what_compute_needs() {
        // ZeRO-1 does not partition gradients: offloading the optimizer leaves them.
        let z1 = run(|r| {
            r.zero_stage = 1;
            r.num_gpus = 8;
            r.offload_optimizer = Offload::Cpu;
        });
        assert_eq!(
            z1.gradients_memory.0 - z1.details.communication_buffers.0,
            2 * PSI
        );
        // FSDP without sharding brings the whole model back for compute.
        let no_shard = |mixed| {
            run(|r| {
                r.framework = Some(Framework::Fsdp);
                r.fsdp_sharding = Some(FsdpSharding::NoShard);
                r.offload_parameters = Offload::Cpu;
                r.mixed_precision = mixed;
            })
            .model_weights
            .0
        };
        assert_eq!(no_shard(true), 2 * PSI);
        assert_eq!(no_shard(false), 2 * PSI);
    }

    #[test]
    fn every_placement_term_of_the_70b_over_8_gpus() {
        // ZeRO-3 with the optimizer on the CPU keeps the gathered layer's gradient and
        // the reduce bucket; parameter offload to the CPU moves the 16-bit partition.
        let z3 = llama_70b(|r| {
            r.zero_stage = 3;
            r.offload_optimizer = Offload::Cpu;
            r.offload_parameters = Offload::Cpu;
        });
        assert_eq!(z3.gradients_memory.0, 2 * LAYER_70B + 2 * 500_000_000);
        assert_eq!(z3.model_weights.0, 2 * LAYER_70B);
        assert_eq!(z3.host_memory_per_node.0, 16 * PSI_70B + 2 * PSI_70B);
        let fsdp = |edit: &dyn Fn(&mut TrainingRequest)| {
            llama_70b(|r| {
                r.framework = Some(Framework::Fsdp);
                edit(r);
            })
        };
        // shard_grad_op keeps the whole 16-bit model from forward to backward.
        let grad_op = fsdp(&|r| r.fsdp_sharding = Some(FsdpSharding::ShardGradOp));
        assert_eq!(grad_op.model_weights.0, 4 * PSI_70B / 8 + 2 * PSI_70B);
        // no_shard without a policy holds the weights once.
        let pure = fsdp(&|r| {
            r.fsdp_sharding = Some(FsdpSharding::NoShard);
            r.mixed_precision = false;
        });
        assert_eq!(pure.model_weights.0, 2 * PSI_70B);
        // A foreach step's temporaries are sharded with the states.
        let foreach =
            fsdp(&|r| r.optimizer_implementation = Some(OptimizerImplementation::Foreach));
        assert_eq!(foreach.details.optimizer_step_workspace.0, 4 * PSI_70B / 8);
        // CPU offload: shards of weights, gradients and moments on the host; the GPU
        // keeps the two gathered units and the unit's gradient.
        let off = fsdp(&|r| r.offload_parameters = Offload::Cpu);
        assert_eq!(off.host_memory_per_node.0, 16 * PSI_70B);
        assert_eq!(off.model_weights.0, 2 * 2 * LAYER_70B);
        assert_eq!(off.gradients_memory.0, 2 * LAYER_70B);
        assert_eq!(off.optimizer_memory.0, 0);
        // The step's temporaries go with it.
        let off_foreach = fsdp(&|r| {
            r.offload_parameters = Offload::Cpu;
            r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
        });
        assert_eq!(
            off_foreach.host_memory_per_node.0,
            16 * PSI_70B + 4 * PSI_70B
        );
    }

    #[test]
    fn settings_resolve_and_warn_where_they_do_nothing() {
        let warned = |edit: &dyn Fn(&mut TrainingRequest), text: &str| {
            let mut req = TrainingRequest::new(1, 1024);
            edit(&mut req);
            let e = estimate_training(llama(), &req).unwrap();
            e.warnings.iter().any(|w| w.message.contains(text))
        };
        let ds = Some(DeepspeedSettings::default());
        assert!(warned(&|r| r.deepspeed = ds, "no effect at zero_stage 0"));
        assert!(!warned(
            &|r| {
                r.deepspeed = ds;
                r.zero_stage = 2;
            },
            "no effect"
        ));
        let small_groups = Some(DeepspeedSettings {
            sub_group_size: 1000,
            ..DeepspeedSettings::default()
        });
        for (stage, said) in [(2, true), (3, false)] {
            let edit = |r: &mut TrainingRequest| {
                r.deepspeed = small_groups;
                r.zero_stage = stage;
                r.num_gpus = 8;
            };
            assert_eq!(warned(&edit, "applies to zero_stage 3"), said);
        }
        assert!(!warned(
            &|r| {
                r.deepspeed = ds;
                r.zero_stage = 2;
            },
            "applies to zero_stage 3"
        ));
        let fsdp_on = |gpus: u64| {
            move |r: &mut TrainingRequest| {
                r.framework = Some(Framework::Fsdp);
                r.num_gpus = gpus;
            }
        };
        assert!(warned(&fsdp_on(1), "nothing is sharded"));
        assert!(!warned(&fsdp_on(2), "nothing is sharded"));
        assert!(warned(
            &|r| {
                r.optimizer = Optimizer::Sgd;
                r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
            },
            "applies to Adam and AdamW"
        ));
        assert!(!warned(
            &|r| r.optimizer_implementation = Some(OptimizerImplementation::Foreach),
            "applies to Adam and AdamW"
        ));
        let fsdp_offload = |both: bool| {
            move |r: &mut TrainingRequest| {
                r.framework = Some(Framework::Fsdp);
                r.num_gpus = 2;
                r.offload_optimizer = Offload::Cpu;
                if both {
                    r.offload_parameters = Offload::Cpu;
                }
            }
        };
        assert!(warned(&fsdp_offload(false), "together"));
        assert!(!warned(&fsdp_offload(true), "together"));
        // DeepSpeed at stage 0 is plain data parallelism only with more than one GPU.
        let ds0 = |gpus: u64| {
            move |r: &mut TrainingRequest| {
                r.framework = Some(Framework::Deepspeed);
                r.num_gpus = gpus;
            }
        };
        assert!(warned(&ds0(2), "plain data parallelism"));
        assert!(!warned(&ds0(1), "plain data parallelism"));
        // fsdp_sharding alone picks FSDP; no_shard shards nothing.
        let mut req = TrainingRequest::new(1, 1024);
        req.fsdp_sharding = Some(FsdpSharding::NoShard);
        req.num_gpus = 8;
        let e = estimate_training(llama(), &req).unwrap();
        assert_eq!(e.framework, Framework::Fsdp);
        assert_eq!(e.fsdp_sharding, Some(FsdpSharding::NoShard));
        assert_eq!(e.details.optimizer_states.0, 8 * PSI);
        assert_eq!(run(|r| r.zero_stage = 1).fsdp_sharding, None);
        // bitsandbytes' 8-bit step cannot run where FSDP offloads the optimizer.
        let mut req = TrainingRequest::new(1, 1024);
        req.framework = Some(Framework::Fsdp);
        req.optimizer = Optimizer::QuantizedAdamW;
        req.offload_optimizer = Offload::Cpu;
        assert!(matches!(
            estimate_training(llama(), &req),
            Err(CalcError::InvalidField { ref field, .. }) if field == "offload_optimizer"
        ));
    }

    #[test]
    fn refusals_name_the_setting() {
        let field_of = |edit: &dyn Fn(&mut TrainingRequest)| {
            let mut req = TrainingRequest::new(1, 1024);
            req.num_gpus = 8;
            edit(&mut req);
            match estimate_training(llama(), &req) {
                Err(CalcError::InvalidField { field, .. }) => field,
                other => panic!("{other:?}"),
            }
        };
        type Edit = dyn Fn(&mut TrainingRequest);
        let cases: [(&Edit, &str); 11] = [
            (
                &|r| {
                    r.framework = Some(Framework::Fsdp);
                    r.fsdp_sharding = Some(FsdpSharding::HybridShard);
                    r.gpus_per_node = Some(3);
                },
                "gpus_per_node",
            ),
            (
                &|r| {
                    r.zero_stage = 2;
                    r.optimizer = Optimizer::Adafactor;
                    r.offload_optimizer = Offload::Cpu;
                },
                "offload_optimizer",
            ),
            (
                &|r| {
                    r.framework = Some(Framework::Fsdp);
                    r.optimizer = Optimizer::QuantizedAdamW;
                    r.offload_parameters = Offload::Cpu;
                },
                "offload_optimizer",
            ),
            (
                &|r| {
                    r.framework = Some(Framework::Transformers);
                    r.zero_stage = 2
                },
                "zero_stage",
            ),
            (&|r| r.offload_optimizer = Offload::Cpu, "offload_optimizer"),
            (
                &|r| {
                    r.zero_stage = 2;
                    r.offload_optimizer = Offload::Nvme
                },
                "offload_optimizer",
            ),
            (
                &|r| {
                    r.zero_stage = 2;
                    r.offload_parameters = Offload::Cpu
                },
                "offload_parameters",
            ),
            (
                &|r| {
                    r.zero_stage = 2;
                    r.fsdp_sharding = Some(FsdpSharding::FullShard)
                },
                "fsdp_sharding",
            ),
            (&|r| r.loss_chunks = Some(4), "loss_chunks"),
            (&|r| r.lora_dropout = 0.1, "lora_dropout"),
            (
                &|r| {
                    r.zero_stage = 1;
                    r.mixed_precision = false
                },
                "mixed_precision",
            ),
        ];
        for (edit, field) in cases {
            assert_eq!(field_of(edit), field);
        }
        // fp32 training is a DeepSpeed mode.
        let mut fp32 = TrainingRequest::new(1, 1024);
        fp32.zero_stage = 1;
        fp32.mixed_precision = false;
        fp32.precision = Some(Precision::Float32);
        assert!(estimate_training(llama(), &fp32).is_ok());
    }

    #[test]
    fn loss_variants_hold_what_was_measured() {
        // 1 x 1024 tokens x 128,256 logits.
        let logits = 1024 * 128_256;
        let with = |loss| run(|r| r.loss = loss).details.loss_buffers.0;
        assert_eq!(with(Loss::Standard), 12 * logits);
        assert_eq!(with(Loss::NoUpcast), 6 * logits);
        // All fp32 log-probabilities + two fp32 gradients of one of 8 chunks.
        assert_eq!(with(Loss::Chunked), 4 * logits + 2 * 4 * logits / 8);
        // Liger: chunks of next_pow2(1024 / ceil(128256 / 4096) = 32) = 32 positions
        // and the hidden states' gradient (the output weight's gradient is the
        // weight's own, counted with the gradients).
        assert_eq!(with(Loss::Fused), 32 * 128_256 * 2 + 1024 * 4096 * 2);
        let standard = run(|r| r.sequence_length = 8192);
        let fused = run(|r| {
            r.sequence_length = 8192;
            r.loss = Loss::Fused;
        });
        assert!(fused.activation_memory.0 + 8 * 8192 * 128_256 < standard.activation_memory.0);
    }

    #[test]
    fn lora_dropout_keeps_a_mask_and_a_copy_per_adapted_input() {
        let lora = |framework, p| {
            run(|r| {
                r.method = Method::Lora;
                r.lora_target = LoraTarget::Attention;
                r.framework = Some(framework);
                r.lora_dropout = p;
            })
            .activation_memory
            .0
        };
        // q, k, v, o read 4096 values per token each, in 32 layers. Under autocast the
        // fp32 adapters already save a 16-bit copy each: dropout adds the 1-byte masks.
        let t = Framework::Transformers;
        assert_eq!(lora(t, 0.05) - lora(t, 0.0), 1024 * 32 * 4 * 4096);
        // Without autocast the adapters share the layer's input until dropout gives
        // each its own copy (2 bytes) and mask (1 byte).
        let ds = Framework::Deepspeed;
        assert_eq!(
            lora(ds, 0.05) - lora(ds, 0.0),
            1024 * 32 * (4 * 4096 * 3 - 4096 * 2)
        );
    }

    #[test]
    fn optimizer_implementations_differ_in_the_step_only() {
        let with = |i| {
            run(|r| r.optimizer_implementation = Some(i))
                .details
                .optimizer_step_workspace
                .0
        };
        assert_eq!(with(OptimizerImplementation::Fused), 0);
        assert_eq!(with(OptimizerImplementation::Foreach), 4 * PSI);
        // Two fp32 temporaries of the largest tensor, the 128,256 x 4,096 embedding.
        assert_eq!(
            with(OptimizerImplementation::Forloop),
            2 * 4 * 128_256 * 4096
        );
    }

    #[test]
    fn published_rates_match_the_accounting() {
        for &o in Optimizer::ALL {
            let e = run(|r| {
                r.optimizer = o;
                r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
            });
            let per_param = |bytes: Bytes| bytes.0 as f64 / PSI as f64;
            // Adafactor's factored state and its per-tensor step depend on shapes.
            let shaped = o == Optimizer::Adafactor;
            match o.state_bytes_per_param(true) {
                Some(rate) => assert!((per_param(e.details.optimizer_states) - rate).abs() < 1e-6),
                None => assert!(shaped, "{}", o.name()),
            }
            match o.step_workspace_bytes_per_param(OptimizerImplementation::Foreach, true) {
                Some(rate) => assert!(
                    (per_param(e.details.optimizer_step_workspace) - rate).abs() < 1e-6,
                    "{}",
                    o.name()
                ),
                None => assert!(shaped || o == Optimizer::Lion, "{}", o.name()),
            }
        }
        assert_eq!(
            Optimizer::AdamW
                .step_workspace_bytes_per_param(OptimizerImplementation::Foreach, false),
            Some(2.0)
        );
        assert_eq!(
            Optimizer::AdamW.step_workspace_bytes_per_param(OptimizerImplementation::Fused, true),
            Some(0.0)
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
        assert!(ok
            .warnings
            .iter()
            .any(|w| w.message.contains("ignored for lora")));
        let mut req = TrainingRequest::new(1, 1024);
        req.method = Method::Qlora;
        req.trainable_percent = Some(50.0);
        assert!(matches!(
            estimate_training(llama(), &req),
            Err(CalcError::InvalidField { ref field, .. }) if field == "trainable_parameters"
        ));
    }
}
