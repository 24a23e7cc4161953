//! vLLM's continuous batching, step by step: each step schedules the running requests
//! first (one token each for those decoding, a prompt chunk for those prefilling) and
//! then admits waiting requests, within `max_num_batched_tokens` tokens, `max_num_seqs`
//! sequences and the KV pool's blocks (vLLM V1 `Scheduler.schedule`); its time is
//! [`step_cost`]. Stretches where every running request decodes and nothing can be
//! admitted are advanced in one go, their step times summed in closed form
//! (methodology §12.2).
//!
//! - `engine`: the scheduler, with the decoding requests kept as one group;
//! - `group`: that group as sums over its members, so a step costs O(log n) in the n
//!   requests running rather than O(n);
//! - `reference` (tests only): the same scheduler visiting every request every step,
//!   which the engine must match exactly.

mod engine;
mod group;
#[cfg(test)]
mod reference;

use calculator::{BlockTable, VllmCapacity};

use super::cost::{step_cost, Step};
use super::efficiency::Efficiency;
use super::hardware::{Hardware, Shape};

/// The most scheduler iterations (steps, or stretches of decode steps) one simulation
/// runs: a bound on the work one request can cause, about 20 ms on the development
/// machine. Only a replica that keeps preempting (far more clients than its pool holds
/// of requests this long, each admitted and pushed out again) needs more; its figures
/// then come from the requests finished within the bound, or none are stated.
pub const MAX_ITERATIONS: u64 = 150_000;

/// The engine's limits for one replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Tokens one step may compute (`max_num_batched_tokens`).
    pub batched_tokens: u64,
    /// Sequences one step may hold (`max_num_seqs`).
    pub sequences: u64,
    /// KV-cache block ids of the pool, over every layer group.
    pub blocks: u64,
    /// Block ids a request holds at each length.
    pub table: BlockTable,
}

impl Limits {
    /// The limits vLLM starts with.
    pub fn of(capacity: &VllmCapacity) -> Limits {
        Limits {
            batched_tokens: capacity.max_num_batched_tokens,
            sequences: capacity.max_num_seqs,
            blocks: capacity.num_blocks,
            table: capacity.block_table,
        }
    }
}

/// How requests arrive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrivals {
    /// `clients` clients, each sending its next request as soon as its last one ends
    /// (a benchmark's `--max-concurrency`); all start at once.
    ClosedLoop {
        /// Concurrent clients.
        clients: u64,
    },
    /// Requests at exponentially spaced times, `rate` a second on average.
    Poisson {
        /// Requests per second.
        rate: f64,
    },
}

/// The requests a simulation runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trace {
    /// How they arrive.
    pub arrivals: Arrivals,
    /// Requests in all.
    pub requests: u64,
    /// Requests completed before the statistics start (warm-up). 0 measures the whole
    /// run as a benchmark does (every request; tokens over the time from the first
    /// request to the last answer); above 0 measures the steady state: from the
    /// warm-up's last completion to the last request's arrival, while the replica is
    /// still fully loaded, counting only the tokens made in that window.
    pub warmup: u64,
    /// Longest prompt, tokens; prompts are uniform in `[spread × it, it]`.
    pub max_input: u64,
    /// Longest output, tokens, drawn the same way.
    pub max_output: u64,
    /// Shortest length as a share of the longest (1 for fixed lengths).
    pub spread: f64,
    /// Seed of the length and arrival draws.
    pub seed: u64,
}

/// What the requests saw, seconds and tokens/s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Mean and median time to first token (engine side), seconds.
    pub mean_ttft: f64,
    /// Median time to first token, seconds.
    pub median_ttft: f64,
    /// Mean time per output token after the first, seconds.
    pub mean_tpot: f64,
    /// Median time per output token, seconds.
    pub median_tpot: f64,
    /// Mean end-to-end latency, seconds.
    pub mean_e2e: f64,
    /// Output tokens per second of the replica.
    pub output_tokens_per_s: f64,
    /// Prompt and output tokens per second of the replica.
    pub total_tokens_per_s: f64,
    /// Requests completed per second.
    pub requests_per_s: f64,
    /// Mean sequences per step (time-weighted).
    pub mean_running: f64,
    /// Requests preempted for lack of KV blocks.
    pub preemptions: u64,
    /// Steps simulated.
    pub steps: u64,
    /// Requests finished in the simulation.
    pub finished: u64,
    /// Whether it stopped at [`MAX_ITERATIONS`] before its last request.
    pub truncated: bool,
}

/// Simulates `trace` on one replica.
pub fn simulate(
    shape: &Shape,
    hw: &Hardware,
    eff: &Efficiency,
    limits: Limits,
    trace: &Trace,
) -> Outcome {
    engine::run(shape, hw, eff, limits, trace).outcome(trace)
}

/// A stretch of decode steps of the same sequences, none crossing the attention
/// window: each step's contexts are one token longer than the last's, the weights and
/// the batch the same, so a step's time is affine in its index and `n` steps sum in
/// closed form.
struct Stretch {
    /// The first step's time, seconds.
    first: f64,
    /// How much each step takes longer than the one before, seconds.
    slope: f64,
}

