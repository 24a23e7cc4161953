//! A training workload: the fields of `/api/memory/training` (and of a training plan)
//! into the calculator's [`TrainingRequest`], read in the order the API documents
//! them. Defaults are [`TrainingRequest::new`]'s and the calculator's.

use calculator::{
    Choice, DeepspeedSettings, Framework, FsdpSharding, LoraTarget, Loss, Method, Offload,
    Optimizer, OptimizerImplementation, Precision, TrainingRequest,
};

use super::fields::{
    Field, BATCH_SIZE, FRAMEWORK, FSDP_SHARDING, GPUS_PER_NODE, GRADIENT_ACCUMULATION_STEPS,
    GRADIENT_CHECKPOINTING, HOLD_LOGITS, LORA_DROPOUT, LORA_RANK, LORA_TARGET, LOSS, LOSS_CHUNKS,
    METHOD, MIXED_PRECISION, NUM_GPUS, OFFLOAD_OPTIMIZER, OFFLOAD_PARAMETERS, OPTIMIZER,
    OPTIMIZER_IMPLEMENTATION, OVERLAP_COMM, PRECISION, REDUCE_BUCKET_SIZE, SEQUENCE_LENGTH,
    SUB_GROUP_SIZE, TRAINABLE_PARAMETERS, USE_FLASH_ATTENTION, ZERO_STAGE,
};
use super::reader::{set, Fields};
use crate::http::ApiError;
use serde_json::Value;

/// The training request of `f`.
pub(crate) fn read(f: &Fields) -> Result<TrainingRequest, ApiError> {
    let checkpointing = f.boolean_or_name(&GRADIENT_CHECKPOINTING)?;
    let precision = f.choice::<Precision>(&PRECISION)?;
    let mixed = f.boolean(&MIXED_PRECISION)?;
    let method = f.choice::<Method>(&METHOD)?;
    let trainable_percent = f.fraction(&TRAINABLE_PARAMETERS)?;
    let lora_rank = f.uint(&LORA_RANK)?;
    let (lora_target, lora_modules) = lora_target(f)?;
    let optimizer = f.choice_with(&OPTIMIZER, Optimizer::parse_with_implementation)?;
    let implementation = optimizer_implementation(f, optimizer.and_then(|(_, i)| i))?;
    let mut req = TrainingRequest::new(
        f.required_uint(&BATCH_SIZE)?,
        f.required_uint(&SEQUENCE_LENGTH)?,
    );
    req.precision = precision;
    req.trainable_percent = trainable_percent;
    set(&mut req.gradient_checkpointing, checkpointing);
    set(&mut req.mixed_precision, mixed);
    set(&mut req.method, method);
    set(&mut req.lora_rank, lora_rank);
    set(&mut req.lora_target, lora_target);
    req.lora_modules = lora_modules;
    set(&mut req.optimizer, optimizer.map(|(o, _)| o));
    req.optimizer_implementation = implementation;
    set(
        &mut req.use_flash_attention,
        f.boolean(&USE_FLASH_ATTENTION)?,
    );
    set(&mut req.num_gpus, f.uint(&NUM_GPUS)?);
    set(
        &mut req.gradient_accumulation_steps,
        f.uint(&GRADIENT_ACCUMULATION_STEPS)?,
    );
    // ZERO_STAGE's range ends at 3, so the value fits a u8.
    set(&mut req.zero_stage, f.uint(&ZERO_STAGE)?.map(|z| z as u8));
    framework_fields(f, &mut req)?;
    Ok(req)
}

/// Characters of one module name in a `lora_target` list: model code's names are a
/// few dozen at most.
const MODULE_NAME_CHARS: usize = 128;

