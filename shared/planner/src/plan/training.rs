//! Training candidates: data parallel over every GPU of the candidate, with the
//! request's framework.

use calculator::{
    estimate_training, max_batch_size, max_sequence_length, CalcError, Framework, Offload,
    TrainingRequest, Warning, WarningCode, Workload as FitWorkload,
};

use super::setting::{too_large, Setting};
use super::types::{Estimate, Parallelism};
use super::Outcome;

/// One DeepSpeed setting a search tries: ZeRO stage, activation checkpointing, and
/// what goes to the host (the optimizer step, then the parameters too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Searched {
    /// ZeRO stage.
    pub zero_stage: u8,
    /// Activation checkpointing.
    pub gradient_checkpointing: bool,
    /// The optimizer's state and step on the CPU.
    pub offload_optimizer: bool,
    /// The parameters on the CPU too.
    pub offload_parameters: bool,
}

const fn searched(zero_stage: u8, ckpt: bool, opt: bool, par: bool) -> Searched {
    Searched {
        zero_stage,
        gradient_checkpointing: ckpt,
        offload_optimizer: opt,
        offload_parameters: par,
    }
}

/// The settings a search tries, in the order of what they cost in step time: sharding
/// first (ZeRO 1 and 2 cost little over data parallelism; ZeRO-3 gathers every layer
/// twice a step), then recomputing activations (about a third more compute), then the
/// host's slower memory and PCIe (optimizer step, then parameters). The first that
/// fits is the cheapest to run.
pub const SEARCH_ORDER: [Searched; 8] = [
    searched(0, false, false, false),
    searched(1, false, false, false),
    searched(2, false, false, false),
    searched(3, false, false, false),
    searched(2, true, false, false),
    searched(3, true, false, false),
    searched(3, true, true, false),
    searched(3, true, true, true),
];

impl Searched {
    /// The request with this setting, under DeepSpeed.
    fn apply(self, base: &TrainingRequest) -> TrainingRequest {
        let cpu = |on| if on { Offload::Cpu } else { Offload::None };
        let mut r = base.clone();
        r.framework = Some(Framework::Deepspeed);
        r.zero_stage = self.zero_stage;
        r.gradient_checkpointing = self.gradient_checkpointing;
        r.offload_optimizer = cpu(self.offload_optimizer);
        r.offload_parameters = cpu(self.offload_parameters);
        r
    }

    /// In words, for the row's note.
    fn said(self) -> String {
        let mut out = format!("DeepSpeed ZeRO stage {}", self.zero_stage);
        out += if self.gradient_checkpointing {
            " with activation checkpointing"
        } else {
            " without activation checkpointing"
        };
        match (self.offload_optimizer, self.offload_parameters) {
            (true, true) => out += ", optimizer and parameters on the CPU",
            (true, false) => out += ", optimizer on the CPU",
            _ => {}
        }
        out
    }
}

impl Setting<'_> {
    /// Training: as asked, or with `search` the first setting of [`SEARCH_ORDER`] that
    /// fits (else the last, the one that needs the least GPU memory), said in a note.
    pub fn training(&self, base: &TrainingRequest) -> Result<Outcome, CalcError> {
        if !self.req.constraints.search {
            return self.with_limits(self.training_as(base)?, base);
        }
        let mut last = None;
        for (tried, setting) in SEARCH_ORDER.iter().enumerate() {
            let applied = setting.apply(base);
            // A setting the request's optimizer or method cannot take is skipped.
            let outcome = match self.training_as(&applied) {
                Ok(o) => o,
                Err(CalcError::InvalidField { .. }) => continue,
                Err(e) => return Err(e),
            };
            let Outcome::Candidate(mut c) = outcome else {
                return Ok(outcome);
            };
            let fits = c.fits;
            c.notes.push(Warning::new(
                WarningCode::TrainingSettingSearched,
                if fits {
                    format!(
                        "search: {} is the first setting that fits, of {} tried in order of step time",
                        setting.said(),
                        tried + 1
                    )
                } else {
                    format!(
                        "search: no setting fits; the last tried, {}, needs the least memory",
                        setting.said()
                    )
                },
            ));
            last = Some((c, applied));
            if fits {
                break;
            }
        }
        match last {
            Some((c, applied)) => self.with_limits(Outcome::Candidate(c), &applied),
            None => Ok(Outcome::Excluded(format!(
                "{}: no DeepSpeed setting the search tries takes this workload",
                self.gpu.name
            ))),
        }
    }

    /// The request on this candidate's GPUs: all of them over its nodes, one instance a
    /// node (hybrid sharding's group, the host memory's).
    fn on_these_gpus(&self, base: &TrainingRequest) -> TrainingRequest {
        let mut r = base.clone();
        r.num_gpus = self.count * self.nodes;
        r.gpus_per_node = Some(self.count);
        r
    }

    /// The largest micro-batch and sequence that fit, for the row chosen only: they
    /// bisect over the calculator, which a search would otherwise do for every setting.
    fn with_limits(&self, outcome: Outcome, base: &TrainingRequest) -> Result<Outcome, CalcError> {
        let Outcome::Candidate(mut c) = outcome else {
            return Ok(outcome);
        };
        let r = self.on_these_gpus(base);
        let w = FitWorkload::Training(&r);
        c.max_batch_size = max_batch_size(self.model, w, self.budget())?;
        c.max_sequence_length = max_sequence_length(self.model, w, self.budget())?;
        Ok(Outcome::Candidate(c))
    }

    /// Training: data parallel over every GPU with the request's framework; one
    /// instance is one node (hybrid sharding's group, the host memory's node).
    fn training_as(&self, base: &TrainingRequest) -> Result<Outcome, CalcError> {
        let r = self.on_these_gpus(base);
        let e = match estimate_training(self.model, &r) {
            Ok(e) => e,
            Err(CalcError::TooLarge | CalcError::WeightsTooLarge) => {
                return Ok(Outcome::Excluded(too_large(self.gpu)))
            }
            Err(e) => return Err(e),
        };
        let notes = self.training_notes(&e);
        let budget = self.budget();
        let mut c = self.candidate(
            Parallelism::Data {
                gpus: self.count * self.nodes,
                framework: e.framework,
                zero_stage: r.zero_stage,
            },
            Estimate::Training(Box::new(e.clone())),
        );
        c.notes = notes;
        let mut missing = Vec::new();
        if e.training_memory > budget {
            missing.push(format!(
                "needs {} per GPU over {} with {} {}",
                self.size((e.training_memory.0 as f64 / self.utilization()).ceil() as u128),
                calculator::counted(self.count * self.nodes, "GPU"),
                Setting::sharding_said(&e, r.zero_stage),
                self.has()
            ));
        }
        missing.extend(self.host_shortfall(&e));
        c.fits = missing.is_empty();
        // Every training shortfall is memory: the GPUs' or the host's.
        c.lacks_memory = !c.fits;
        c.missing = (!c.fits).then(|| missing.join("; "));
        Ok(Outcome::Candidate(Box::new(c)))
    }
}
