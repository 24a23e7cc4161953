//! Planning one workload: which instances (or GPUs) hold it, how it is split over
//! their GPUs, what that leaves, and what it costs. Every memory figure comes from the
//! calculator; this module only chooses settings and compares. Methodology §11.
//!
//! - `types`: the request and the answer;
//! - `setting`: one GPU in one count, and what its hardware runs;
//! - `inference`: the tensor-parallel split and what vLLM holds on it;
//! - `serving`: how a candidate serves a traffic, and what a token costs;
//! - `memo`: the predictions already made in one plan;
//! - `training`: data parallel over every GPU of the candidate.

mod inference;
mod memo;
mod serving;
mod setting;
mod training;
mod types;

pub use serving::usd_per_million;
pub use training::{Searched, SEARCH_ORDER};
pub use types::{
    Candidate, CandidateServing, Constraints, CustomGpu, Estimate, Excluded, Parallelism, Plan,
    PlanRequest, PlanTraffic, Workload,
};

use calculator::{check_inference, check_training, CalcError, Model, Warning, WarningCode};

use crate::catalog::{Catalog, Gpu, Instance, Platform};
use memo::Memo;
use setting::Setting;

/// Tensor-parallel degrees tried, smallest first: vLLM's usual splits within one
/// machine.
pub const TENSOR_PARALLEL_DEGREES: [u64; 4] = [1, 2, 4, 8];

/// GPU counts tried for a GPU that no catalog instance carries (a custom GPU, or one
/// named in `gpus`), up to `max_gpus`: the counts a tensor-parallel replica can have.
const GPU_COUNTS: [u64; 4] = TENSOR_PARALLEL_DEGREES;

/// What one GPU (in the counts tried) comes to: a candidate, or why it cannot run the
/// workload at all.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// A candidate, fitting or with what it lacks.
    Candidate(Box<Candidate>),
    /// The GPU cannot run the workload: the reason.
    Excluded(String),
}

/// Plans `req` for `model` over `catalog` (its prices as given). Fails only when the
/// workload itself is invalid (a field error, as the memory endpoints give): the
/// request is checked on its own first ([`check_inference`], [`check_training`]).
pub fn plan(model: &Model, req: &PlanRequest, catalog: &Catalog) -> Result<Plan, CalcError> {
    match &req.workload {
        Workload::Inference(r) => check_inference(model, r)?,
        Workload::Training(r) => check_training(model, r)?,
    }
    let mut candidates = Vec::new();
    let mut excluded = Vec::new();
    let memo = Memo::default();
    for (gpu, instance, counts) in places(req, catalog) {
        match evaluate(model, req, &gpu, instance.as_ref(), &counts, catalog, &memo)? {
            Outcome::Candidate(c) => candidates.push(*c),
            Outcome::Excluded(reason) => excluded.push(Excluded {
                gpu: gpu.name.clone(),
                instance: instance.map(|i| i.0),
                reason,
            }),
        }
    }
    candidates.sort_by(|a, b| {
        b.fits
            .cmp(&a.fits)
            .then(price_order(cost(a, req), cost(b, req)))
            .then(a.gpu_count.cmp(&b.gpu_count))
            .then(a.gpu.cmp(&b.gpu))
    });
    Ok(Plan {
        candidates,
        excluded,
        prices_as_of: catalog.prices_as_of.clone(),
        region: catalog.region.clone(),
        price_source: catalog.price_source.clone(),
        price_sources: catalog.price_sources.clone(),
    })
}

/// What candidates are ranked by: with a traffic and a demand, the month's cost of
/// serving it; with a traffic alone, the cost of a million output tokens; else the
/// price per hour.
fn cost(c: &Candidate, req: &PlanRequest) -> Option<f64> {
    let serving = c.serving.as_ref().and_then(|s| s.as_ref().ok());
    match req.traffic {
        Some(t) if t.demand.is_some() => serving.and_then(|s| s.usd_per_month_for_demand),
        Some(_) => serving.and_then(|s| s.usd_per_million_output_tokens),
        None => c.usd_per_hour,
    }
}

