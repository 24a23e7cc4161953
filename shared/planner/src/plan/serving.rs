//! How a candidate serves a traffic: the per-replica load the latency targets allow
//! (the most concurrent requests within them, found by doubling), the instances a
//! demand then needs, and what a token costs (methodology §12.5).

use calculator::{InferenceEstimate, InferenceRequest};

use super::memo::MemoKey;
use super::setting::Setting;
use super::types::{Candidate, CandidateServing, PlanTraffic};
use crate::performance::{
    output_bound, predict, shortest, slots, Demand, Limits, Performance, Serving, Traffic,
};
use crate::prices::HOURS_PER_MONTH;

/// Seconds in an hour.
const SECONDS_PER_HOUR: f64 = 3600.0;

/// The load a replica takes within a traffic's latency targets.
pub enum Load {
    /// The most concurrent requests within them, and the performance there (`None`
    /// when not simulated: without targets a replica takes what it runs at once).
    Within(u64, Option<Box<Performance>>),
    /// Even one request misses them: its performance.
    Misses(Box<Performance>),
}

/// USD per million tokens served at `tokens_per_s` for `usd_per_hour`.
pub fn usd_per_million(usd_per_hour: f64, tokens_per_s: f64) -> Option<f64> {
    (tokens_per_s > 0.0).then(|| usd_per_hour / (tokens_per_s * SECONDS_PER_HOUR) * 1e6)
}

/// How far a performance is from the targets: the larger ratio of achieved to target
/// (1 or less meets them).
fn excess(p: &Performance, t: &PlanTraffic) -> f64 {
    let ratio = |got: f64, target: Option<f64>| target.map_or(0.0, |t| got / t);
    ratio(p.ttft_seconds, t.ttft_target).max(ratio(p.tpot_seconds, t.tpot_target))
}

/// What a replica misses its targets by, as a sentence.
pub fn shortfall(p: &Performance, t: &PlanTraffic) -> String {
    let mut parts = Vec::new();
    let mut say = |name: &str, got: f64, target: Option<f64>| {
        if let Some(target) = target.filter(|target| got > *target) {
            parts.push(format!(
                "{name} {:.1} ms (target {:.1} ms, +{:.0}%)",
                got * 1e3,
                target * 1e3,
                (got / target - 1.0) * 100.0
            ));
        }
    };
    say("TTFT", p.ttft_seconds, t.ttft_target);
    say("TPOT", p.tpot_seconds, t.tpot_target);
    format!(
        "misses the latency targets even at one request a replica: {}",
        parts.join(", ")
    )
}

