//! Inference candidates: the smallest tensor-parallel degree that holds what is asked,
//! and what vLLM (or transformers) holds on it.

use calculator::{
    estimate_inference, limits, max_batch_size, max_sequence_length, max_sequence_length_vllm,
    serve_batch_defaults, CalcError, Engine, InferenceEstimate, InferenceRequest, VllmSettings,
    Warning, WarningCode, Workload as FitWorkload, KERNEL_REFUSAL,
};

use super::setting::{too_large, Setting};
use super::types::{Candidate, Estimate, Parallelism, PlanTraffic};
use super::{Outcome, TENSOR_PARALLEL_DEGREES};
use crate::performance::Demand;

impl Setting<'_> {
    /// Inference: the smallest tensor-parallel degree at which the requirement is met
    /// (a replica holds `batch_size` requests, or the candidate holds
    /// `concurrent_sequences`), which leaves the most replicas and the least
    /// all-reduce traffic; when none meets it, the largest valid degree, with what it
    /// lacks. With a traffic: of the degrees that hold it, the one whose instance
    /// serves the most output tokens a second within the latency targets.
    pub fn inference(&self, base: &InferenceRequest) -> Result<Outcome, CalcError> {
        let mut best: Option<(Candidate, InferenceRequest)> = None;
        let mut refused = Vec::new();
        let base_ep = matches!(&base.engine, Engine::Vllm(s) if s.expert_parallel);
        let moe_vllm = self.model.arch.moe.is_some() && matches!(base.engine, Engine::Vllm(_));
        // Data-parallel attention (MLA with experts, vLLM, no traffic to time): the
        // replicas become ranks of one engine that share whole experts, each keeping the
        // latent cache of its own requests only.
        // Tried only when no degree holds what is asked as such, so that a plan that
        // can be timed is kept where there is one.
        let dp_attention = moe_vllm && self.model.arch.mla.is_some() && self.req.traffic.is_none();
        'passes: for dp_pass in [false, true] {
            if dp_pass && (!dp_attention || best.as_ref().is_some_and(|(b, _)| b.fits)) {
                break;
            }
            for tp in TENSOR_PARALLEL_DEGREES
                .into_iter()
                .filter(|t| self.count.is_multiple_of(*t))
            {
                // Each degree as asked; where the weight kernels refuse to split an MoE
                // model's experts, again with expert parallelism, which keeps them whole;
                // on the second pass, as data-parallel ranks sharing whole experts.
                if dp_pass && self.count / tp < 2 {
                    continue;
                }
                let mut splits = vec![(base_ep || dp_pass, dp_pass)];
                while let Some((ep, dp_ranks)) = splits.pop() {
                    let mut r = base.clone();
                    r.num_gpus = tp;
                    let replicas = self.count / tp;
                    let mut notes = Vec::new();
                    let need = self.per_replica(&r, replicas);
                    if let Engine::Vllm(s) = &mut r.engine {
                        self.on_this_gpu(s);
                        s.expert_parallel = ep;
                        s.data_parallel_size = if dp_ranks { replicas } else { 1 };
                        notes.extend(self.raise_max_num_seqs(s, need));
                    }
                    let e = match estimate_inference(self.model, &r) {
                        Ok(e) => e,
                        // A degree the heads or the weights' blocks do not divide: the next
                        // one may. A kernel's refusal is said on the row chosen.
                        Err(CalcError::InvalidField { field, message }) if field == "num_gpus" => {
                            if message.starts_with(KERNEL_REFUSAL) {
                                let remedy = if !ep && moe_vllm {
                                    splits.push((true, false));
                                    "; tried with expert parallelism instead"
                                } else {
                                    ""
                                };
                                refused.push(Warning::new(
                                    WarningCode::TensorParallelRefused,
                                    format!("tensor parallel {tp} skipped: {message}{remedy}"),
                                ));
                            }
                            continue;
                        }
                        // Scheduler limits this GPU's defaults cannot take.
                        Err(CalcError::InvalidField { field, message })
                            if field.starts_with("max_num") =>
                        {
                            return Ok(Outcome::Excluded(format!(
                                "{}: {field}: {message}",
                                self.gpu.name
                            )))
                        }
                        Err(CalcError::TooLarge | CalcError::WeightsTooLarge) => {
                            return Ok(Outcome::Excluded(too_large(self.gpu)))
                        }
                        Err(e) => return Err(e),
                    };
                    match self.support(&e) {
                        Ok(n) => notes.splice(0..0, n).for_each(drop),
                        Err(reason) => return Ok(Outcome::Excluded(reason)),
                    };
                    let mut c = self.candidate(
                        Parallelism::Tensor {
                            tensor_parallel: tp,
                            replicas,
                            expert_parallel: ep,
                            pipeline_parallel: 1,
                            data_parallel_attention: dp_ranks,
                        },
                        Estimate::Inference(Box::new(e.clone())),
                    );
                    c.notes = notes;
                    self.judge_inference(&mut c, &r, &e, replicas)?;
                    let Some(traffic) = self.req.traffic else {
                        let fits = c.fits;
                        // A data-parallel variant that does not hold it either leaves the
                        // first pass's row.
                        if fits || !dp_ranks {
                            best = Some((c, r));
                        }
                        if fits {
                            break 'passes;
                        }
                        continue;
                    };
                    let traffic = PlanTraffic {
                        expert_parallel: ep,
                        ..traffic
                    };
                    let hopeless = best.as_ref().is_some_and(|(b, _)| {
                        b.fits && self.cannot_beat(b, &e, tp, replicas, &traffic)
                    });
                    if c.fits && hopeless {
                        continue;
                    }
                    if c.fits {
                        match self.serve(&r, &e, replicas, &traffic) {
                            Ok(s) => c.serving = Some(Ok(s)),
                            Err(why) => {
                                c.fits = false;
                                c.missing = Some(why.clone());
                                c.serving = Some(Err(why));
                            }
                        }
                    }
                    if best.as_ref().is_none_or(|(b, _)| better(&c, b)) {
                        best = Some((c, r));
                    }
                }
            }
        }
        let Some((mut c, r)) = best else {
            if let Some(last) = refused.pop() {
                return Ok(Outcome::Excluded(format!(
                    "{}: {}",
                    self.gpu.name, last.message
                )));
            }
            let degrees: Vec<String> = TENSOR_PARALLEL_DEGREES.iter().map(u64::to_string).collect();
            return Ok(Outcome::Excluded(format!(
                "{}: no tensor-parallel degree in [{}] that divides {} GPUs also divides the model's attention heads",
                self.gpu.name,
                degrees.join(", "),
                self.count
            )));
        };
        c.notes.extend(refused);
        if let Estimate::Inference(e) = &c.estimate {
            let e = e.as_ref().clone();
            self.own_load(&mut c, &r, &e);
        }
        // The longest context, a bisection, only for the degree chosen, holding what
        // each replica must hold.
        let replicas = self.count / r.num_gpus;
        let mut r = r;
        r.batch_size = self.per_replica(&r, replicas);
        c.max_sequence_length = match &r.engine {
            Engine::Vllm(_) => max_sequence_length_vllm(self.model, &r)?,
            Engine::Transformers => {
                max_sequence_length(self.model, FitWorkload::Inference(&r), self.budget())?
            }
        };
        Ok(Outcome::Candidate(Box::new(c)))
    }

    /// Inference over `self.nodes` instances: one replica, tensor parallel over each
    /// node's GPUs and one pipeline stage a node. The serving model does not cover
    /// pipelines, so with a traffic the row says so and does not fit.
    pub fn pipelined(&self, base: &InferenceRequest) -> Result<Outcome, CalcError> {
        let mut r = base.clone();
        r.num_gpus = self.count;
        let need = self.per_replica(&r, 1);
        let mut notes = Vec::new();
        let Engine::Vllm(s) = &mut r.engine else {
            return Ok(Outcome::Excluded(format!(
                "{}: serving across nodes is planned for vLLM only",
                self.gpu.name
            )));
        };
        self.on_this_gpu(s);
        if s.expert_parallel {
            return Ok(Outcome::Excluded(format!(
                "{} over {} nodes: pipeline stages with expert parallelism are not modelled",
                self.gpu.name, self.nodes
            )));
        }
        s.pipeline_parallel_size = self.nodes;
        notes.extend(self.raise_max_num_seqs(s, need));
        let e = match estimate_inference(self.model, &r) {
            Ok(e) => e,
            // The model's layers or the split refuse pipeline stages: no row.
            Err(CalcError::InvalidField { field, message }) => {
                return Ok(Outcome::Excluded(format!(
                    "{} over {} nodes: {field}: {message}",
                    self.gpu.name, self.nodes
                )))
            }
            Err(CalcError::TooLarge | CalcError::WeightsTooLarge) => {
                return Ok(Outcome::Excluded(too_large(self.gpu)))
            }
            Err(e) => return Err(e),
        };
        if let Err(reason) = self
            .support(&e)
            .map(|n| notes.splice(0..0, n).for_each(drop))
        {
            return Ok(Outcome::Excluded(reason));
        }
        let mut c = self.candidate(
            Parallelism::Tensor {
                tensor_parallel: self.count,
                replicas: 1,
                expert_parallel: false,
                pipeline_parallel: self.nodes,
                data_parallel_attention: false,
            },
            Estimate::Inference(Box::new(e.clone())),
        );
        c.notes = notes;
        self.judge_inference(&mut c, &r, &e, 1)?;
        if c.fits {
            // The longest context the stages hold with the requests the replica must
            // hold: bisected only for a row that holds them (the node search stops there).
            r.batch_size = need;
            c.max_sequence_length = max_sequence_length_vllm(self.model, &r)?;
        }
        if c.fits && self.req.traffic.is_some() {
            let why = format!(
                "serving over {} nodes in pipeline stages is not covered by the serving model (no published run of it); it holds the model and its requests",
                self.nodes
            );
            c.fits = false;
            c.missing = Some(why.clone());
            c.serving = Some(Err(why));
        }
        Ok(Outcome::Candidate(Box::new(c)))
    }

    /// This candidate's GPU in vLLM's settings: the total CUDA reports (vLLM budgets
    /// from it, a little below the driver's), its name and the plan's share.
    fn on_this_gpu(&self, s: &mut VllmSettings) {
        s.gpu_memory = self.gpu.cuda_total.unwrap_or(self.usable);
        s.gpu_name = Some(self.gpu.name.clone());
        s.gpu_memory_utilization = self.utilization();
    }

    /// Without a traffic: how the chosen split serves the plan's own load (its prompt and
    /// output lengths, each replica's share of the requests).
    fn own_load(&self, c: &mut Candidate, r: &InferenceRequest, e: &InferenceEstimate) {
        let Parallelism::Tensor {
            replicas,
            expert_parallel,
            data_parallel_attention,
            ..
        } = c.parallelism
        else {
            return;
        };
        if !c.fits || self.req.traffic.is_some() {
            return;
        }
        if data_parallel_attention {
            c.serving = Some(Err(
                "data-parallel attention is not timed by the serving model: its ranks share experts over all the engine's GPUs, which no published run checks".into(),
            ));
            return;
        }
        let t = PlanTraffic {
            input_tokens: r.sequence_length,
            output_tokens: r.max_new_tokens.max(1),
            demand: Some(Demand::Concurrency(
                self.per_replica(r, replicas) * replicas,
            )),
            ttft_target: None,
            tpot_target: None,
            expert_parallel,
        };
        c.serving = Some(self.serve(r, e, replicas, &t));
    }

    /// Requests of the requested length one replica must hold: `batch_size`, or its
    /// share of `concurrent_sequences`.
    fn per_replica(&self, r: &InferenceRequest, replicas: u64) -> u64 {
        match self.req.constraints.concurrent_sequences {
            Some(t) => t.div_ceil(replicas),
            None => r.batch_size,
        }
    }

    /// Raises a defaulted `max_num_seqs` (and, if needed, a defaulted
    /// `max_num_batched_tokens`) to what a replica must hold, as an operator would pass
    /// `--max-num-seqs`; says so. Given values are kept.
    fn raise_max_num_seqs(&self, s: &mut VllmSettings, need: u64) -> Option<Warning> {
        let (tokens, seqs, _) = serve_batch_defaults(self.usable, Some(&self.gpu.name));
        if s.max_num_seqs.is_some() || need <= seqs {
            return None;
        }
        let need = need.min(limits::MAX_NUM_SEQS.max);
        s.max_num_seqs = Some(need);
        if s.max_num_batched_tokens.is_none() && need > tokens {
            s.max_num_batched_tokens = Some(need);
        }
        Some(Warning::new(
            WarningCode::MaxNumSeqsRaised,
            format!(
                "max_num_seqs raised from vllm serve's default {seqs} to {need} (--max-num-seqs {need}) for the requests each replica holds"
            ),
        ))
    }

    fn judge_inference(
        &self,
        c: &mut Candidate,
        r: &InferenceRequest,
        e: &InferenceEstimate,
        replicas: u64,
    ) -> Result<(), CalcError> {
        let tp = r.num_gpus;
        let target = self.req.constraints.concurrent_sequences;
        let per_replica = self.per_replica(r, replicas);
        match &e.vllm {
            Some(v) => {
                c.max_batch_size = v.starts().then_some(v.max_sequences);
                c.concurrent_sequences = Some(if v.starts() {
                    v.max_sequences * replicas
                } else {
                    0
                });
                let need =
                    v.non_kv_memory.0 as u128 + per_replica as u128 * v.request_kv_bytes.0 as u128;
                let pool_holds = v.max_concurrency.floor() as u64;
                if v.starts() && v.max_num_seqs < per_replica && pool_holds >= per_replica {
                    c.missing = Some(format!(
                        "max_num_seqs ({}) limits each replica to {}; the KV cache holds {pool_holds}: raise max_num_seqs to {per_replica}",
                        v.max_num_seqs, calculator::counted(v.max_num_seqs, "concurrent request")
                    ));
                } else if !v.starts() || v.max_sequences < per_replica {
                    c.lacks_memory = true;
                    c.missing = Some(format!(
                        "needs {} per GPU at TP {tp} for {} of {} tokens per replica {}",
                        self.size((need as f64 / self.utilization()).ceil() as u128),
                        calculator::counted(per_replica, "concurrent request"),
                        v.max_model_len,
                        self.has()
                    ));
                } else if !v.headroom_suffices() {
                    c.missing = Some(format!(
                        "gpu_memory_utilization {} leaves {} per GPU, less than what lives outside the budget needs ({}: the CUDA context, and before vLLM 0.21 the CUDA graphs)",
                        self.utilization(),
                        self.size(v.headroom.0 as u128),
                        self.size(v.outside_budget.0 as u128)
                    ));
                } else {
                    c.fits = true;
                }
            }
            None => {
                let budget = self.budget();
                let w = FitWorkload::Inference(r);
                c.max_batch_size = max_batch_size(self.model, w, budget)?;
                c.concurrent_sequences = c.max_batch_size.map(|b| b * replicas);
                let fits_target =
                    c.concurrent_sequences.unwrap_or(0) >= target.unwrap_or(r.batch_size);
                if e.inference_memory <= budget && fits_target {
                    c.fits = true;
                } else {
                    c.lacks_memory = true;
                    c.missing = Some(format!(
                            "needs {} per GPU at TP {tp} {}",
                            self.size(
                                (e.inference_memory.0 as f64 / self.utilization()).ceil() as u128
                            ),
                            self.has()
                        ));
                }
            }
        }
        Ok(())
    }
}

/// Whether split `a` serves better than split `b` (two degrees on the same instance):
/// holding the traffic first, then fewer instances for the demand, then more output
/// tokens a second an instance within the targets; when neither holds it, the later
/// (larger) degree, unless only the earlier one holds the model at all.
fn better(a: &Candidate, b: &Candidate) -> bool {
    let served = |c: &Candidate| {
        c.serving
            .as_ref()
            .and_then(|s| s.as_ref().ok())
            .map_or((u64::MAX, 0.0), |s| {
                (s.instances, s.capacity_output_tokens_per_s)
            })
    };
    match (a.fits, b.fits) {
        (true, false) => true,
        (false, true) => false,
        (true, true) => {
            let ((ia, ca), (ib, cb)) = (served(a), served(b));
            ia < ib || (ia == ib && ca > cb)
        }
        (false, false) => !(b.serving.is_some() && a.serving.is_none()),
    }
}