fn price_order(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// An instance's name and price, or the per-GPU price of a GPU without one.
type Place = (String, Option<f64>);

/// Every (GPU, instance, GPU counts) to evaluate, after the constraints.
fn places(req: &PlanRequest, catalog: &Catalog) -> Vec<(Gpu, Option<Place>, Vec<u64>)> {
    let c = &req.constraints;
    let named =
        |list: &[String], name: &str| list.iter().any(|n| n.trim().eq_ignore_ascii_case(name));
    let max_gpus = c.max_gpus.unwrap_or(u64::MAX);
    let mut out = Vec::new();
    for instance in &catalog.instances {
        let Some(gpu) = catalog.gpu(&instance.gpu) else {
            continue;
        };
        let by_gpu = c.gpus.is_empty() || named(&c.gpus, &gpu.name);
        let by_instance = c.instance_types.is_empty() || named(&c.instance_types, &instance.name);
        // Accelerators that are not CUDA GPUs only when asked for by name.
        let asked = named(&c.gpus, &gpu.name) || named(&c.instance_types, &instance.name);
        if by_gpu
            && by_instance
            && instance.gpu_count <= max_gpus
            && (gpu.platform == Platform::Cuda || asked)
        {
            out.push((
                gpu.clone(),
                Some((instance.name.clone(), instance.usd_per_hour)),
                vec![instance.gpu_count],
            ));
        }
    }
    if !c.instance_types.is_empty() {
        return out;
    }
    let counts: Vec<u64> = GPU_COUNTS.into_iter().filter(|n| *n <= max_gpus).collect();
    // Named catalog GPUs that no instance carries (each once), and the request's own.
    let mut seen: Vec<&str> = Vec::new();
    for name in &c.gpus {
        if let Some(gpu) = catalog.gpu(name) {
            if catalog.instances_of(&gpu.name).next().is_none()
                && !seen.contains(&gpu.name.as_str())
            {
                seen.push(&gpu.name);
                out.push((gpu.clone(), None, counts.clone()));
            }
        }
    }
    for custom in &req.custom_gpus {
        if c.gpus.is_empty() || named(&c.gpus, &custom.name) {
            out.push((custom.to_gpu(), None, counts.clone()));
        }
    }
    out
}

/// One candidate for `gpu`: the first GPU count (and parallelism) that fits, or the
/// largest tried with what it lacks; excluded when the GPU cannot run the workload.
fn evaluate(
    model: &Model,
    req: &PlanRequest,
    gpu: &Gpu,
    instance: Option<&Place>,
    counts: &[u64],
    catalog: &Catalog,
    memo: &Memo,
) -> Result<Outcome, CalcError> {
    let node = instance.and_then(|(name, _)| catalog.instances.iter().find(|i| &i.name == name));
    let link = node.and_then(|i| i.interconnect.as_ref());
    let Some((usable, _)) = gpu.usable_memory else {
        return Ok(Outcome::Excluded(format!(
            "{}: the catalog has no driver-reported memory for it",
            gpu.name
        )));
    };
    let mut last = None;
    for &count in counts {
        let price = match instance {
            Some((_, p)) => *p,
            None => custom_price(req, gpu).map(|p| p * count as f64),
        };
        let setting = Setting {
            model,
            req,
            gpu,
            usable,
            count,
            nodes: 1,
            link,
            instance: node,
            catalog,
            memo,
        };
        let outcome = match &req.workload {
            Workload::Inference(r) => setting.inference(r)?,
            Workload::Training(r) => setting.training(r)?,
        };
        let mut candidate = match outcome {
            Outcome::Candidate(c) => c,
            excluded => return Ok(excluded),
        };
        candidate.instance = instance.map(|i| i.0.clone());
        candidate.usd_per_hour = price;
        candidate.serving = candidate.serving.take().map(|s| s.map(|s| s.priced(price)));
        let fits = candidate.fits;
        last = Some(candidate);
        if fits {
            break;
        }
    }
    // More nodes where one does not hold the workload: not where it holds it and
    // misses the latency targets (then its serving says why).
    let last = match (last, node) {
        (Some(c), Some(node)) if short_of_memory(&c) => {
            let one = Setting {
                model,
                req,
                gpu,
                usable,
                count: node.gpu_count,
                nodes: 1,
                link,
                instance: Some(node),
                catalog,
                memo,
            };
            Some(over_nodes(&one, c, instance.and_then(|i| i.1))?)
        }
        (last, _) => last,
    };
    Ok(match last {
        Some(c) => Outcome::Candidate(c),
        None => Outcome::Excluded(format!("{}: no GPU count within max_gpus", gpu.name)),
    })
}

/// Whether a row that does not fit lacks GPU memory, which more nodes can add: not a
/// row that holds the workload and misses the latency targets (its serving says why),
/// nor one whose headroom or scheduler limits refuse it (more nodes would not help).
fn short_of_memory(c: &Candidate) -> bool {
    !c.fits && c.serving.is_none() && c.lacks_memory
}

/// Node counts a training plan tries when one instance does not hold the workload.
const NODE_COUNTS: [u64; 4] = [2, 4, 8, 16];

/// The most nodes a candidate spans.
pub const MAX_NODES: u64 = 16;

/// A workload one node of `one` does not hold, over 2 to [`MAX_NODES`] such nodes: the
/// fewest that hold it, else the most tried with what it lacks. Training shards its
/// state over all the GPUs; inference runs one replica in pipeline stages, a node each,
/// tensor parallel within the node. Only on instances with EFA (the inter-node network
/// both run over), within `max_gpus`, and only while more nodes shrink what a GPU
/// holds (DDP and hybrid sharding replicate the state per node). `single` is the
/// one-node row, kept when more nodes cannot help.
fn over_nodes(
    one: &Setting,
    single: Box<Candidate>,
    usd_per_hour: Option<f64>,
) -> Result<Box<Candidate>, CalcError> {
    let efa = one.instance.and_then(|i| i.efa_interfaces).unwrap_or(0) > 0;
    let max_gpus = one.req.constraints.max_gpus.unwrap_or(u64::MAX);
    if !efa {
        return Ok(single);
    }
    let mut best = single;
    for nodes in NODE_COUNTS {
        if nodes * one.count > max_gpus {
            break;
        }
        let setting = Setting { nodes, ..*one };
        let outcome = match &one.req.workload {
            Workload::Training(r) => setting.training(r)?,
            Workload::Inference(r) => setting.pipelined(r)?,
        };
        let Outcome::Candidate(mut c) = outcome else {
            break;
        };
        // More nodes that shard nothing further leave the row as it was (a vLLM row's
        // memory is its whole budget whatever it holds: pipeline stages always hold
        // fewer layers a GPU).
        let training = matches!(one.req.workload, Workload::Training(_));
        if training && c.memory_per_gpu() >= best.memory_per_gpu() && best.nodes == 1 {
            return Ok(best);
        }
        c.instance = one.instance.map(|i| i.name.clone());
        c.usd_per_hour = usd_per_hour.map(|p| p * nodes as f64);
        c.notes
            .extend(one.instance.map(|i| joined_over_efa(i, nodes)));
        // A pipeline that holds the model but that the serving model cannot time ends
        // the search as a fit would; one refused for another reason than memory ends
        // it with the one-node row.
        let holds = c.fits || matches!(c.serving, Some(Err(_)));
        if !holds && !short_of_memory(&c) {
            return Ok(best);
        }
        best = c;
        if holds {
            break;
        }
    }
    Ok(best)
}

/// How the nodes of a several-node candidate are linked: the instances' EFA
/// interfaces and the network bandwidth their traffic shares (catalog figures).
fn joined_over_efa(instance: &Instance, nodes: u64) -> Warning {
    let bandwidth = instance
        .network_gbps
        .map(|g| format!(", {g} Gbit/s of network a node"))
        .unwrap_or_default();
    let sentence = format!(
        "{nodes} {} instances joined over EFA ({}{bandwidth}); priced as {nodes} instances",
        instance.name,
        calculator::counted(instance.efa_interfaces.unwrap_or(0), "interface"),
    );
    Warning::new(WarningCode::NodesJoined, sentence)
}

fn custom_price(req: &PlanRequest, gpu: &Gpu) -> Option<f64> {
    req.custom_gpus
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(&gpu.name))
        .and_then(|c| c.usd_per_hour)
}
