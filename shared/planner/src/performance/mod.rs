//! Serving performance: how fast a vLLM replica answers (time to first token, time per
//! output token, end-to-end latency) and how much it serves (tokens and requests a
//! second) for a traffic of given prompt and output lengths and a concurrency or an
//! arrival rate. Pure: the model, the calculator's estimate and the catalog's GPU in,
//! numbers out (methodology §12).
//!
//! - `cost`: the time of one engine step from first principles (bytes read, FLOPs,
//!   all-reduces, the engine's own costs);
//! - `schedule`: vLLM's continuous batching with chunked prefill, step by step;
//! - `efficiency`: the fitted factors and the error they leave;
//! - `hardware`: the model and the GPU as the cost model takes them.

mod cost;
mod efficiency;
mod hardware;
mod schedule;

pub use cost::{distinct_experts, step_cost, Step, StepCost};
pub use efficiency::{
    efficiency_among, efficiency_for, expected_error, fitted_engine, fitted_gpus, has_own_factors,
    Efficiency, EngineWide, ExpectedError, GpuFactors,
};
pub use hardware::{compute_dtype, hardware_of, shape_of, ComputeDtype, Hardware, Shape};
pub use schedule::{simulate, Arrivals, Limits, Outcome, Trace, MAX_ITERATIONS};

use calculator::{InferenceEstimate, Model, Warning, WarningCode};

use crate::catalog::{Catalog, Gpu, Interconnect, Platform};

/// Shortest prompt or output as a share of the longest: request lengths are drawn
/// uniformly from `[0.8, 1] ×` their maximum, as the published benchmark runs drew
/// them (`--random-range-ratio 0.8`), around the requested mean.
pub const LENGTH_SPREAD: f64 = 0.8;
/// The longest of the lengths drawn around a mean of `mean` tokens: drawn uniformly in
/// `[LENGTH_SPREAD, 1] ×` it, their mean is `(1 + LENGTH_SPREAD)/2 ×` it.
pub fn longest(mean: u64) -> u64 {
    ((mean as f64 * LONGEST_OVER_MEAN).round() as u64).max(1)
}

/// The longest length drawn over the mean, `2/(1 + LENGTH_SPREAD)`.
pub const LONGEST_OVER_MEAN: f64 = 2.0 / (1.0 + LENGTH_SPREAD);

/// The shortest of them, at least one token.
pub fn shortest(mean: u64) -> u64 {
    ((longest(mean) as f64 * LENGTH_SPREAD).ceil() as u64).max(1)
}

/// Clients simulated beyond what one replica can run at once: enough to keep every
/// slot busy; clients past these only wait, a queue added in closed form.
const SPARE_CLIENTS: u64 = 16;
/// The most clients one simulation runs: a bound on the work a request can cause. A
/// replica that could run more at once (a very large `max_num_seqs` on a large pool)
/// is simulated with this many, said in the warnings.
pub const MAX_SIMULATED_CLIENTS: u64 = 2048;
/// The largest KV block, tokens, the simulation takes: it counts requests by their
/// offset within a block (memory grows with the block). Every published hybrid's
/// block is a few thousand tokens at most; a pasted config with a vast state and a tiny
/// attention could ask for millions.
const MAX_BLOCK_TOKENS: u64 = 1 << 16;
/// Requests simulated per simulated client, and those discarded as warm-up: the
/// steady state after every client's first request.
const REQUESTS_PER_CLIENT: u64 = 3;
const WARMUP_PER_CLIENT: u64 = 1;
/// Requests every closed-loop trace adds, so that a few clients still give the
/// medians a sample.
const MIN_SAMPLE: u64 = 32;
/// Requests an open-loop simulation runs, and how many of the first it discards.
const OPEN_LOOP_REQUESTS: u64 = 600;
const OPEN_LOOP_WARMUP: u64 = 100;