impl Stretch {
    /// `d` sequences whose contexts sum to `context` tokens, `windowed` capped at the
    /// window, `growing` of them still below it.
    fn new(
        shape: &Shape,
        hw: &Hardware,
        eff: &Efficiency,
        d: f64,
        (context, windowed, growing): (f64, f64, f64),
    ) -> Stretch {
        let step = |context: f64, windowed: f64| Step {
            decodes: d,
            decode_context: context,
            decode_window_context: windowed,
            sampled: d,
            ..Step::default()
        };
        let first = step_cost(shape, hw, eff, &step(context, windowed)).seconds;
        let next = step_cost(shape, hw, eff, &step(context + d, windowed + growing)).seconds;
        Stretch {
            first,
            slope: next - first,
        }
    }

    /// The time of its first `n` steps, seconds.
    fn seconds(&self, n: u64) -> f64 {
        let steps = n as f64;
        steps * self.first + self.slope * steps * (steps - 1.0) / 2.0
    }
}

/// A deterministic splitmix64 stream: the same trace for the same seed.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// Uniform in `(0, 1]`.
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// One request of a trace as drawn: prompt and output tokens, and when it arrives
/// (infinite until a closed-loop client sends it).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Drawn {
    input: u64,
    output: u64,
    arrival: f64,
}

/// The requests of `trace`, in the order they are sent.
fn draw(trace: &Trace) -> Vec<Drawn> {
    let mut stream = Stream(trace.seed);
    let low = |l: u64| ((l as f64 * trace.spread).ceil() as u64).clamp(1, l.max(1));
    let mut clock = 0.0;
    (0..trace.requests)
        .map(|_| {
            let input = stream.between(low(trace.max_input), trace.max_input.max(1));
            let output = stream.between(low(trace.max_output), trace.max_output.max(1));
            let arrival = match trace.arrivals {
                Arrivals::ClosedLoop { .. } => f64::INFINITY,
                Arrivals::Poisson { rate } => {
                    clock += -stream.unit().ln() / rate;
                    clock
                }
            };
            Drawn {
                input,
                output,
                arrival,
            }
        })
        .collect()
}

/// The clock and the counters at one moment: seconds, output tokens made, and the
/// integral of running sequences over time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Mark {
    time: f64,
    emitted: u64,
    busy: f64,
}

/// What one request saw: when it arrived, got its first token and finished, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Seen {
    input: u64,
    output: u64,
    arrival: f64,
    first_token: f64,
    finished: f64,
}

/// A finished simulation: every finished request, the counters at each completion and
/// at the last arrival, at the end, and the engine's own counts.
#[derive(Clone, Debug, PartialEq)]
struct Record {
    seen: Vec<Seen>,
    marks: Vec<Mark>,
    last_arrival: Option<Mark>,
    end: Mark,
    preemptions: u64,
    steps: u64,
    /// Whether the simulation stopped at [`MAX_ITERATIONS`] before its last request.
    truncated: bool,
}

impl Record {
    /// The statistics over the trace's window (see [`Trace::warmup`]).
    fn outcome(&self, trace: &Trace) -> Outcome {
        let warm = (trace.warmup as usize).min(self.marks.len().saturating_sub(1));
        let (counted, from, to): (Vec<&Seen>, Mark, Mark) = if warm == 0 {
            // The whole run: every request, from the first request to the last answer.
            let start = Mark {
                time: 0.0,
                emitted: 0,
                busy: 0.0,
            };
            (self.seen.iter().collect(), start, self.end)
        } else {
            // The steady state: from the warm-up's last completion to the last arrival
            // (the replica is still fully loaded then), and the requests that arrived
            // in it (those finished after it began, if none did).
            let from = self.marks[warm - 1];
            let to = self
                .last_arrival
                .filter(|m| m.time > from.time)
                .unwrap_or(self.end);
            let inside: Vec<&Seen> = self
                .seen
                .iter()
                .filter(|r| r.arrival >= from.time && r.arrival <= to.time)
                .collect();
            let counted = if inside.is_empty() {
                self.seen
                    .iter()
                    .filter(|r| r.finished > from.time)
                    .collect()
            } else {
                inside
            };
            (counted, from, to)
        };
        let ttft: Vec<f64> = counted.iter().map(|r| r.first_token - r.arrival).collect();
        let tpot: Vec<f64> = counted
            .iter()
            .filter(|r| r.output > 1)
            .map(|r| (r.finished - r.first_token) / (r.output - 1) as f64)
            .collect();
        let e2e: Vec<f64> = counted.iter().map(|r| r.finished - r.arrival).collect();
        let span = (to.time - from.time).max(1e-9);
        let completed = if warm == 0 {
            self.marks.len()
        } else {
            self.marks
                .iter()
                .filter(|m| m.time > from.time && m.time <= to.time)
                .count()
        };
        let requests_per_s = completed as f64 / span;
        let mean_input = if counted.is_empty() {
            0.0
        } else {
            counted.iter().map(|r| r.input as f64).sum::<f64>() / counted.len() as f64
        };
        let output_tokens_per_s = to.emitted.saturating_sub(from.emitted) as f64 / span;
        Outcome {
            mean_ttft: mean(&ttft),
            median_ttft: median(ttft),
            mean_tpot: mean(&tpot),
            median_tpot: median(tpot),
            mean_e2e: mean(&e2e),
            output_tokens_per_s,
            total_tokens_per_s: output_tokens_per_s + requests_per_s * mean_input,
            requests_per_s,
            mean_running: (to.busy - from.busy) / span,
            preemptions: self.preemptions,
            steps: self.steps,
            finished: self.seen.len() as u64,
            truncated: self.truncated,
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
