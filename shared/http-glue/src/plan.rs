//! `POST /api/plan` (and each workload of the scheduled cost planner): reading a plan
//! request into the planner's types, and the plan as JSON.

use calculator::{limits, Bytes, Choice, Unit};
use planner::{
    Candidate, Catalog, Constraints, CustomGpu, Estimate, Parallelism, Plan, PlanRequest,
    PriceList, Workload, CONCURRENT_SEQUENCES, HOURS_PER_MONTH, MAX_GPUS, MAX_LISTED,
};
use serde_json::{json, Map, Value};

use crate::body::json_kind;
use crate::fields::{clip, unknown_name, Fields};
use crate::memory::engine::{unknown_gpu, Context, MAX_GPU_MEMORY_GIB};
use crate::memory::parse::{inference_request, resolve_model, training_request, Resolved};
use crate::memory::respond::vllm_json;
use crate::memory::{parse_unit, Calculation};
use crate::ApiError;

/// The planning fields, besides the workload's own (those of the memory endpoint that
/// `mode` names).
pub const PLAN_FIELDS: [&str; 8] = [
    "mode",
    "gpus",
    "instance_types",
    "max_gpus",
    "gpu_memory_utilization",
    "concurrent_sequences",
    "custom_gpus",
    "prices",
];

/// Fields of the memory endpoints that a plan sets itself.
const SET_BY_PLAN: [(&str, &str); 3] = [
    (
        "num_gpus",
        "a plan chooses the GPUs per candidate; limit them with max_gpus",
    ),
    (
        "gpu",
        "a plan tries every catalog GPU; name the ones to consider in gpus",
    ),
    (
        "gpu_memory_gib",
        "a plan tries every catalog GPU; add your own in custom_gpus",
    ),
];

/// The fields a plan request of `calc` accepts.
fn known_fields(calc: Calculation) -> Vec<&'static str> {
    calc.fields()
        .into_iter()
        .filter(|f| !SET_BY_PLAN.iter().any(|(k, _)| k == f))
        .chain(PLAN_FIELDS)
        .collect()
}

/// A plan request, read: the model, the planner's request and the catalog with the
/// request's prices.
pub struct ParsedPlan {
    resolved: Resolved,
    prefix: String,
    calc: Calculation,
    request: PlanRequest,
    catalog: Catalog,
    unit: Unit,
}

