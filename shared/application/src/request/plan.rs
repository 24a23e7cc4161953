//! A plan request (`POST /api/plan`, and each workload of the scheduled cost planner):
//! its `mode`, the workload of that mode's memory endpoint, and the plan's own fields
//! (GPUs, instance types, limits, custom GPUs, prices), into the planner's types.

use calculator::limits::{
    BANDWIDTH_GBPS, CUSTOM_GPU_MEMORY_GIB, MAX_GPU_MEMORY_GIB, MAX_GPU_NAME_CHARS, MAX_LISTED,
    MAX_USD_PER_HOUR, USD_PER_HOUR,
};
use calculator::{clip, Choice, Engine, InferenceRequest, Unit, DEFAULT_GPU_MEMORY_UTILIZATION};
use planner::performance::longest;
use planner::{Catalog, Constraints, CustomGpu, PlanRequest, PlanTraffic, PriceList, Workload};
use serde_json::{Map, Value};

use super::calculation::Calculation;
use super::engine::{gib_to_bytes, gpu_read_as, unknown_gpu, Context};
use super::fields::{
    self, Endpoint, Field, CONCURRENCY, CONCURRENT_SEQUENCES_FIELD, CUSTOM_GPUS, EXPERT_PARALLEL,
    FIELDS, GPUS, GPU_MEMORY_UTILIZATION, INPUT_TOKENS, INSTANCE_TYPES, MAX_GPUS, MODE,
    OUTPUT_TOKENS, PRICES, REQUESTS_PER_SECOND, SEARCH, TPOT_MS, TTFT_MS,
};
use super::model::{self, Resolved};
use super::reader::{unknown_name, Fields};
use super::{inference, traffic, training};
use crate::http::{json_kind, ApiError};

/// A plan request, read: the model, the planner's request and the catalog with the
/// request's prices.
pub struct PlanInput {
    /// The model and how it was named.
    pub resolved: Resolved,
    /// The path prefix of its fields in errors (`workloads[2].`).
    pub prefix: String,
    /// The mode.
    pub calc: Calculation,
    /// What the planner plans.
    pub request: PlanRequest,
    /// The catalog with the prices in force.
    pub catalog: Catalog,
    /// The unit of the answer's strings.
    pub unit: Unit,
}

/// Refuses the memory endpoint's fields a plan sets itself, and fields neither the
/// mode's endpoint nor a plan takes (those of the other mode said so).
fn reject_fields(f: &Fields, calc: Calculation) -> Result<(), ApiError> {
    if let Some(field) = FIELDS
        .iter()
        .find(|field| field.set_by_plan.is_some() && f.has(field.name))
    {
        return Err(ApiError::field(
            &f.path(field.name),
            format!(
                "is not a plan field: {}",
                field.set_by_plan.unwrap_or_default()
            ),
        ));
    }
    let known = fields::plan_fields(calc);
    let other = Calculation::ALL
        .iter()
        .find(|c| **c != calc)
        .map(|c| fields::names_of(Endpoint::of(*c)))
        .unwrap_or_default();
    f.reject_unknown(&known, |key| {
        (other.contains(&key) && !known.contains(&key)).then_some("the other mode")
    })
}

/// Reads one plan request object; `prefix` places field names in errors
/// (`workloads[2].`). `catalog` holds the prices in force (embedded, or a bucket's).
pub fn read_plan(
    map: &Map<String, Value>,
    prefix: &str,
    catalog: &Catalog,
) -> Result<PlanInput, ApiError> {
    let f = Fields::new(map, prefix);
    let calc = f
        .choice::<Calculation>(&MODE)?
        .ok_or_else(|| ApiError::field(&f.path(MODE.name), "is required: inference or training"))?;
    reject_fields(&f, calc)?;
    let mut resolved = model::resolve(&f)?;
    let unit = f.unit(Unit::default())?;
    let traffic = plan_traffic(&f, calc)?;
    let workload = match calc {
        Calculation::Inference => Workload::Inference(InferenceRequest {
            unit,
            ..inference::read(
                &f,
                Context::Plan,
                traffic.map(|t| (1, longest(t.input_tokens), longest(t.output_tokens))),
            )?
        }),
        Calculation::Training => Workload::Training(training::read(&f)?),
    };
    let custom_gpus = custom_gpus(&f, catalog)?;
    for (_, typed) in strings(&f, GPUS.name)? {
        resolved.notes.extend(gpu_read_as(typed, catalog));
    }
    let constraints = Constraints {
        gpus: gpu_names(&f, catalog, &custom_gpus)?,
        instance_types: instance_types(&f, catalog)?,
        max_gpus: f.uint(&MAX_GPUS)?,
        gpu_memory_utilization: f
            .fraction(&GPU_MEMORY_UTILIZATION)?
            .unwrap_or_else(|| default_utilization(&workload)),
        concurrent_sequences: f.uint(&CONCURRENT_SEQUENCES_FIELD)?,
        search: f.boolean(&SEARCH)?.unwrap_or(false),
    };
    if constraints.search {
        check_search(&f, &workload)?;
    }
    if calc == Calculation::Training && constraints.concurrent_sequences.is_some() {
        return Err(ApiError::field(
            &f.path(CONCURRENT_SEQUENCES_FIELD.name),
            "applies to mode inference",
        ));
    }
    Ok(PlanInput {
        catalog: prices(&f, catalog)?,
        prefix: prefix.to_owned(),
        resolved,
        calc,
        request: PlanRequest {
            workload,
            constraints,
            custom_gpus,
            traffic,
            unit,
        },
        unit,
    })
}

