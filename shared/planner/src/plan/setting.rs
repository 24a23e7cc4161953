//! One GPU model in one count: its memory budget, the candidate it makes, and what
//! its kernels run.

use calculator::{
    limits, Bytes, Choice, InferenceEstimate, Model, TrainingEstimate, Unit, Warning, WarningCode,
};

use super::memo::Memo;
use super::types::{Candidate, Estimate, Parallelism, PlanRequest};
use crate::catalog::{Catalog, Gpu, Interconnect, Platform};
use crate::kernels::{weight_support, Support};

/// One GPU model in one count.
pub(super) struct Setting<'a> {
    pub model: &'a Model,
    pub req: &'a PlanRequest,
    pub gpu: &'a Gpu,
    /// Memory one GPU offers, in bytes.
    pub usable: Bytes,
    /// GPUs of the candidate.
    pub count: u64,
    /// How its GPUs are linked (its instance's), when known.
    pub link: Option<&'a Interconnect>,
    /// The catalog (the serving model's stand-in figures come from it).
    pub catalog: &'a Catalog,
    /// The plan's predictions so far.
    pub memo: &'a Memo,
}

/// Why a GPU is left out when the workload needs more than an answer can report.
pub(super) fn too_large(gpu: &Gpu) -> String {
    format!(
        "{}: the workload needs more than {} per GPU",
        gpu.name,
        limits::LARGEST_REPORTABLE
    )
}

/// `bytes` as a plan's sentences say them: decimal GB, one decimal.
pub(super) fn gb(bytes: u128) -> String {
    Bytes(bytes.min(u64::MAX as u128) as u64).format_to(Unit::Gb, 1)
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
            gpu_count: self.count,
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

    /// What the candidate lacks, as a sentence ending in what the GPU has.
    pub fn has(&self) -> String {
        format!(
            "(has {} at gpu_memory_utilization {})",
            gb(self.usable.0 as u128),
            self.utilization()
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