/// One replica as it is served.
#[derive(Clone, Copy, Debug)]
pub struct Serving<'a> {
    /// The model.
    pub model: &'a Model,
    /// The calculator's vLLM estimate at this tensor-parallel degree.
    pub estimate: &'a InferenceEstimate,
    /// The GPU.
    pub gpu: &'a Gpu,
    /// How the replica's GPUs are linked (its instance's), when known.
    pub link: Option<&'a Interconnect>,
    /// GPUs of the replica (tensor parallel).
    pub tensor_parallel: u64,
    /// Routed experts spread whole over the GPUs (expert parallelism) instead of each
    /// split across them.
    pub expert_parallel: bool,
}

/// How much traffic reaches the replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Demand {
    /// Clients each waiting for their answer before sending the next request.
    Concurrency(u64),
    /// Requests arriving at random, this many a second on average.
    RequestsPerSecond(f64),
}

/// The traffic: mean prompt and output lengths and the demand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Traffic {
    /// Mean prompt tokens.
    pub input_tokens: u64,
    /// Mean output tokens.
    pub output_tokens: u64,
    /// Concurrency or arrival rate.
    pub demand: Demand,
}

/// What bounds the replica's speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Reading weights and caches from GPU memory.
    MemoryBandwidth,
    /// Tensor-core throughput.
    Compute,
    /// The tensor-parallel all-reduces.
    Interconnect,
    /// The KV pool (or `max_num_seqs`) holds fewer requests than are sent: they queue.
    KvCapacity,
    /// The engine's fixed per-step and per-sequence costs.
    StepOverhead,
    /// Requests arrive faster than they complete.
    Overload,
}

impl Bound {
    /// Every bound.
    pub const ALL: [Bound; 6] = [
        Bound::MemoryBandwidth,
        Bound::Compute,
        Bound::Interconnect,
        Bound::KvCapacity,
        Bound::StepOverhead,
        Bound::Overload,
    ];

    /// How answers name it.
    pub fn name(self) -> &'static str {
        match self {
            Bound::MemoryBandwidth => "memory_bandwidth",
            Bound::Compute => "compute",
            Bound::Interconnect => "interconnect",
            Bound::KvCapacity => "kv_capacity",
            Bound::StepOverhead => "step_overhead",
            Bound::Overload => "overload",
        }
    }
}

/// One step's cost as an answer shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepBreakdown {
    /// Tokens the step computes.
    pub tokens: f64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Weight bytes read on one GPU.
    pub weight_bytes: f64,
    /// Key/value bytes read on one GPU.
    pub kv_bytes: f64,
    /// FLOPs on one GPU.
    pub flops: f64,
    /// All-reduce time, seconds.
    pub allreduce_seconds: f64,
    /// Fixed and per-sequence engine time, seconds.
    pub overhead_seconds: f64,
}

/// The replica's performance for a traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct Performance {
    /// Median time to first token, as a client measures it, seconds.
    pub ttft_seconds: f64,
    /// Median time per output token after the first, seconds.
    pub tpot_seconds: f64,
    /// Mean end-to-end latency, seconds.
    pub e2e_seconds: f64,
    /// Output tokens per second of the replica.
    pub output_tokens_per_s: f64,
    /// Prompt and output tokens per second of the replica.
    pub total_tokens_per_s: f64,
    /// Requests completed per second.
    pub requests_per_s: f64,
    /// Mean sequences in a step.
    pub mean_running: f64,
    /// What bounds it.
    pub bound: Bound,
    /// A steady decode step.
    pub decode_step: StepBreakdown,
    /// One prompt prefilled alone.
    pub prefill: StepBreakdown,
    /// The dtype the linear layers compute in.
    pub compute_dtype: ComputeDtype,
    /// Whether the GPU's efficiency factors were fitted on its own runs.
    pub calibrated: bool,
    /// The expected error of these figures.
    pub expected_error: ExpectedError,
    /// What was assumed.
    pub warnings: Vec<Warning>,
}

