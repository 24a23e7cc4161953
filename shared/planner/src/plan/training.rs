//! Training candidates: data parallel over every GPU of the candidate, with the
//! request's framework.

use calculator::{
    estimate_training, max_batch_size, max_sequence_length, CalcError, TrainingRequest,
    Workload as FitWorkload,
};

use super::setting::{gb, too_large, Setting};
use super::types::{Estimate, Parallelism};
use super::Outcome;

impl Setting<'_> {
    /// Training: data parallel over every GPU with the request's framework; one
    /// instance is one node (hybrid sharding's group, the host memory's node).
    pub fn training(&self, base: &TrainingRequest) -> Result<Outcome, CalcError> {
        let mut r = base.clone();
        r.num_gpus = self.count * self.nodes;
        // One instance is one node: over several, a node is the instance.
        if self.nodes > 1 {
            r.gpus_per_node = Some(self.count);
        } else {
            r.gpus_per_node.get_or_insert(self.count);
        }
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
            Estimate::Training(e.clone()),
        );
        c.notes = notes;
        let w = FitWorkload::Training(&r);
        c.max_batch_size = max_batch_size(self.model, w, budget)?;
        c.max_sequence_length = max_sequence_length(self.model, w, budget)?;
        let mut missing = Vec::new();
        if e.training_memory > budget {
            missing.push(format!(
                "needs {} per GPU over {} GPUs with {} {}",
                gb((e.training_memory.0 as f64 / self.utilization()).ceil() as u128),
                self.count * self.nodes,
                Setting::sharding_said(&e, r.zero_stage),
                self.has()
            ));
        }
        missing.extend(self.host_shortfall(&e));
        c.fits = missing.is_empty();
        c.missing = (!c.fits).then(|| missing.join("; "));
        Ok(Outcome::Candidate(Box::new(c)))
    }
}