impl Setting<'_> {
    /// One replica of the candidate at tensor parallel `tp`.
    fn serving<'e>(&self, estimate: &'e InferenceEstimate, tp: u64, t: &PlanTraffic) -> Serving<'e>
    where
        Self: 'e,
    {
        Serving {
            model: self.model,
            estimate,
            gpu: self.gpu,
            link: self.link,
            tensor_parallel: tp,
            expert_parallel: t.expert_parallel,
        }
    }

    /// One replica's performance under `demand`, simulated once per plan.
    fn perform(
        &self,
        estimate: &InferenceEstimate,
        tp: u64,
        t: &PlanTraffic,
        demand: Demand,
    ) -> Result<Performance, String> {
        let key = MemoKey::new(self.gpu, self.link, tp, estimate, demand, t.expert_parallel);
        self.memo.get_or(key, || {
            let traffic = Traffic {
                input_tokens: t.input_tokens,
                output_tokens: t.output_tokens,
                demand,
            };
            predict(&self.serving(estimate, tp, t), &traffic, self.catalog)
                .map_err(|e| e.to_string())
        })
    }

    /// The most concurrent requests a replica takes within the targets: doubled from
    /// one until a load misses them, then bisected between the last two (latency grows
    /// with the load); without targets, as many as it runs at once, unsimulated.
    pub fn best_load(
        &self,
        estimate: &InferenceEstimate,
        tp: u64,
        t: &PlanTraffic,
    ) -> Result<Load, String> {
        let room = estimate.vllm.as_ref().map_or(1, |v| {
            slots(&Limits::of(v), t.input_tokens, t.output_tokens)
        });
        if t.ttft_target.is_none() && t.tpot_target.is_none() {
            return Ok(Load::Within(room, None));
        }
        let meets = |c: u64| -> Result<(bool, Performance), String> {
            let p = self.perform(estimate, tp, t, Demand::Concurrency(c))?;
            Ok((excess(&p, t) <= 1.0, p))
        };
        // Doubling: `good` meets the targets, `bad` (if any) does not.
        let (one_meets, one) = meets(1)?;
        if !one_meets {
            return Ok(Load::Misses(Box::new(one)));
        }
        let (mut good, mut at_good, mut bad) = (1, one, None);
        while good < room {
            let c = (good * 2).min(room);
            match meets(c)? {
                (true, p) => (good, at_good) = (c, p),
                (false, _) => {
                    bad = Some(c);
                    break;
                }
            }
        }
        // Bisection between them.
        if let Some(mut bad) = bad {
            while bad - good > 1 {
                let mid = good + (bad - good) / 2;
                match meets(mid)? {
                    (true, p) => (good, at_good) = (mid, p),
                    (false, _) => bad = mid,
                }
            }
        }
        Ok(Load::Within(good, Some(Box::new(at_good))))
    }

    /// Whether the split at tensor parallel `tp` (`replicas` replicas) cannot serve `t`
    /// better than `best`, a serving split of the same instance: even the bound on its
    /// output tokens a second ([`output_bound`]) needs at least as many instances for
    /// the demand and makes no more. Spares the simulations of splits that cannot win.
    pub fn cannot_beat(
        &self,
        best: &Candidate,
        estimate: &InferenceEstimate,
        tp: u64,
        replicas: u64,
        t: &PlanTraffic,
    ) -> bool {
        let Some(Ok(served)) = &best.serving else {
            return false;
        };
        let serving = self.serving(estimate, tp, t);
        let Ok(bound) = output_bound(&serving, t.input_tokens, self.catalog) else {
            return false;
        };
        let replicas = replicas.max(1);
        let instance_bound = bound * replicas as f64;
        let fewest = match t.demand {
            None => 1,
            Some(Demand::Concurrency(d)) => {
                let room = estimate.vllm.as_ref().map_or(1, |v| {
                    slots(&Limits::of(v), t.input_tokens, t.output_tokens)
                });
                d.div_ceil(room * replicas).max(1)
            }
            Some(Demand::RequestsPerSecond(rate)) => {
                // A request makes at least the shortest output the traffic draws.
                let shortest = shortest(t.output_tokens) as f64;
                ((rate * shortest / instance_bound).ceil() as u64).max(1)
            }
        };
        fewest > served.instances
            || (fewest == served.instances && instance_bound <= served.capacity_output_tokens_per_s)
    }

    /// How the candidate serves `t` at tensor parallel `tp` with `replicas` replicas
    /// (prices are set later, by [`CandidateServing::priced`]).
    pub fn serve(
        &self,
        r: &InferenceRequest,
        estimate: &InferenceEstimate,
        replicas: u64,
        t: &PlanTraffic,
    ) -> Result<CandidateServing, String> {
        let tp = r.num_gpus;
        let (best, at_best) = match self.best_load(estimate, tp, t)? {
            Load::Within(c, p) => (c, p.map(|p| *p)),
            Load::Misses(one) => return Err(shortfall(&one, t)),
        };
        let replicas = replicas.max(1);
        let capacity = || match &at_best {
            Some(p) => Ok(p.clone()),
            None => self.perform(estimate, tp, t, Demand::Concurrency(best)),
        };
        let (instances, load, p, capacity) = match t.demand {
            None => {
                let p = capacity()?;
                (1, Demand::Concurrency(best), p.clone(), Some(p))
            }
            Some(Demand::Concurrency(d)) => {
                let instances = d.div_ceil(best * replicas).max(1);
                let each = d.div_ceil(instances * replicas).max(1);
                let load = Demand::Concurrency(each);
                let p = self.perform(estimate, tp, t, load)?;
                (instances, load, p, at_best.clone())
            }
            Some(Demand::RequestsPerSecond(rate)) => {
                let top = capacity()?;
                let per_instance = top.requests_per_s * replicas as f64;
                let instances = if per_instance > 0.0 {
                    ((rate / per_instance).ceil() as u64).max(1)
                } else {
                    1
                };
                let load = Demand::RequestsPerSecond(rate / (instances * replicas) as f64);
                (
                    instances,
                    load,
                    self.perform(estimate, tp, t, load)?,
                    Some(top),
                )
            }
        };
        let copies = (instances * replicas) as f64;
        // Without a simulation at the most a replica takes, the load's own throughput
        // stands for it (a concurrency without targets: the load is what is served).
        let capacity = capacity.as_ref().unwrap_or(&p);
        Ok(CandidateServing {
            load,
            meets_targets: excess(&p, t) <= 1.0,
            instances,
            replicas,
            best_load: best,
            capacity_output_tokens_per_s: capacity.output_tokens_per_s * replicas as f64,
            output_tokens_per_s: p.output_tokens_per_s * copies,
            total_tokens_per_s: p.total_tokens_per_s * copies,
            requests_per_s: p.requests_per_s * copies,
            demand_given: t.demand.is_some(),
            usd_per_month_for_demand: None,
            usd_per_million_output_tokens: None,
            usd_per_million_tokens: None,
            performance: p,
        })
    }
}

impl CandidateServing {
    /// Sets the costs for an instance of `usd_per_hour`.
    pub fn priced(mut self, usd_per_hour: Option<f64>) -> CandidateServing {
        let spend = usd_per_hour.map(|u| u * self.instances as f64);
        self.usd_per_month_for_demand = spend
            .filter(|_| self.demand_given)
            .map(|u| u * HOURS_PER_MONTH);
        self.usd_per_million_output_tokens =
            spend.and_then(|u| usd_per_million(u, self.output_tokens_per_s));
        self.usd_per_million_tokens =
            spend.and_then(|u| usd_per_million(u, self.total_tokens_per_s));
        self
    }
}
