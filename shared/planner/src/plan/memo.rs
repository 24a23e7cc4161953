//! Predictions already made in one plan: instances that carry the same GPU
//! (g6e.xlarge to g6e.48xlarge, p5.4xlarge and p5.48xlarge) run the same replica at the
//! same degree, so each replica and load is simulated once per plan.

use std::cell::RefCell;
use std::collections::HashMap;

use calculator::InferenceEstimate;

use crate::catalog::{Gpu, Interconnect};
use crate::performance::{Demand, Performance};

/// What identifies one replica's prediction within a plan: the GPU (name and
/// bandwidth), the degree, the link (for degrees above 1), the scheduler's limits and
/// the load. The traffic's lengths and expert parallelism are the plan's own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct MemoKey {
    gpu: String,
    bandwidth: u64,
    tp: u64,
    link: Vec<u64>,
    limits: [u64; 3],
    demand: (bool, u64),
    expert_parallel: bool,
}

impl MemoKey {
    /// The key of `gpu` over `link` at tensor parallel `tp`, started as `estimate`
    /// says, under `demand`, with or without expert parallelism.
    pub(super) fn new(
        gpu: &Gpu,
        link: Option<&Interconnect>,
        tp: u64,
        estimate: &InferenceEstimate,
        demand: Demand,
        expert_parallel: bool,
    ) -> MemoKey {
        MemoKey {
            gpu: gpu.name.clone(),
            bandwidth: gpu.bandwidth_gbps.map_or(0, f64::to_bits),
            tp,
            link: link_bits(link, tp),
            limits: estimate.vllm.as_ref().map_or([0; 3], |v| {
                [v.max_num_batched_tokens, v.max_num_seqs, v.num_blocks]
            }),
            demand: match demand {
                Demand::Concurrency(c) => (false, c),
                Demand::RequestsPerSecond(r) => (true, r.to_bits()),
            },
            expert_parallel,
        }
    }
}

/// The link's figures as bits (none for a single GPU, which sends nothing over it).
fn link_bits(link: Option<&Interconnect>, tp: u64) -> Vec<u64> {
    match link.filter(|_| tp > 1) {
        None => Vec::new(),
        Some(l) => {
            let mut bits = vec![l.kind as u64, l.gbps_per_direction.map_or(0, f64::to_bits)];
            for (degree, us) in &l.allreduce_us {
                bits.extend([*degree, us.to_bits()]);
            }
            bits
        }
    }
}

/// The predictions of one plan.
#[derive(Default)]
pub(super) struct Memo(RefCell<HashMap<MemoKey, Result<Performance, String>>>);

impl Memo {
    /// The prediction for `key`, made by `predict` the first time it is asked for.
    pub(super) fn get_or(
        &self,
        key: MemoKey,
        predict: impl FnOnce() -> Result<Performance, String>,
    ) -> Result<Performance, String> {
        if let Some(known) = self.0.borrow().get(&key) {
            return known.clone();
        }
        let got = predict();
        self.0.borrow_mut().insert(key, got.clone());
        got
    }
}