/// The traffic an inference plan sizes for, with its targets; refused on a training
/// plan, and targets without a traffic.
fn plan_traffic(f: &Fields, calc: Calculation) -> Result<Option<PlanTraffic>, ApiError> {
    const TRAFFIC: [&Field; 6] = [
        &INPUT_TOKENS,
        &OUTPUT_TOKENS,
        &CONCURRENCY,
        &REQUESTS_PER_SECOND,
        &TTFT_MS,
        &TPOT_MS,
    ];
    if calc == Calculation::Training {
        if let Some(field) = TRAFFIC
            .iter()
            .chain([&&EXPERT_PARALLEL])
            .find(|field| f.has(field.name))
        {
            return Err(ApiError::field(
                &f.path(field.name),
                "applies to mode inference",
            ));
        }
        return Ok(None);
    }
    let lengths = traffic::read(f)?;
    let ttft = f.fraction(&TTFT_MS)?;
    let tpot = f.fraction(&TPOT_MS)?;
    // Expert parallelism is the engine's setting (each candidate's), not the traffic's.
    let expert_parallel = f.boolean(&EXPERT_PARALLEL)?;
    let Some(t) = lengths else {
        if let Some(field) = [&TTFT_MS, &TPOT_MS]
            .into_iter()
            .find(|field| f.has(field.name))
        {
            return Err(ApiError::field(
                &f.path(field.name),
                "needs a traffic: give input_tokens and output_tokens",
            ));
        }
        return Ok(None);
    };
    Ok(Some(PlanTraffic {
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        demand: t.demand,
        ttft_target: ttft.map(|ms| ms / 1e3),
        tpot_target: tpot.map(|ms| ms / 1e3),
        expert_parallel: expert_parallel.unwrap_or(false),
    }))
}

/// A list of at most [`MAX_LISTED`] strings.
fn strings<'a>(f: &Fields<'a>, key: &str) -> Result<Vec<(String, &'a str)>, ApiError> {
    let Some(value) = f.get(key) else {
        return Ok(Vec::new());
    };
    let Some(items) = value.as_array() else {
        return Err(ApiError::field(
            &f.path(key),
            format!("must be an array of names, got {}", json_kind(value)),
        ));
    };
    if items.len() > MAX_LISTED {
        return Err(ApiError::field(
            &f.path(key),
            format!("lists at most {MAX_LISTED} names, got {}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let path = f.path(&format!("{key}[{i}]"));
            v.as_str().map(|s| (path.clone(), s)).ok_or_else(|| {
                ApiError::field(&path, format!("must be a string, got {}", json_kind(v)))
            })
        })
        .collect()
}

/// `gpus`: catalog names (as the catalog spells them, any case) or custom GPU names.
fn gpu_names(f: &Fields, catalog: &Catalog, custom: &[CustomGpu]) -> Result<Vec<String>, ApiError> {
    strings(f, GPUS.name)?
        .into_iter()
        .map(|(path, name)| {
            if let Some(g) = catalog.gpu(name) {
                Ok(g.name.clone())
            } else if let Some(c) = custom
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
            {
                Ok(c.name.clone())
            } else {
                Err(unknown_gpu(&path, name, catalog))
            }
        })
        .collect()
}

/// `instance_types`: catalog instance types.
fn instance_types(f: &Fields, catalog: &Catalog) -> Result<Vec<String>, ApiError> {
    strings(f, INSTANCE_TYPES.name)?
        .into_iter()
        .map(|(path, name)| match catalog.instance(name) {
            Some(i) => Ok(i.name.clone()),
            None => Err(unknown_instance(&path, name, catalog)),
        })
        .collect()
}

fn unknown_instance(path: &str, name: &str, catalog: &Catalog) -> ApiError {
    let names: Vec<&str> = catalog.instances.iter().map(|i| i.name.as_str()).collect();
    unknown_name(path, "instance type", name, &names)
}

/// The fields of one custom GPU.
const CUSTOM_GPU_FIELDS: [&str; 4] = ["name", "memory_gib", "usd_per_hour", "bandwidth_gbps"];

/// `custom_gpus`: `[{"name", "memory_gib", "usd_per_hour"?, "bandwidth_gbps"?}]`.
fn custom_gpus(f: &Fields, catalog: &Catalog) -> Result<Vec<CustomGpu>, ApiError> {
    let Some(value) = f.get(CUSTOM_GPUS.name) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .filter(|a| a.len() <= MAX_LISTED)
        .ok_or_else(|| {
            ApiError::field(
                &f.path(CUSTOM_GPUS.name),
                format!("must be an array of at most {MAX_LISTED} GPU objects"),
            )
        })?;
    let mut out: Vec<CustomGpu> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = f.path(&format!("custom_gpus[{i}]."));
        let map = item.as_object().ok_or_else(|| {
            ApiError::field(
                &f.path(&format!("custom_gpus[{i}]")),
                format!("must be an object, got {}", json_kind(item)),
            )
        })?;
        let g = Fields::new(map, &prefix);
        g.reject_unknown(&CUSTOM_GPU_FIELDS, |_| None)?;
        let name = g
            .text_at("name")?
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.chars().count() <= MAX_GPU_NAME_CHARS)
            .ok_or_else(|| {
                ApiError::field(
                    &g.path("name"),
                    format!("is required: a name of 1 to {MAX_GPU_NAME_CHARS} characters"),
                )
            })?;
        if catalog.gpu(name).is_some() || out.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            return Err(ApiError::field(
                &g.path("name"),
                format!("'{name}' is already a GPU name; give each custom GPU a name of its own"),
            ));
        }
        let gib = g.number_in("memory_gib", CUSTOM_GPU_MEMORY_GIB)?.ok_or_else(|| {
            ApiError::field(
                &g.path("memory_gib"),
                format!("is required: the memory one GPU reports, in GiB, up to {MAX_GPU_MEMORY_GIB}"),
            )
        })?;
        let memory = gib_to_bytes(gib).ok_or_else(|| {
            ApiError::field(
                &g.path("memory_gib"),
                "must be at least 1 MiB (0.0009765625 GiB)",
            )
        })?;
        out.push(CustomGpu {
            name: name.to_owned(),
            memory,
            usd_per_hour: g.number_in("usd_per_hour", USD_PER_HOUR)?,
            bandwidth_gbps: g.number_in("bandwidth_gbps", BANDWIDTH_GBPS)?,
        });
    }
    Ok(out)
}