/// Reads one plan request object; `prefix` places field names in errors
/// (`workloads[2].`). `catalog` holds the prices in force (embedded, or a bucket's).
pub fn parse(
    map: &Map<String, Value>,
    prefix: &str,
    catalog: &Catalog,
) -> Result<ParsedPlan, ApiError> {
    let f = Fields::new(map, prefix);
    let calc = f
        .choice("mode", Calculation::parse, &["inference", "training"])?
        .ok_or_else(|| ApiError::field(&f.path("mode"), "is required: inference or training"))?;
    for (field, why) in SET_BY_PLAN {
        if f.has(field) {
            return Err(ApiError::field(
                &f.path(field),
                format!("is not a plan field: {why}"),
            ));
        }
    }
    let other: Vec<(&str, &str)> = Calculation::ALL
        .into_iter()
        .filter(|c| *c != calc)
        .flat_map(|c| c.fields())
        .filter(|k| !known_fields(calc).contains(k))
        .map(|k| (k, "the other mode"))
        .collect();
    f.reject_unknown(&known_fields(calc), &other)?;
    let resolved = resolve_model(&f)?;
    let unit = parse_unit(&f, Unit::default())?;
    let workload = match calc {
        Calculation::Inference => Workload::Inference(inference_request(&f, Context::Plan)?),
        Calculation::Training => Workload::Training(training_request(&f)?),
    };
    let custom_gpus = custom_gpus(&f, catalog)?;
    let constraints = Constraints {
        gpus: gpu_names(&f, catalog, &custom_gpus)?,
        instance_types: instance_types(&f, catalog)?,
        max_gpus: f.uint(MAX_GPUS)?,
        gpu_memory_utilization: f
            .fraction(limits::GPU_MEMORY_UTILIZATION)?
            .unwrap_or(calculator::vllm::DEFAULT_GPU_MEMORY_UTILIZATION),
        concurrent_sequences: f.uint(CONCURRENT_SEQUENCES)?,
    };
    if calc == Calculation::Training && constraints.concurrent_sequences.is_some() {
        return Err(ApiError::field(
            &f.path("concurrent_sequences"),
            "applies to mode inference",
        ));
    }
    Ok(ParsedPlan {
        catalog: prices(&f, catalog)?,
        prefix: prefix.to_owned(),
        resolved,
        calc,
        request: PlanRequest {
            workload,
            constraints,
            custom_gpus,
        },
        unit,
    })
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
    strings(f, "gpus")?
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
    strings(f, "instance_types")?
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

/// Longest custom GPU name.
const MAX_NAME_CHARS: usize = 64;

/// `custom_gpus`: `[{"name", "memory_gib", "usd_per_hour"?, "bandwidth_gbps"?}]`.
fn custom_gpus(f: &Fields, catalog: &Catalog) -> Result<Vec<CustomGpu>, ApiError> {
    let Some(value) = f.get("custom_gpus") else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .filter(|a| a.len() <= MAX_LISTED)
        .ok_or_else(|| {
            ApiError::field(
                &f.path("custom_gpus"),
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
        g.reject_unknown(
            &["name", "memory_gib", "usd_per_hour", "bandwidth_gbps"],
            &[],
        )?;
        let name = g
            .text("name")?
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.chars().count() <= MAX_NAME_CHARS)
            .ok_or_else(|| {
                ApiError::field(
                    &g.path("name"),
                    format!("is required: a name of 1 to {MAX_NAME_CHARS} characters"),
                )
            })?;
        if catalog.gpu(name).is_some() || out.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            return Err(ApiError::field(
                &g.path("name"),
                format!("'{name}' is already a GPU name; give each custom GPU a name of its own"),
            ));
        }
        let gib = g.number("memory_gib", 0.0, MAX_GPU_MEMORY_GIB)?.ok_or_else(|| {
            ApiError::field(
                &g.path("memory_gib"),
                format!("is required: the memory one GPU reports, in GiB, up to {MAX_GPU_MEMORY_GIB}"),
            )
        })?;
        let memory = Bytes((gib * (1u64 << 30) as f64).round() as u64);
        limits::GPU_MEMORY.check(memory.0).map_err(|_| {
            ApiError::field(
                &g.path("memory_gib"),
                "must be at least 1 MiB (0.0009765625 GiB)",
            )
        })?;
        out.push(CustomGpu {
            name: name.to_owned(),
            memory,
            usd_per_hour: g.number("usd_per_hour", 0.0, planner::catalog::MAX_USD_PER_HOUR)?,
            bandwidth_gbps: g.number("bandwidth_gbps", 0.0, 1e6)?,
        });
    }
    Ok(out)
}

/// `prices`: `{"instance type": usd_per_hour}` replacing catalog prices.
fn prices(f: &Fields, catalog: &Catalog) -> Result<Catalog, ApiError> {
    let Some(value) = f.get("prices") else {
        return Ok(catalog.clone());
    };
    let map = value
        .as_object()
        .filter(|m| m.len() <= MAX_LISTED)
        .ok_or_else(|| {
            ApiError::field(
                &f.path("prices"),
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
        let max = planner::catalog::MAX_USD_PER_HOUR;
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
    Ok(catalog.with_prices(&list))
}

impl ParsedPlan {
    /// Runs the planner and renders the answer.
    pub fn answer(&self) -> Result<Value, ApiError> {
        let plan = planner::plan(&self.resolved.model, &self.request, &self.catalog)
            .map_err(|e| ApiError::from_calc(e, &self.prefix, self.resolved.field()))?;
        Ok(self.json(&plan))
    }

    /// The model's name as answered.
    pub fn model_name(&self) -> String {
        self.resolved
            .model
            .name
            .clone()
            .unwrap_or_else(|| "custom model".into())
    }

    /// `inference` or `training`.
    pub fn mode(&self) -> &'static str {
        self.calc.name()
    }

    fn json(&self, plan: &Plan) -> Value {
        let c = &self.request.constraints;
        let mut parameters = self.resolved.echo.clone();
        parameters.extend([
            ("mode".into(), json!(self.calc.name())),
            ("gpus".into(), json!(c.gpus)),
            ("instance_types".into(), json!(c.instance_types)),
            ("max_gpus".into(), json!(c.max_gpus)),
            (
                "gpu_memory_utilization".into(),
                json!(c.gpu_memory_utilization),
            ),
            ("concurrent_sequences".into(), json!(c.concurrent_sequences)),
            ("unit".into(), json!(self.unit.name())),
        ]);
        match &self.request.workload {
            Workload::Inference(r) => parameters.extend([
                ("engine".into(), json!(r.engine.name())),
                ("batch_size".into(), json!(r.batch_size)),
                ("sequence_length".into(), json!(r.sequence_length)),
                ("max_new_tokens".into(), json!(r.max_new_tokens)),
            ]),
            Workload::Training(r) => parameters.extend([
                ("method".into(), json!(r.method.name())),
                ("batch_size".into(), json!(r.batch_size)),
                ("sequence_length".into(), json!(r.sequence_length)),
                ("zero_stage".into(), json!(r.zero_stage)),
            ]),
        }
        // Warnings every candidate shares (about the model and its checkpoint) are said
        // once, at the top; each candidate keeps its own.
        let shared = shared_warnings(plan);
        let candidates: Vec<Value> = plan
            .candidates
            .iter()
            .map(|c| self.candidate_json(c, &shared))
            .collect();
        let warnings: Vec<&String> = self.resolved.notes.iter().chain(&shared).collect();
        json!({
            "mode": self.calc.name(),
            "model": {
                "name": self.resolved.model.name,
                "source": self.resolved.source,
            },
            "parameters": parameters,
            "summary": plan.summary(),
            "cheapest": plan.cheapest().map(|c| self.candidate_json(c, &shared)),
            "candidates": candidates,
            "excluded": plan.excluded.iter().map(|e| json!({
                "gpu": e.gpu, "instance": e.instance, "reason": e.reason,
            })).collect::<Vec<_>>(),
            "prices": {
                "as_of": plan.prices_as_of,
                "region": plan.region,
                "source": plan.price_source,
                "hours_per_month": HOURS_PER_MONTH,
            },
            "warnings": warnings,
        })
    }

    fn candidate_json(&self, c: &Candidate, shared: &[String]) -> Value {
        let unit = self.unit;
        let per_gpu = c.memory_per_gpu();
        let headroom = c.usable_memory.0 as i128 - per_gpu.0 as i128;
        let mut v = json!({
            "instance": c.instance,
            "gpu": c.gpu,
            "gpu_count": c.gpu_count,
            "fits": c.fits,
            "memory_per_gpu": per_gpu.format(unit),
            "memory_per_gpu_bytes": per_gpu.0,
            "usable_memory_per_gpu": c.usable_memory.format(unit),
            "usable_memory_per_gpu_bytes": c.usable_memory.0,
            "headroom_per_gpu": signed(headroom, unit),
            "headroom_per_gpu_bytes": headroom as i64,
            "max_batch_size": c.max_batch_size,
            "max_sequence_length": c.max_sequence_length,
            "usd_per_hour": c.usd_per_hour,
            "usd_per_month": c.usd_per_month().map(|m| (m * 100.0).round() / 100.0),
            "missing": c.missing,
            "notes": c.notes,
        });
        match c.parallelism {
            Parallelism::Tensor {
                tensor_parallel,
                replicas,
            } => {
                v["tensor_parallel"] = json!(tensor_parallel);
                v["replicas"] = json!(replicas);
                v["concurrent_sequences"] = json!(c.concurrent_sequences);
            }
            Parallelism::Data {
                gpus,
                framework,
                zero_stage,
            } => {
                v["data_parallel"] = json!(gpus);
                v["framework"] = json!(framework.name());
                v["zero_stage"] = json!(zero_stage);
            }
        }
        let (parts, warnings): (Vec<(&str, Bytes)>, &Vec<String>) = match &c.estimate {
            Estimate::Inference(e) => (
                vec![
                    ("model_weights", e.model_weights),
                    ("kv_cache", e.kv_cache),
                    ("activation_memory", e.activation_memory),
                    ("runtime_overhead", e.runtime_overhead),
                ],
                &e.warnings,
            ),
            Estimate::Training(e) => (
                vec![
                    ("model_weights", e.model_weights),
                    ("gradients_memory", e.gradients_memory),
                    ("optimizer_memory", e.optimizer_memory),
                    ("activation_memory", e.activation_memory),
                    ("runtime_overhead", e.runtime_overhead),
                ],
                &e.warnings,
            ),
        };
        v["memory_bytes"] = Value::Object(
            parts
                .iter()
                .map(|(k, b)| ((*k).into(), json!(b.0)))
                .collect(),
        );
        if let Some(vllm) = c.estimate.vllm() {
            v["vllm"] = vllm_json(vllm, unit);
            v["kv_cache_tokens"] = json!(vllm.kv_cache_tokens);
        }
        let own: Vec<&String> = warnings.iter().filter(|w| !shared.contains(w)).collect();
        v["warnings"] = json!(own);
        v["mem_bandwidth_gbps"] = json!(c.bandwidth_gbps);
        v
    }
}

fn candidate_warnings(c: &Candidate) -> &[String] {
    match &c.estimate {
        Estimate::Inference(e) => &e.warnings,
        Estimate::Training(e) => &e.warnings,
    }
}

/// The warnings every candidate of the plan has, in the first one's order.
fn shared_warnings(plan: &Plan) -> Vec<String> {
    let Some(first) = plan.candidates.first() else {
        return Vec::new();
    };
    candidate_warnings(first)
        .iter()
        .filter(|w| {
            plan.candidates
                .iter()
                .all(|c| candidate_warnings(c).contains(w))
        })
        .cloned()
        .collect()
}

/// A signed byte count as `"-1.20 GB"`.
fn signed(bytes: i128, unit: Unit) -> String {
    let text = Bytes(bytes.unsigned_abs().min(u64::MAX as u128) as u64).format(unit);
    if bytes < 0 {
        format!("-{text}")
    } else {
        text
    }
}
