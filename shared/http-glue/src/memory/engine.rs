//! The `engine` field and the vLLM settings that go with it: which engine serves the
//! model, and (for `vllm`) the GPU it starts on and its scheduler limits.

use calculator::{limits, Bytes, Engine, VllmSettings};
use planner::Catalog;

use crate::fields::{unknown_name, Fields};
use crate::ApiError;

/// Engine names, as requests spell them.
pub const ENGINES: [&str; 2] = Engine::NAMES;

/// The GPU fields of `/api/memory/inference` with `engine: vllm` (a plan takes its
/// GPUs from the catalog instead).
pub(crate) const GPU_FIELDS: [&str; 2] = ["gpu", "gpu_memory_gib"];

/// vLLM's own settings, accepted by `/api/memory/inference` and `/api/plan`.
pub(crate) const VLLM_SETTINGS: [&str; 3] =
    ["max_num_batched_tokens", "max_num_seqs", "enforce_eager"];

/// Bytes in a GiB, the unit `gpu_memory_gib` is given in.
const GIB: f64 = (1u64 << 30) as f64;

/// Largest `gpu_memory_gib`: `calculator::limits::MAX_GPU_MEMORY` in GiB.
pub const MAX_GPU_MEMORY_GIB: f64 = (limits::MAX_GPU_MEMORY >> 30) as f64;

/// Which of the request's fields the engine reads: a memory request names its GPU and
/// utilization, a plan sets them per candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    /// `/api/memory/inference`: `engine` defaults to transformers.
    Memory,
    /// `/api/plan`: `engine` defaults to vllm; the GPU comes from each candidate.
    Plan,
}

/// The engine a request asks for, with its settings.
pub(crate) fn engine(f: &Fields, context: Context) -> Result<Engine, ApiError> {
    let name = f.choice(
        "engine",
        |t| {
            ENGINES
                .into_iter()
                .find(|e| e.eq_ignore_ascii_case(t.trim()))
        },
        &ENGINES,
    )?;
    let vllm = match (name, context) {
        (Some(n), _) => n == Engine::NAMES[1],
        (None, Context::Memory) => false,
        (None, Context::Plan) => true,
    };
    let mut own: Vec<&str> = VLLM_SETTINGS.to_vec();
    if context == Context::Memory {
        own.extend(GPU_FIELDS);
        own.push(limits::GPU_MEMORY_UTILIZATION.field);
    }
    if !vllm {
        if let Some(field) = own.iter().find(|k| f.has(k)) {
            return Err(ApiError::field(
                &f.path(field),
                "applies to the vllm engine; add \"engine\": \"vllm\"",
            ));
        }
        return Ok(Engine::Transformers);
    }
    let mut settings = match context {
        Context::Memory => gpu(f)?,
        // Each candidate sets its GPU's memory and name.
        Context::Plan => VllmSettings::new(Bytes(0)),
    };
    if context == Context::Memory {
        if let Some(u) = f.fraction(limits::GPU_MEMORY_UTILIZATION)? {
            settings.gpu_memory_utilization = u;
        }
    }
    settings.max_num_batched_tokens = f.uint(limits::MAX_NUM_BATCHED_TOKENS)?;
    settings.max_num_seqs = f.uint(limits::MAX_NUM_SEQS)?;
    if let Some(eager) = f.boolean("enforce_eager")? {
        settings.enforce_eager = eager;
    }
    Ok(Engine::Vllm(settings))
}

/// The GPU vLLM starts on: a catalog name (`gpu`) or a memory size
/// (`gpu_memory_gib`, the total the driver reports), not both.
fn gpu(f: &Fields) -> Result<VllmSettings, ApiError> {
    let name = f.text("gpu")?;
    let gib = f.number("gpu_memory_gib", 0.0, MAX_GPU_MEMORY_GIB)?;
    match (name, gib) {
        (Some(_), Some(_)) => Err(ApiError::field(
            &f.path("gpu_memory_gib"),
            "give gpu or gpu_memory_gib, not both",
        )),
        (None, None) => Err(ApiError::field(
            &f.path("gpu"),
            "is required with engine vllm (its KV pool is what the GPU's memory leaves): a GPU name from /api/gpus, or gpu_memory_gib",
        )),
        (None, Some(gib)) => {
            let bytes = (gib * GIB).round() as u64;
            limits::GPU_MEMORY.check(bytes).map_err(|_| {
                ApiError::field(
                    &f.path("gpu_memory_gib"),
                    format!("must be at least 1 MiB (0.0009765625) and at most {MAX_GPU_MEMORY_GIB}, got {gib}"),
                )
            })?;
            Ok(VllmSettings::new(Bytes(bytes)))
        }
        (Some(name), None) => {
            let catalog = Catalog::embedded();
            let Some(gpu) = catalog.gpu(name) else {
                return Err(unknown_gpu(&f.path("gpu"), name, catalog));
            };
            let Some((memory, _)) = gpu.usable_memory else {
                return Err(ApiError::field(
                    &f.path("gpu"),
                    format!("the catalog has no driver-reported memory for {}; give gpu_memory_gib", gpu.name),
                ));
            };
            let mut settings = VllmSettings::new(memory);
            settings.gpu_name = Some(gpu.name.clone());
            Ok(settings)
        }
    }
}

/// A 400 for a GPU name the catalog lacks, with the closest name and every name.
pub(crate) fn unknown_gpu(path: &str, name: &str, catalog: &Catalog) -> ApiError {
    let names: Vec<&str> = catalog.gpus.iter().map(|g| g.name.as_str()).collect();
    unknown_name(path, "GPU", name, &names)
}
