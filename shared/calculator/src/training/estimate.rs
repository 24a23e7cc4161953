//! The per-GPU training total: validation, weights, gradients, optimizer memory and
//! activations put together under ZeRO sharding (`docs/methodology.md` §7.2–7.6).

use super::activations::{activation_bytes, Casting};
use super::checks::{checked, gpus_per_node};
use super::framework::{place, Placement, StateInputs};
use super::optimizer::{state_bytes, step_workspace_bytes, GradientLayout};
use super::request::{PhaseMemory, StepPhase, TrainingDetails, TrainingEstimate, TrainingRequest};
use super::targets::grouped_warnings;
use super::trainable::{trainable_set, Trainable};
use super::vocabulary::{Framework, FsdpSharding, Loss, Method, OptimizerImplementation};
use crate::error::{check_weights, to_u64, CalcError};
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
    if req.method.is_peft() {
        warnings.extend(grouped_warnings(model, req));
    }
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
        output_elements: output_elements(model, req, &trainable),
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
    let casting = casting(req, framework, layout, a);
    if casting.autocast && req.loss == Loss::NoUpcast {
        warnings.push(Warning::new(
            WarningCode::LossUpcastByAutocast,
            "loss no_upcast under torch autocast (framework transformers with mixed_precision): autocast runs cross_entropy in fp32, so the loss buffers are counted in fp32, as for standard",
        ));
    }
    let (activations, loss) = activation_bytes(model, req, &trainable, &casting);
    let phases = timeline(req, &placed, weights, activations)?;
    // The last of equal phases: the peak is reached there and held until then.
    let peak = phases[1..].iter().fold(
        phases[0],
        |peak, p| if p.total >= peak.total { *p } else { peak },
    );
    let overhead = CUDA_CONTEXT_BYTES as u128;
    let total = peak.total.0 as u128 + overhead;
    sharding_warnings(model, req, framework, &mut warnings);

    Ok(TrainingEstimate {
        framework,
        optimizer_implementation: implementation,
        fsdp_sharding: (framework == Framework::Fsdp).then_some(fsdp_sharding),
        precision,
        mixed_precision: layout.is_mixed(),
        base_format,
        trainable_percent: trainable_percent(model, req, t),
        model_weights: peak.weights,
        gradients_memory: peak.gradients,
        optimizer_memory: peak.optimizer,
        activation_memory: peak.activations,
        runtime_overhead: Bytes(to_u64(overhead)?),
        training_memory: Bytes(to_u64(total)?),
        peak_phase: peak.phase,
        phases,
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
        autocast,
    }
}

/// The share of the model that trains, in percent: as requested, else the share the
/// method trains (the adapters of LoRA and QLoRA, the last layers of freeze, every
/// parameter of full training).
fn trainable_percent(model: &Model, req: &TrainingRequest, trainable: u128) -> f64 {
    req.trainable_percent
        .unwrap_or(trainable as f64 * 100.0 / (model.params.total.max(1) as f64))
}

/// What one GPU holds at each moment of the step (methodology §7.6). Gradients are
/// freed after every optimizer step (`zero_grad(set_to_none=True)`, the default of
/// torch's optimizers and modules and of DeepSpeed's), so a single micro-batch's
/// forward pass holds only the gradients a framework keeps from step to step (ZeRO-3's
/// partitions); accumulated over micro-batches they all stay through the next forward.
/// Backward starts with the output layer's gradients beside the activations, with
/// ZeRO 1-2's reduce buckets, and ends with every gradient, the activations freed
/// layer by layer on the way; the optimizer step adds its temporaries once the
/// activations are gone. Communication buffers kept from step to step are in every
/// phase.
fn timeline(
    req: &TrainingRequest,
    p: &Placement,
    weights: u128,
    activations: u128,
) -> Result<[PhaseMemory; 4], CalcError> {
    let states = p.master + p.states;
    let (kept, first) = if req.gradient_accumulation_steps > 1 {
        (p.gradients, p.first_gradients_accumulating)
    } else {
        (p.resident_gradients, p.first_gradients)
    };
    let phase = |phase, gradients: u128, optimizer: u128, activations: u128| {
        let gradients = p.comm_buffers + gradients;
        Ok::<_, CalcError>(PhaseMemory {
            phase,
            weights: Bytes(to_u64(weights)?),
            gradients: Bytes(to_u64(gradients)?),
            optimizer: Bytes(to_u64(optimizer)?),
            activations: Bytes(to_u64(activations)?),
            total: Bytes(to_u64(weights + gradients + optimizer + activations)?),
        })
    };
    let backward = kept + first + p.backward_buffers;
    Ok([
        phase(StepPhase::Forward, kept, states, activations)?,
        phase(StepPhase::Backward, backward, states, activations)?,
        phase(StepPhase::BackwardEnd, p.gradients, states, 0)?,
        phase(
            StepPhase::OptimizerStep,
            p.gradients,
            states + p.workspace,
            0,
        )?,
    ])
}

/// Trainable elements of the output layer (`lm_head`, or the embedding it is tied
/// to), whose gradients backward makes first: when full training trains every weight;
/// 0 for adapters and partial training.
fn output_elements(model: &Model, req: &TrainingRequest, t: &Trainable) -> u128 {
    if req.method != Method::Full || req.trainable_percent.is_some() {
        return 0;
    }
    model.params.embedding_matrix.min(t.elements)
}

fn details(t: &Trainable, p: &Placement, loss: u128) -> Result<TrainingDetails, CalcError> {
    Ok(TrainingDetails {
        trainable_parameters: to_u64(t.elements)?,
        master_weights: Bytes(to_u64(p.master)?),
        optimizer_states: Bytes(to_u64(p.states)?),
        optimizer_step_workspace: Bytes(to_u64(p.workspace)?),
        communication_buffers: Bytes(to_u64(p.comm_buffers + p.backward_buffers)?),
        autocast_weight_copies: Bytes(to_u64(p.autocast_copies)?),
        loss_buffers: Bytes(to_u64(loss)?),
        layers_with_activations: t.grad_layers,
    })
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
