//! One GPU model in one count: its memory budget, the candidate it makes, and what
//! its kernels run.

use calculator::{
    limits, Bytes, Choice, InferenceEstimate, Model, TrainingEstimate, Warning, WarningCode,
};

use super::memo::Memo;
use super::types::{Candidate, Estimate, Parallelism, PlanRequest};
use crate::catalog::{Catalog, Gpu, Instance, Interconnect, Platform};
use crate::kernels::{weight_support, Support};

/// One GPU model in one count.
pub(super) struct Setting<'a> {
    pub model: &'a Model,
    pub req: &'a PlanRequest,
    pub gpu: &'a Gpu,
    /// Memory one GPU offers, in bytes.
    pub usable: Bytes,
    /// GPUs of the candidate on one node.
    pub count: u64,
    /// Nodes (instances) the candidate spans; 1 unless training shards over several or
    /// a replica runs in pipeline stages across them.
    pub nodes: u64,
    /// How its GPUs are linked (its instance's), when known.
    pub link: Option<&'a Interconnect>,
    /// The catalog instance it runs on (one node); `None` for a GPU without one.
    pub instance: Option<&'a Instance>,
    /// The catalog (the serving model's stand-in figures come from it).
    pub catalog: &'a Catalog,
    /// The plan's predictions so far.
    pub memo: &'a Memo,
}

/// DeepSpeed's allowance on host memory: its own estimators
/// (`estimate_zero2_model_states_mem_needs`, `estimate_zero3_model_states_mem_needs`)
/// multiply every CPU figure by `additional_buffer_factor`, 1.5 by default
/// (microsoft/DeepSpeed@38327e07f6cd39b63418f60cedd1651b0be3e7c3
/// `deepspeed/runtime/zero/stage_1_and_2.py` line 2434, `stage3.py` line 3015), over
/// the same 16 to 18 bytes per parameter this project counts. DeepSpeed states it as an
/// estimation factor, not a tensor: the host also holds pinned staging buffers, the
/// allocator's rounding and the processes themselves. A plan asks the host for it so
/// that it does not promise less than DeepSpeed's own tool; the training answer's
/// `host_memory_per_node` stays the offloaded tensors alone.
const DEEPSPEED_HOST_FACTOR: f64 = 1.5;

/// Why a GPU is left out when the workload needs more than an answer can report.
pub(super) fn too_large(gpu: &Gpu) -> String {
    format!(
        "{}: the workload needs more than {} per GPU",
        gpu.name,
        limits::LARGEST_REPORTABLE
    )
}