/// Why a replica's performance is not stated.
#[derive(Clone, Debug, PartialEq)]
pub enum Unmodelled {
    /// vLLM would not start, or the GPU lacks a figure the model needs.
    Replica(String),
    /// The load keeps the replica preempting: no request finished within the
    /// simulation's bound on its work.
    Thrashing(String),
    /// The requests take more steps than the simulation runs (a tiny step budget for
    /// long requests).
    TooManySteps(String),
}

impl std::fmt::Display for Unmodelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unmodelled::Replica(why)
            | Unmodelled::Thrashing(why)
            | Unmodelled::TooManySteps(why) => f.write_str(why),
        }
    }
}

/// Everything a simulation needs, resolved once.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The model on one GPU.
    pub shape: Shape,
    /// The GPU and its link.
    pub hardware: Hardware,
    /// The engine's limits.
    pub limits: Limits,
    /// The linear layers' dtype.
    pub compute_dtype: ComputeDtype,
    /// What was assumed.
    pub notes: Vec<Warning>,
}

/// Resolves `serving` for simulation; refused when vLLM would not start or the GPU
/// cannot be modelled.
pub fn prepare(serving: &Serving, catalog: &Catalog) -> Result<Prepared, String> {
    let capacity = serving
        .estimate
        .vllm
        .as_ref()
        .ok_or("the serving model covers the vllm engine only")?;
    if !capacity.starts() {
        return Err(capacity
            .refusal
            .clone()
            .unwrap_or_else(|| "vLLM would not start with these settings".into()));
    }
    let block = capacity.block_table.block_size;
    if block > MAX_BLOCK_TOKENS {
        return Err(format!(
            "vLLM's KV blocks here hold {block} tokens each (the state-space layers' page over the attention's bytes a token), past the {MAX_BLOCK_TOKENS} the simulation counts blocks in"
        ));
    }
    let mut notes = Vec::new();
    let (hardware, compute_dtype) = hardware_of(
        serving.gpu,
        serving.estimate,
        serving.link,
        serving.tensor_parallel,
        catalog,
        &mut notes,
    )?;
    if !capacity.cuda_graphs {
        notes.push(Warning::new(
            WarningCode::PerformanceEagerNotModelled,
            "enforce_eager: every published run replayed CUDA graphs, so the step overhead here is theirs; without them each decode step launches its kernels one by one and small batches run slower than stated",
        ));
    }
    let mut shape = shape_of(serving.model, serving.estimate, serving.tensor_parallel);
    if serving.expert_parallel && shape.experts > 0.0 {
        notes.push(Warning::new(
            WarningCode::ExpertParallelUnvalidated,
            "expert parallelism: each GPU holds whole experts and the MoE layers exchange tokens all-to-all; modelled from the link alone, no published run checks it",
        ));
        // The all-to-all moves each token's k routed copies out and back where the MoE
        // layer's all-reduce moved one vector: of a layer's two exchanges, one grows k
        // times, so every layer's message is charged (1 + k)/2 times (through the same
        // link).
        shape.hidden *= (1.0 + shape.top_k) / 2.0;
    }
    Ok(Prepared {
        shape,
        hardware,
        limits: Limits::of(capacity),
        compute_dtype,
        notes,
    })
}

/// An upper bound on the output tokens a second the replica makes, whatever the load:
/// it runs at most `max_num_seqs` requests, and no more than its KV pool holds of the
/// shortest prompts the traffic draws; a step of that many decodes, each over at least
/// that prompt and with no prefill, takes at least the modelled step time; and tokens
/// a step over its time grows with the decodes in it (the time is affine in them). A
/// plan skips a split whose bound is below what another split already serves.
pub fn output_bound(
    serving: &Serving,
    input_tokens: u64,
    catalog: &Catalog,
) -> Result<f64, String> {
    let prepared = prepare(serving, catalog)?;
    let (eff, _) = efficiency_for(&serving.gpu.name, prepared.compute_dtype);
    let shortest = shortest(input_tokens) as f64;
    let limits = &prepared.limits;
    let held = limits.table.blocks_for(shortest as u64).max(1);
    let running = (limits.blocks / held).min(limits.sequences).max(1) as f64;
    let step = Step {
        decodes: running,
        decode_context: running * shortest,
        decode_window_context: running * shortest.min(prepared.shape.window),
        sampled: running,
        ..Step::default()
    };
    let seconds = step_cost(&prepared.shape, &prepared.hardware, &eff, &step).seconds;
    Ok(running / seconds.max(1e-12))
}