/// `lora_target`: one of its names, or a list of module names as PEFT's
/// `target_modules` takes them (the calculator checks them against the model).
fn lora_target(f: &Fields) -> Result<(Option<LoraTarget>, Vec<String>), ApiError> {
    let Some(Value::Array(items)) = f.get(LORA_TARGET.name) else {
        return Ok((f.choice::<LoraTarget>(&LORA_TARGET)?, Vec::new()));
    };
    let path = f.path(LORA_TARGET.name);
    let most = calculator::limits::LORA_MODULES.max as usize;
    if items.is_empty() || items.len() > most {
        return Err(ApiError::field(
            &path,
            format!("a list of module names must hold 1 to {most} names"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.as_str() {
            Some(name) if !name.is_empty() && name.chars().count() <= MODULE_NAME_CHARS => {
                Ok(name.to_owned())
            }
            _ => Err(ApiError::field(
                &format!("{path}[{i}]"),
                format!("must be a module name (text of 1 to {MODULE_NAME_CHARS} characters, such as q_proj)"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|names| (None, names))
}

/// `optimizer_implementation`, or the one a Hugging Face optimizer name implies
/// (`adamw_torch_fused`); both given and different is an error.
fn optimizer_implementation(
    f: &Fields,
    implied: Option<OptimizerImplementation>,
) -> Result<Option<OptimizerImplementation>, ApiError> {
    let given = f.choice::<OptimizerImplementation>(&OPTIMIZER_IMPLEMENTATION)?;
    match (given, implied) {
        (Some(g), Some(i)) if g != i => Err(ApiError::field(
            &f.path(OPTIMIZER_IMPLEMENTATION.name),
            format!(
                "is {}, but the optimizer's name means {}; give one",
                g.name(),
                i.name()
            ),
        )),
        _ => Ok(given.or(implied)),
    }
}

/// The DeepSpeed settings, in the order a refusal names them.
const DEEPSPEED_FIELDS: [&Field; 3] = [&REDUCE_BUCKET_SIZE, &OVERLAP_COMM, &SUB_GROUP_SIZE];

/// The framework, offload, loss, LoRA dropout and DeepSpeed fields.
fn framework_fields(f: &Fields, req: &mut TrainingRequest) -> Result<(), ApiError> {
    req.framework = f.choice::<Framework>(&FRAMEWORK)?;
    req.fsdp_sharding = f.choice::<FsdpSharding>(&FSDP_SHARDING)?;
    req.gpus_per_node = f.uint(&GPUS_PER_NODE)?;
    set(
        &mut req.offload_optimizer,
        f.choice::<Offload>(&OFFLOAD_OPTIMIZER)?,
    );
    set(
        &mut req.offload_parameters,
        f.choice::<Offload>(&OFFLOAD_PARAMETERS)?,
    );
    set(&mut req.loss, f.choice::<Loss>(&LOSS)?);
    req.loss_chunks = f.uint(&LOSS_CHUNKS)?;
    set(&mut req.hold_logits, f.boolean(&HOLD_LOGITS)?);
    set(&mut req.lora_dropout, f.number(&LORA_DROPOUT)?);
    let reduce = f.uint(&REDUCE_BUCKET_SIZE)?;
    let overlap = f.boolean(&OVERLAP_COMM)?;
    let sub_group = f.uint(&SUB_GROUP_SIZE)?;
    let given = DEEPSPEED_FIELDS.iter().find(|d| f.has(d.name));
    if let (Some(framework), Some(field)) = (req.framework, given) {
        if framework != Framework::Deepspeed {
            return Err(ApiError::field(
                &f.path(field.name),
                format!("is a DeepSpeed setting; framework is {}", framework.name()),
            ));
        }
    }
    if given.is_some() {
        let defaults = DeepspeedSettings::default();
        req.deepspeed = Some(DeepspeedSettings {
            reduce_bucket_size: reduce.unwrap_or(defaults.reduce_bucket_size),
            overlap_comm: overlap,
            sub_group_size: sub_group.unwrap_or(defaults.sub_group_size),
        });
    }
    Ok(())
}
