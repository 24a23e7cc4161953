//! A `/api/performance` request: the model and its weights, one replica's GPU (by
//! name or by instance type) and vLLM settings, and the traffic it serves. Read in the
//! order the API documents the fields, so that the first bad one is the one named.

use calculator::{Engine, InferenceRequest, Precision, VllmSettings, VllmVersion};
use planner::performance::{longest, Traffic};
use planner::{Catalog, Instance};
use serde_json::{Map, Value};

use super::engine::{gpu_read_as, unknown_gpu};
use super::fields::{
    self, Endpoint, CONCURRENCY, ENFORCE_EAGER, EXPERT_PARALLEL, GPU, GPU_MEMORY_UTILIZATION,
    GROUP_SIZE, INSTANCE, KV_CACHE_PRECISION, LOAD_MTP, MAX_NUM_BATCHED_TOKENS, MAX_NUM_SEQS,
    NUM_GPUS, PRECISION, USD_PER_GPU_HOUR,
};
use super::inference::quantization;
use super::model::{self, Resolved};
use super::reader::{set, unknown_name, Fields};
use super::traffic;
use crate::http::ApiError;

/// A performance request as read.
pub struct PerformanceInput {
    /// The model.
    pub resolved: Resolved,
    /// The replica's inference request: one sequence of the traffic's prompt and output
    /// lengths, on the vllm engine with the GPU's memory and name.
    pub request: InferenceRequest,
    /// The catalog GPU.
    pub gpu: String,
    /// The catalog instance, when named.
    pub instance: Option<String>,
    /// Experts spread whole over the replica's GPUs.
    pub expert_parallel: bool,
    /// The traffic.
    pub traffic: Traffic,
    /// Price of one GPU for an hour, USD, and where it comes from.
    pub price: Option<(f64, String)>,
}

/// Reads one performance request object.
pub fn read_performance(
    map: &Map<String, Value>,
    prefix: &str,
    catalog: &Catalog,
) -> Result<PerformanceInput, ApiError> {
    let f = Fields::new(map, prefix);
    super::only_fields_of(&f, Endpoint::Performance)?;
    let resolved = model::resolve(&f)?;
    let mut request = InferenceRequest::new(1, 1);
    request.precision = f.choice::<Precision>(&PRECISION)?;
    request.quantization = quantization(&f)?;
    request.group_size = f.uint(&GROUP_SIZE)?;
    request.kv_cache_precision = f.choice::<Precision>(&KV_CACHE_PRECISION)?;
    set(&mut request.load_mtp, f.boolean(&LOAD_MTP)?);
    set(&mut request.num_gpus, f.uint(&NUM_GPUS)?);
    let gpu_name = f.text(&GPU)?;
    let utilization = f.fraction(&GPU_MEMORY_UTILIZATION)?;
    let batched = f.uint(&MAX_NUM_BATCHED_TOKENS)?;
    let seqs = f.uint(&MAX_NUM_SEQS)?;
    let eager = f.boolean(&ENFORCE_EAGER)?;
    let version = f.choice::<VllmVersion>(&fields::VLLM_VERSION)?;
    let traffic = traffic::read(&f)?.ok_or_else(|| {
        ApiError::field(
            &f.path(fields::INPUT_TOKENS.name),
            "is required: the mean prompt tokens of a request",
        )
    })?;
    let demand = traffic.demand.ok_or_else(|| {
        ApiError::field(
            &f.path(CONCURRENCY.name),
            "is required: the clients each waiting for their answer (or give requests_per_second)",
        )
    })?;
    let expert_parallel = f.boolean(&EXPERT_PARALLEL)?.unwrap_or(false);
    let instance = instance(&f, catalog)?;
    let usd = f.number(&USD_PER_GPU_HOUR)?;
    let gpu = replica_gpu(&f, gpu_name, instance, catalog)?;
    let mut resolved = resolved;
    resolved
        .notes
        .extend(gpu_name.and_then(|typed| gpu_read_as(typed, catalog)));
    if let Some(i) = instance {
        if request.num_gpus > i.gpu_count {
            return Err(ApiError::field(
                &f.path(NUM_GPUS.name),
                format!(
                    "{} has {}; a replica of {} does not fit on it",
                    i.name,
                    calculator::counted(i.gpu_count, "GPU"),
                    request.num_gpus
                ),
            ));
        }
    }
    let memory = catalog
        .gpu(&gpu)
        .and_then(|g| g.vllm_total())
        .ok_or_else(|| {
            ApiError::field(
                &f.path(GPU.name),
                format!("the catalog has no driver-reported memory for {gpu}"),
            )
        })?;
    let mut settings =
        VllmSettings::of_version(memory, version.unwrap_or(calculator::DEFAULT_VLLM_VERSION));
    settings.gpu_name = Some(gpu.clone());
    set(&mut settings.gpu_memory_utilization, utilization);
    settings.max_num_batched_tokens = batched;
    settings.max_num_seqs = seqs;
    set(&mut settings.enforce_eager, eager);
    // vLLM's kernels see whole experts under expert parallelism (their split rules).
    settings.expert_parallel = expert_parallel;
    // vLLM's max_model_len holds the longest request the traffic draws.
    request.sequence_length = longest(traffic.input_tokens);
    request.max_new_tokens = longest(traffic.output_tokens);
    request.engine = Engine::Vllm(settings);
    let price = match (usd, instance) {
        (Some(p), _) => Some((p, "given (usd_per_gpu_hour)".to_owned())),
        (None, Some(i)) => i.usd_per_hour.map(|p| {
            (
                p / i.gpu_count as f64,
                format!(
                    "{}'s on-demand price, ${p}/hour over its {}",
                    i.name,
                    calculator::counted(i.gpu_count, "GPU")
                ),
            )
        }),
        (None, None) => None,
    };
    Ok(PerformanceInput {
        resolved,
        request,
        gpu,
        instance: instance.map(|i| i.name.clone()),
        expert_parallel,
        traffic: Traffic {
            input_tokens: traffic.input_tokens,
            output_tokens: traffic.output_tokens,
            demand,
        },
        price,
    })
}

/// The catalog instance `instance` names, if given.
fn instance<'c>(f: &Fields, catalog: &'c Catalog) -> Result<Option<&'c Instance>, ApiError> {
    let Some(name) = f.text(&INSTANCE)? else {
        return Ok(None);
    };
    match catalog.instance(name) {
        Some(i) => Ok(Some(i)),
        None => {
            let names: Vec<&str> = catalog.instances.iter().map(|i| i.name.as_str()).collect();
            Err(unknown_name(
                &f.path(INSTANCE.name),
                "instance type",
                name,
                &names,
            ))
        }
    }
}

/// The replica's GPU: `gpu`, or the instance's; both must agree.
fn replica_gpu(
    f: &Fields,
    name: Option<&str>,
    instance: Option<&Instance>,
    catalog: &Catalog,
) -> Result<String, ApiError> {
    let named = match name {
        Some(n) => Some(
            catalog
                .gpu(n)
                .ok_or_else(|| unknown_gpu(&f.path(GPU.name), n, catalog))?
                .name
                .clone(),
        ),
        None => None,
    };
    match (named, instance) {
        (Some(g), Some(i)) if g != i.gpu => Err(ApiError::field(
            &f.path(GPU.name),
            format!("{} carries {}, not {g}", i.name, i.gpu),
        )),
        (Some(g), _) => Ok(g),
        (None, Some(i)) => Ok(i.gpu.clone()),
        (None, None) => Err(ApiError::field(
            &f.path(GPU.name),
            "is required: a GPU name from /api/gpus (or give instance)",
        )),
    }
}