/// Requests of `input + output` tokens the replica can run at once: its sequence limit,
/// or what its KV pool holds.
pub fn slots(limits: &Limits, input: u64, output: u64) -> u64 {
    let per_request = limits.table.blocks_for(input + output).max(1);
    (limits.blocks / per_request).min(limits.sequences).max(1)
}

/// The trace that stands for `traffic` at steady state, and the clients left out of
/// it (they only queue): a closed loop simulates at most what the replica can run at
/// once plus [`SPARE_CLIENTS`].
pub fn steady_trace(traffic: &Traffic, limits: &Limits) -> (Trace, u64) {
    let max = longest;
    let (arrivals, requests, warmup, queued) = match traffic.demand {
        Demand::Concurrency(c) => {
            let room = slots(
                limits,
                max(traffic.input_tokens),
                max(traffic.output_tokens),
            );
            let simulated = c.clamp(1, (room + SPARE_CLIENTS).min(MAX_SIMULATED_CLIENTS));
            (
                Arrivals::ClosedLoop { clients: simulated },
                REQUESTS_PER_CLIENT * simulated + MIN_SAMPLE,
                WARMUP_PER_CLIENT * simulated,
                c.saturating_sub(simulated),
            )
        }
        Demand::RequestsPerSecond(rate) => (
            Arrivals::Poisson { rate },
            OPEN_LOOP_REQUESTS,
            OPEN_LOOP_WARMUP,
            0,
        ),
    };
    let trace = Trace {
        arrivals,
        requests,
        warmup,
        max_input: max(traffic.input_tokens),
        max_output: max(traffic.output_tokens),
        spread: LENGTH_SPREAD,
        seed: 0x5EED,
    };
    (trace, queued)
}