impl Setting<'_> {
    /// The share of each GPU the workload may use.
    pub fn utilization(&self) -> f64 {
        self.req.constraints.gpu_memory_utilization
    }

    /// `gpu_memory_utilization × usable`, in bytes.
    pub fn budget(&self) -> Bytes {
        Bytes((self.usable.0 as f64 * self.utilization()).floor() as u64)
    }

    /// A candidate of this setting that does not fit yet.
    pub fn candidate(&self, parallelism: Parallelism, estimate: Estimate) -> Candidate {
        Candidate {
            instance: None,
            gpu: self.gpu.name.clone(),
            gpu_count: self.count * self.nodes,
            nodes: self.nodes,
            fits: false,
            parallelism,
            usable_memory: self.usable,
            bandwidth_gbps: self.gpu.bandwidth_gbps,
            budget: self.budget(),
            estimate,
            max_batch_size: None,
            max_sequence_length: None,
            concurrent_sequences: None,
            usd_per_hour: None,
            missing: None,
            lacks_memory: false,
            notes: Vec::new(),
            serving: None,
        }
    }

    /// The hardware's say on the weight format: notes, or why it cannot run.
    pub fn support(&self, estimate: &InferenceEstimate) -> Result<Vec<Warning>, String> {
        let support = weight_support(self.gpu, &estimate.weight_format);
        let note = support.note(self.gpu);
        if !support.runs() {
            return Err(note.unwrap_or_default());
        }
        let mut notes: Vec<Warning> = note
            .map(|n| Warning::new(WarningCode::KernelFallback, n))
            .into_iter()
            .collect();
        if support == Support::Native && self.gpu.platform == Platform::Neuron {
            notes.push(Warning::new(
                WarningCode::OtherServingStack,
                format!(
                    "{} runs AWS Neuron's own serving stack, not vLLM on CUDA: this memory model is an approximation there",
                    self.gpu.name
                ),
            ));
        }
        Ok(notes)
    }

    /// Training on a GPU without bfloat16 tensor cores: it trains in float16.
    pub fn training_notes(&self, e: &TrainingEstimate) -> Vec<Warning> {
        if self.gpu.computes_bf16() || e.precision != calculator::Precision::Bfloat16 {
            return Vec::new();
        }
        vec![Warning::new(
            WarningCode::NoBfloat16TensorCores,
            format!(
                "{} has no bfloat16 tensor cores: train in float16 with loss scaling (same memory)",
                self.gpu.name
            ),
        )]
    }

    /// What the instance's host lacks for the state a training estimate offloads:
    /// RAM for offloaded optimizer state, parameters and DeepSpeed's pinned buffers
    /// (times [`DEEPSPEED_HOST_FACTOR`] under DeepSpeed), and local NVMe for ZeRO-Infinity's
    /// swap. `None` when it holds them or the catalog does not say.
    pub fn host_shortfall(&self, e: &TrainingEstimate) -> Option<String> {
        let instance = self.instance?;
        let factor = if e.framework == calculator::Framework::Deepspeed {
            DEEPSPEED_HOST_FACTOR
        } else {
            1.0
        };
        let ram = (e.host_memory_per_node.0 as f64 * factor).ceil() as u128;
        let mut lacks = Vec::new();
        if let Some(has) = instance.host_memory.filter(|h| ram > h.0 as u128) {
            let allowance = if factor > 1.0 {
                " with DeepSpeed's 1.5 buffer allowance"
            } else {
                ""
            };
            lacks.push(format!(
                "offloaded state needs {} of host memory per node{allowance}; {} has {}",
                self.size(ram),
                instance.name,
                self.size(has.0 as u128)
            ));
        }
        let nvme = e.nvme_per_node.0 as u128;
        if let Some(has) = instance.local_nvme.filter(|n| nvme > n.0 as u128) {
            lacks.push(format!(
                "NVMe offload needs {} of local NVMe per node; {} has {}",
                self.size(nvme),
                instance.name,
                if has.0 == 0 {
                    "none (EBS storage only)".to_owned()
                } else {
                    self.size(has.0 as u128)
                }
            ));
        }
        (!lacks.is_empty()).then(|| lacks.join("; "))
    }

    /// `bytes` as the plan's sentences say them: in the answer's unit, one decimal.
    pub fn size(&self, bytes: u128) -> String {
        Bytes(bytes.min(u64::MAX as u128) as u64).format_to(self.req.unit, 1)
    }

    /// What the candidate lacks, as a sentence ending in what the GPU offers: its
    /// memory, and the share of it the workload may use.
    pub fn has(&self) -> String {
        format!(
            "(a GPU has {}, of which gpu_memory_utilization {} lets it use {})",
            self.size(self.usable.0 as u128),
            self.utilization(),
            self.size(self.budget().0 as u128)
        )
    }

    /// The framework and its sharding, as a plan says them.
    pub fn sharding_said(e: &TrainingEstimate, zero_stage: u8) -> String {
        use calculator::Framework;
        match (e.framework, e.fsdp_sharding) {
            (Framework::Deepspeed, _) => format!("DeepSpeed ZeRO stage {zero_stage}"),
            (Framework::Fsdp, Some(s)) => format!("FSDP {}", s.name()),
            _ => "DDP (framework transformers)".into(),
        }
    }
}
