//! The checks of a training request: the ranges, what each method and framework
//! accepts, and the settings that do nothing (warned). Every request the estimate
//! sizes passes them first (`docs/methodology.md` §7.4).

use super::request::TrainingRequest;
use super::targets;
use super::trainable::smallest_adapted_dimension;
use super::vocabulary::{
    DeepspeedSettings, Framework, FsdpSharding, Loss, Method, Offload, Optimizer,
    DEFAULT_GPUS_PER_NODE,
};
use crate::choice::Choice;
use crate::error::CalcError;
use crate::limits::{self, DecimalRange};
use crate::model::Model;
use crate::precision::Precision;
use crate::warning::{Warning, WarningCode};

/// The request's own errors, without sizing anything: ranges, the method's and the
/// framework's settings, offload. [`super::estimate_training`] refuses the same
/// requests.
pub fn check_training(model: &Model, req: &TrainingRequest) -> Result<(), CalcError> {
    checked(model, req, &mut Vec::new()).map(drop)
}

/// The compute dtype and the framework of a valid request, with what they imply.
pub(super) fn checked(
    model: &Model,
    req: &TrainingRequest,
    warnings: &mut Vec<Warning>,
) -> Result<(Precision, Framework), CalcError> {
    let precision = validate(model, req, warnings)?;
    let framework = resolve_framework(req);
    check_framework(req, framework, precision, warnings)?;
    Ok((precision, framework))
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

/// `loss_chunks` without the chunked loss, `hold_logits` with a loss that returns no
/// logits, `lora_dropout` without adapters.
fn check_method_fields(req: &TrainingRequest) -> Result<(), CalcError> {
    if req.loss_chunks.is_some() && req.loss != Loss::Chunked {
        return Err(CalcError::field(
            "loss_chunks",
            format!("applies to loss chunked, not {}", req.loss.name()),
        ));
    }
    if req.hold_logits && req.loss == Loss::Fused {
        return Err(CalcError::field(
            "hold_logits",
            "fused linear cross-entropy returns no logits to hold (loss fused)".to_string(),
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
    limits::GRADIENT_ACCUMULATION_STEPS.check(req.gradient_accumulation_steps)?;
    if let Some(p) = req.trainable_percent {
        limits::TRAINABLE_PARAMETERS.check(p)?;
    }
    if req.method.is_peft() {
        targets::check(model, req)?;
        if let Some(d) = smallest_adapted_dimension(model, req) {
            if req.lora_rank > d {
                return Err(CalcError::field(
                    "lora_rank",
                    format!(
                        "must be at most {d}, the smallest dimension of the matrices lora_target {} adapts (a larger rank makes adapters bigger than the matrices)",
                        targets::describe(req)
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

/// GPUs of one node: the request's, else the default, never more than `num_gpus`.
pub(super) fn gpus_per_node(req: &TrainingRequest) -> u64 {
    req.gpus_per_node
        .unwrap_or(DEFAULT_GPUS_PER_NODE)
        .min(req.num_gpus)
        .max(1)
}