/// The replica's performance for `traffic`, with the fitted factors of its GPU.
pub fn predict(
    serving: &Serving,
    traffic: &Traffic,
    catalog: &Catalog,
) -> Result<Performance, Unmodelled> {
    let prepared = prepare(serving, catalog).map_err(Unmodelled::Replica)?;
    let (eff, calibrated) = efficiency_for(&serving.gpu.name, prepared.compute_dtype);
    let mut warnings = prepared.notes.clone();
    if !calibrated {
        warnings.push(Warning::new(
            WarningCode::PerformanceUncalibratedGpu,
            uncalibrated(serving.gpu, prepared.compute_dtype),
        ));
    }
    let (trace, queued) = steady_trace(traffic, &prepared.limits);
    if let Arrivals::ClosedLoop { clients } = trace.arrivals {
        if clients == MAX_SIMULATED_CLIENTS && queued > 0 {
            warnings.push(Warning::new(
                WarningCode::PerformanceFigureAssumed,
                format!("simulated with {MAX_SIMULATED_CLIENTS} concurrent requests, the most one simulation runs; the rest are counted as waiting"),
            ));
        }
    }
    let outcome = simulate(
        &prepared.shape,
        &prepared.hardware,
        &eff,
        prepared.limits,
        &trace,
    );
    if outcome.truncated {
        let what = cut_short(&prepared.limits, &trace, &outcome);
        if outcome.finished == 0 {
            let why = format!(
                "{what}; no request finished within the simulation's {MAX_ITERATIONS} scheduler iterations"
            );
            return Err(if outcome.preemptions > 0 {
                Unmodelled::Thrashing(format!(
                    "{why}. Lower the load or the lengths, or give the replica more memory"
                ))
            } else {
                Unmodelled::TooManySteps(format!(
                    "{why}. Raise max_num_batched_tokens or lower the lengths"
                ))
            });
        }
        warnings.push(Warning::new(
            WarningCode::PerformanceSimulationCut,
            format!(
                "{what}; the figures come from the {} requests that finished within the simulation's {MAX_ITERATIONS} scheduler iterations",
                outcome.finished
            ),
        ));
    }
    // Clients past the simulated ones wait for the replica, which is already saturated:
    // each waits one request interval per client ahead of it (Little's law).
    let wait = if outcome.requests_per_s > 0.0 {
        queued as f64 / outcome.requests_per_s
    } else {
        0.0
    };
    let bound = bound_of(&prepared, &eff, traffic, &outcome, &mut warnings);
    let mean_context = traffic.input_tokens as f64 + traffic.output_tokens as f64 / 2.0;
    Ok(Performance {
        ttft_seconds: outcome.median_ttft + wait + eff.front_end_seconds,
        tpot_seconds: outcome.median_tpot,
        e2e_seconds: outcome.mean_e2e + wait + eff.front_end_seconds,
        output_tokens_per_s: outcome.output_tokens_per_s,
        total_tokens_per_s: outcome.total_tokens_per_s,
        requests_per_s: outcome.requests_per_s,
        mean_running: outcome.mean_running,
        bound,
        decode_step: decode_breakdown(&prepared, &eff, outcome.mean_running, mean_context),
        prefill: prefill_breakdown(&prepared, &eff, traffic.input_tokens),
        compute_dtype: prepared.compute_dtype,
        calibrated,
        expected_error: expected_error(calibrated),
        warnings,
    })
}

/// Why a simulation ran to its bound, as a sentence: the replica kept preempting, or
/// its requests need that many steps.
fn cut_short(limits: &Limits, trace: &Trace, outcome: &Outcome) -> String {
    let tokens = trace.max_input + trace.max_output;
    if outcome.preemptions > 0 {
        format!(
            "the replica keeps preempting: its KV pool holds {} of the longest requests ({tokens} tokens) at once, and every admitted request pushes another out ({} preemptions)",
            slots(limits, trace.max_input, trace.max_output),
            outcome.preemptions
        )
    } else {
        format!(
            "requests of up to {tokens} tokens in steps of at most {} tokens (max_num_batched_tokens) take more steps than the simulation runs",
            limits.batched_tokens
        )
    }
}

/// Which factors a GPU without its own for `dtype` borrows, as a sentence.
fn uncalibrated(gpu: &Gpu, dtype: ComputeDtype) -> String {
    let platform = if gpu.platform == Platform::Rocm {
        " (ROCm: they come from CUDA GPUs)"
    } else {
        ""
    };
    if has_own_factors(&gpu.name) {
        format!(
            "{}'s published runs did not compute in {}: its share of peak FLOP/s is the fitted GPUs' median{platform}",
            gpu.name,
            dtype.name()
        )
    } else {
        format!(
            "no factors were fitted on {}'s own runs: its shares of peak bandwidth and FLOP/s are the fitted GPUs' medians{platform}",
            gpu.name
        )
    }
}

fn breakdown(c: &StepCost, tokens: f64) -> StepBreakdown {
    StepBreakdown {
        tokens,
        seconds: c.seconds,
        weight_bytes: c.weight_bytes,
        kv_bytes: c.kv_bytes,
        flops: c.flops,
        allreduce_seconds: c.allreduce_seconds,
        overhead_seconds: c.overhead_seconds,
    }
}

/// A decode step of `running` sequences at a mean context of `context` tokens.
fn decode_step(p: &Prepared, running: f64, context: f64) -> Step {
    let d = running.max(1.0);
    Step {
        decodes: d,
        decode_context: d * context,
        decode_window_context: d * context.min(p.shape.window),
        sampled: d,
        ..Step::default()
    }
}

