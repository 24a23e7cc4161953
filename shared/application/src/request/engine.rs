//! The `engine` field and the vLLM settings that go with it: which engine serves the
//! model, and (for `vllm`) the GPU it starts on and its scheduler limits.

use calculator::limits::{GPU_MEMORY, MAX_GPU_MEMORY_GIB};
use calculator::{
    clip, Bytes, Engine, EngineKind, VllmSettings, VllmVersion, Warning, WarningCode,
    DEFAULT_VLLM_VERSION,
};
use planner::{Catalog, Matched};

use super::fields::{
    Field, DATA_PARALLEL_SIZE, ENFORCE_EAGER, ENGINE, EXPERT_PARALLEL, GPU, GPU_MEMORY_GIB,
    GPU_MEMORY_UTILIZATION, MAX_NUM_BATCHED_TOKENS, MAX_NUM_SEQS, PIPELINE_PARALLEL_SIZE,
    VLLM_VERSION,
};
use super::reader::{unknown_name, Fields};
use crate::http::ApiError;

/// Which of the request's fields the engine reads: a memory request names its GPU and
/// utilization, a plan sets them per candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// `/api/memory/inference`: `engine` defaults to transformers.
    Memory,
    /// `/api/plan`: `engine` defaults to vllm; the GPU comes from each candidate.
    Plan,
}

/// vLLM's own settings, accepted by `/api/memory/inference` and `/api/plan`.
const VLLM_SETTINGS: [&Field; 5] = [
    &MAX_NUM_BATCHED_TOKENS,
    &MAX_NUM_SEQS,
    &ENFORCE_EAGER,
    &VLLM_VERSION,
    &EXPERT_PARALLEL,
];

/// The settings of the vllm engine only, in the order a refusal names them.
fn vllm_only(context: Context) -> Vec<&'static Field> {
    let mut own = VLLM_SETTINGS.to_vec();
    if context == Context::Memory {
        own.extend([
            &GPU,
            &GPU_MEMORY_GIB,
            &GPU_MEMORY_UTILIZATION,
            &DATA_PARALLEL_SIZE,
            &PIPELINE_PARALLEL_SIZE,
        ]);
    }
    own
}

/// The engine a request asks for, with its settings.
pub(crate) fn read(f: &Fields, context: Context) -> Result<Engine, ApiError> {
    let vllm = match (f.choice::<EngineKind>(&ENGINE)?, context) {
        (Some(kind), _) => kind == EngineKind::Vllm,
        (None, Context::Memory) => false,
        (None, Context::Plan) => true,
    };
    if !vllm {
        if let Some(field) = vllm_only(context).iter().find(|k| f.has(k.name)) {
            return Err(ApiError::field(
                &f.path(field.name),
                "applies to the vllm engine; add \"engine\": \"vllm\"",
            ));
        }
        return Ok(Engine::Transformers);
    }
    let version = f
        .choice::<VllmVersion>(&VLLM_VERSION)?
        .unwrap_or(DEFAULT_VLLM_VERSION);
    let mut settings = match context {
        Context::Memory => gpu(f)?,
        // Each candidate sets its GPU's memory and name.
        Context::Plan => VllmSettings::new(Bytes(0)),
    };
    settings.version = version;
    settings.gpu_memory_utilization = version.default_gpu_memory_utilization();
    if context == Context::Memory {
        if let Some(u) = f.fraction(&GPU_MEMORY_UTILIZATION)? {
            settings.gpu_memory_utilization = u;
        }
    }
    settings.max_num_batched_tokens = f.uint(&MAX_NUM_BATCHED_TOKENS)?;
    settings.max_num_seqs = f.uint(&MAX_NUM_SEQS)?;
    if let Some(eager) = f.boolean(&ENFORCE_EAGER)? {
        settings.enforce_eager = eager;
    }
    if let Some(ep) = f.boolean(&EXPERT_PARALLEL)? {
        settings.expert_parallel = ep;
    }
    if context == Context::Memory {
        if let Some(dp) = f.uint(&DATA_PARALLEL_SIZE)? {
            settings.data_parallel_size = dp;
        }
        if let Some(pp) = f.uint(&PIPELINE_PARALLEL_SIZE)? {
            settings.pipeline_parallel_size = pp;
        }
    }
    Ok(Engine::Vllm(settings))
}

/// A GPU's memory given in GiB (already within its field's range), in bytes; `None`
/// below the 1 MiB a GPU must have.
pub(crate) fn gib_to_bytes(gib: f64) -> Option<Bytes> {
    let bytes = Bytes::from_gib(gib);
    GPU_MEMORY.contains(bytes.0).then_some(bytes)
}

/// The GPU vLLM starts on: a catalog name (`gpu`) or a memory size
/// (`gpu_memory_gib`, the total the driver reports), not both.
fn gpu(f: &Fields) -> Result<VllmSettings, ApiError> {
    let name = f.text(&GPU)?;
    let gib = f.number(&GPU_MEMORY_GIB)?;
    match (name, gib) {
        (Some(_), Some(_)) => Err(ApiError::field(
            &f.path(GPU_MEMORY_GIB.name),
            "give gpu or gpu_memory_gib, not both",
        )),
        (None, None) => Err(ApiError::field(
            &f.path(GPU.name),
            "is required with engine vllm (its KV pool is what the GPU's memory leaves): a GPU name from /api/gpus, or gpu_memory_gib",
        )),
        (None, Some(gib)) => {
            let bytes = gib_to_bytes(gib).ok_or_else(|| {
                ApiError::field(
                    &f.path(GPU_MEMORY_GIB.name),
                    format!(
                        "must be at least 1 MiB (0.0009765625) and at most {MAX_GPU_MEMORY_GIB}, got {gib}"
                    ),
                )
            })?;
            Ok(VllmSettings::new(bytes))
        }
        (Some(name), None) => {
            let catalog = Catalog::embedded();
            let Some(gpu) = catalog.gpu(name) else {
                return Err(unknown_gpu(&f.path(GPU.name), name, catalog));
            };
            let Some(memory) = gpu.vllm_total() else {
                return Err(ApiError::field(
                    &f.path(GPU.name),
                    format!("the catalog has no driver-reported memory for {}; give gpu_memory_gib", gpu.name),
                ));
            };
            let mut settings = VllmSettings::new(memory);
            settings.gpu_name = Some(gpu.name.clone());
            Ok(settings)
        }
    }
}

/// The note that `typed` was read as a catalog GPU it does not spell out (`H100` as
/// the H100 SXM 80GB), if it was.
pub(crate) fn gpu_read_as(typed: &str, catalog: &Catalog) -> Option<Warning> {
    match catalog.resolve_gpu(typed)? {
        (gpu, Matched::Assumed) => Some(Warning::new(
            WarningCode::GpuNameAssumed,
            format!("GPU '{}' read as {}", clip(typed.trim()), gpu.name),
        )),
        (_, Matched::Exactly) => None,
    }
}

/// A 400 for a GPU name the catalog lacks, with the closest name and every name.
pub(crate) fn unknown_gpu(path: &str, name: &str, catalog: &Catalog) -> ApiError {
    let names: Vec<&str> = catalog.gpus.iter().map(|g| g.name.as_str()).collect();
    unknown_name(path, "GPU", name, &names)
}