/// `prices`: `{"instance type": usd_per_hour}` replacing catalog prices.
fn prices(f: &Fields, catalog: &Catalog) -> Result<Catalog, ApiError> {
    let Some(value) = f.get(PRICES.name) else {
        return Ok(catalog.clone());
    };
    let map = value
        .as_object()
        .filter(|m| m.len() <= MAX_LISTED)
        .ok_or_else(|| {
            ApiError::field(
                &f.path(PRICES.name),
                format!(
                    "must be an object of at most {MAX_LISTED} instance types and USD per hour"
                ),
            )
        })?;
    let mut list = PriceList {
        as_of: catalog.prices_as_of.clone(),
        region: catalog.region.clone(),
        prices: Vec::new(),
        source: String::new(),
    };
    for (key, value) in map {
        let path = f.path(&format!("prices.{}", clip(key)));
        let instance = catalog
            .instance(key)
            .ok_or_else(|| unknown_instance(&path, key, catalog))?;
        if list.listed(&instance.name).is_some() {
            return Err(ApiError::field(
                &path,
                format!(
                    "names {} again (another key of prices gives it already); give each instance type once",
                    instance.name
                ),
            ));
        }
        let max = MAX_USD_PER_HOUR;
        // null is not a price: it would otherwise read as free.
        let price = value
            .as_f64()
            .filter(|p| p.is_finite() && (0.0..=max).contains(p))
            .ok_or_else(|| {
                ApiError::field(
                    &path,
                    format!("must be a price in USD per hour, 0 to {max}"),
                )
            })?;
        list.prices.push((instance.name.clone(), price));
    }
    let names: Vec<&str> = list.prices.iter().map(|(n, _)| n.as_str()).collect();
    list.source = format!("the request's prices for {}", names.join(", "));
    Ok(list.applied_to(catalog))
}

/// The share of each GPU a plan lets the workload use when the request leaves it out:
/// vLLM's default for the release it follows when vLLM serves, else
/// [`DEFAULT_GPU_MEMORY_UTILIZATION`].
fn default_utilization(workload: &Workload) -> f64 {
    match workload {
        Workload::Inference(r) => match &r.engine {
            Engine::Vllm(s) => s.version.default_gpu_memory_utilization(),
            Engine::Transformers => DEFAULT_GPU_MEMORY_UTILIZATION,
        },
        Workload::Training(_) => DEFAULT_GPU_MEMORY_UTILIZATION,
    }
}

/// `search` chooses DeepSpeed's ZeRO stage, offload and checkpointing for a training
/// plan: refused on an inference plan, and beside a framework other than DeepSpeed.
fn check_search(f: &Fields, workload: &Workload) -> Result<(), ApiError> {
    match workload {
        Workload::Inference(_) => Err(ApiError::field(
            &f.path(SEARCH.name),
            "applies to mode training",
        )),
        Workload::Training(r) => match r.framework {
            Some(calculator::Framework::Deepspeed) | None => Ok(()),
            Some(other) => Err(ApiError::field(
                &f.path(SEARCH.name),
                format!(
                    "searches DeepSpeed's ZeRO stages and offload; leave framework out or set it to deepspeed, not {}",
                    other.name()
                ),
            )),
        },
    }
}