fn decode_breakdown(p: &Prepared, eff: &Efficiency, running: f64, context: f64) -> StepBreakdown {
    let step = decode_step(p, running, context);
    breakdown(&step_cost(&p.shape, &p.hardware, eff, &step), step.tokens())
}

/// One prompt of `input` tokens prefilled alone, in chunks of the step budget: the
/// summed time and counts of its steps.
fn prefill_breakdown(p: &Prepared, eff: &Efficiency, input: u64) -> StepBreakdown {
    let mut done = 0u64;
    let mut total = StepBreakdown {
        tokens: input as f64,
        seconds: 0.0,
        weight_bytes: 0.0,
        kv_bytes: 0.0,
        flops: 0.0,
        allreduce_seconds: 0.0,
        overhead_seconds: 0.0,
    };
    let chunk_max = p.limits.batched_tokens.max(1);
    while done < input.max(1) {
        let chunk = (input.max(1) - done).min(chunk_max) as f64;
        let prior = done as f64;
        let last = done + chunk as u64 >= input.max(1);
        let step = Step {
            prefill_tokens: chunk,
            prefill_requests: 1.0,
            prefill_attention: chunk * (prior + chunk / 2.0),
            prefill_window_attention: chunk * (prior + chunk / 2.0).min(p.shape.window),
            prefill_prior: prior,
            prefill_window_prior: prior.min(p.shape.window),
            sampled: if last { 1.0 } else { 0.0 },
            ..Step::default()
        };
        let c = step_cost(&p.shape, &p.hardware, eff, &step);
        total.seconds += c.seconds;
        total.weight_bytes += c.weight_bytes;
        total.kv_bytes += c.kv_bytes;
        total.flops += c.flops;
        total.allreduce_seconds += c.allreduce_seconds;
        total.overhead_seconds += c.overhead_seconds;
        done += chunk as u64;
    }
    total
}

/// What bounds the replica: queueing (for a slot or for the replica), else the largest
/// part of a steady decode step.
fn bound_of(
    p: &Prepared,
    eff: &Efficiency,
    traffic: &Traffic,
    outcome: &Outcome,
    warnings: &mut Vec<Warning>,
) -> Bound {
    let per_request = (traffic.input_tokens + traffic.output_tokens).max(1);
    let slots = slots(&p.limits, traffic.input_tokens, traffic.output_tokens);
    match traffic.demand {
        Demand::Concurrency(c) if c > slots => {
            warnings.push(Warning::new(
                WarningCode::PerformanceQueued,
                format!(
                    "{}, but a replica holds {slots} of {per_request} tokens at once: the rest wait for a slot",
                    calculator::counted(c, "concurrent request")
                ),
            ));
            return Bound::KvCapacity;
        }
        Demand::RequestsPerSecond(rate) if outcome.requests_per_s < rate * 0.97 => {
            warnings.push(Warning::new(
                WarningCode::PerformanceOverloaded,
                format!(
                    "{rate} requests/s arrive, but a replica completes {:.2}/s: the queue grows, and the longer the traffic lasts the later the first token",
                    outcome.requests_per_s
                ),
            ));
            return Bound::Overload;
        }
        _ => {}
    }
    let context = traffic.input_tokens as f64 + traffic.output_tokens as f64 / 2.0;
    let step = decode_step(p, outcome.mean_running, context);
    let c = step_cost(&p.shape, &p.hardware, eff, &step);
    let compute = c.linear_compute_seconds + c.attention_compute_seconds;
    let memory = c.linear_seconds + c.attention_seconds - compute;
    [
        (memory, Bound::MemoryBandwidth),
        (compute, Bound::Compute),
        (c.allreduce_seconds, Bound::Interconnect),
        (c.overhead_seconds, Bound::StepOverhead),
    ]
    .into_iter()
    .max_by(|a, b| a.0.total_cmp(&b.0))
    .map_or(Bound::MemoryBandwidth, |(_, b)| b)
}
