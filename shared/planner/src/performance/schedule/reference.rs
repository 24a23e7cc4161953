//! The scheduler as a plain step-by-step simulation, visiting every running request
//! every step: slow (O(n) a step in the n requests running) but plain to read. The
//! engine, which keeps the decoding requests as one group, must give exactly its
//! record; the test below runs both on traces of every kind.

use std::collections::VecDeque;

use super::{draw, engine, Arrivals, Limits, Mark, Record, Seen, Stretch, Trace};
use crate::performance::cost::{step_cost, Step};
use crate::performance::efficiency::Efficiency;
use crate::performance::hardware::{Hardware, Shape};

/// Runs `trace` on one replica, step by step.
pub(super) fn run(
    shape: &Shape,
    hw: &Hardware,
    eff: &Efficiency,
    limits: Limits,
    trace: &Trace,
) -> Record {
    let mut engine = Engine::new(shape, hw, eff, limits, trace);
    while engine.done < trace.requests && engine.advance() {}
    engine.record()
}

#[derive(Clone, Debug)]
struct Request {
    input: u64,
    output: u64,
    arrival: f64,
    /// Tokens to (re)compute before decoding: the prompt, or after a preemption the
    /// prompt and what was generated.
    target: u64,
    computed: u64,
    generated: u64,
    first_token: Option<f64>,
    finished: Option<f64>,
    blocks: u64,
}

impl Request {
    /// Tokens a decode step attends over: the prompt and what was generated.
    fn context(&self) -> u64 {
        self.input + self.generated
    }

    fn prefilling(&self) -> bool {
        self.computed < self.target
    }
}

struct Engine<'a> {
    shape: &'a Shape,
    hw: &'a Hardware,
    eff: &'a Efficiency,
    limits: Limits,
    requests: Vec<Request>,
    waiting: VecDeque<usize>,
    running: Vec<usize>,
    free: i64,
    now: f64,
    next_request: usize,
    done: u64,
    busy_sequences: f64,
    /// Output tokens made so far.
    emitted: u64,
    /// `(time, emitted, busy_sequences)` at each completion, in order.
    marks: Vec<Mark>,
    /// The same when the last request arrived.
    last_arrival: Option<Mark>,
    steps: u64,
    preemptions: u64,
    arrivals: Arrivals,
}

impl<'a> Engine<'a> {
    fn new(
        shape: &'a Shape,
        hw: &'a Hardware,
        eff: &'a Efficiency,
        limits: Limits,
        trace: &Trace,
    ) -> Engine<'a> {
        let requests: Vec<Request> = draw(trace)
            .into_iter()
            .map(|d| Request {
                input: d.input,
                output: d.output,
                arrival: d.arrival,
                target: d.input,
                computed: 0,
                generated: 0,
                first_token: None,
                finished: None,
                blocks: 0,
            })
            .collect();
        let mut engine = Engine {
            shape,
            hw,
            eff,
            limits,
            requests,
            waiting: VecDeque::new(),
            running: Vec::new(),
            free: limits.blocks as i64,
            now: 0.0,
            next_request: 0,
            done: 0,
            busy_sequences: 0.0,
            emitted: 0,
            marks: Vec::new(),
            last_arrival: None,
            steps: 0,
            preemptions: 0,
            arrivals: trace.arrivals,
        };
        match trace.arrivals {
            Arrivals::ClosedLoop { clients } => {
                for _ in 0..clients.min(trace.requests) {
                    engine.send(0.0);
                }
            }
            Arrivals::Poisson { .. } => {}
        }
        engine
    }

    /// The clock and the counters now.
    fn mark(&self) -> Mark {
        Mark {
            time: self.now,
            emitted: self.emitted,
            busy: self.busy_sequences,
        }
    }

    /// A closed-loop client sends the next request at `at`.
    fn send(&mut self, at: f64) {
        if self.next_request < self.requests.len() {
            self.requests[self.next_request].arrival = at;
            self.waiting.push_back(self.next_request);
            self.next_request += 1;
            self.note_last_arrival();
        }
    }

    fn note_last_arrival(&mut self) {
        if self.next_request == self.requests.len() && self.last_arrival.is_none() {
            self.last_arrival = Some(self.mark());
        }
    }

    /// Open-loop arrivals up to now join the queue (they were drawn in time order).
    fn arrive(&mut self) {
        if let Arrivals::Poisson { .. } = self.arrivals {
            while self.next_request < self.requests.len()
                && self.requests[self.next_request].arrival <= self.now
            {
                self.waiting.push_back(self.next_request);
                self.next_request += 1;
            }
            self.note_last_arrival();
        }
    }

    /// When the next open-loop request arrives, if one is still to come.
    fn upcoming(&self) -> f64 {
        match self.arrivals {
            Arrivals::Poisson { .. } => self
                .requests
                .get(self.next_request)
                .map_or(f64::INFINITY, |r| r.arrival),
            Arrivals::ClosedLoop { .. } => f64::INFINITY,
        }
    }

    fn blocks_for(&self, tokens: u64) -> u64 {
        self.limits.table.blocks_for(tokens)
    }

    /// One step, or a stretch of decode steps; `false` when nothing can happen.
    fn advance(&mut self) -> bool {
        self.arrive();
        let admissible = self.waiting.front().is_some_and(|&i| self.admits(i));
        let decoding = !self.running.is_empty()
            && self.running.iter().all(|&i| !self.requests[i].prefilling());
        if decoding && !admissible {
            return self.decode_stretch();
        }
        if self.running.is_empty() && !admissible {
            return self.wait_for_arrival();
        }
        self.one_step()
    }

    /// Whether the next step would admit waiting request `i`, every running request
    /// decoding: arrived, a sequence free, and its first chunk within what the decodes
    /// leave of the budget and the pool.
    fn admits(&self, i: usize) -> bool {
        let r = &self.requests[i];
        let running = self.running.len() as u64;
        if r.arrival > self.now || running >= self.limits.sequences {
            return false;
        }
        let budget = self.limits.batched_tokens.saturating_sub(running);
        if budget == 0 {
            return false;
        }
        let want = (r.target - r.computed).min(budget);
        self.blocks_for(r.computed + want) as i64 <= self.free - self.growth(1)
    }

    /// Blocks the running requests need beyond what they hold to decode `steps` more
    /// tokens each.
    fn growth(&self, steps: u64) -> i64 {
        self.running
            .iter()
            .map(|&i| {
                let r = &self.requests[i];
                self.blocks_for(r.context() + steps)
                    .saturating_sub(r.blocks) as i64
            })
            .sum()
    }

    /// Nothing runs: jump to the next arrival.
    fn wait_for_arrival(&mut self) -> bool {
        let next = self.upcoming();
        let queued = self
            .waiting
            .front()
            .map(|&i| self.requests[i].arrival)
            .unwrap_or(f64::INFINITY);
        let next = next.min(queued);
        if next.is_finite() && next > self.now {
            self.now = next;
            true
        } else {
            false
        }
    }

    /// Every running request decodes and nothing can be admitted: advance to the next
    /// completion, arrival or block shortage in one go.
    fn decode_stretch(&mut self) -> bool {
        let d = self.running.len() as f64;
        // One pass for what the stretch's length and cost need.
        let window = self.shape.window;
        let (mut context, mut windowed, mut growing) = (0.0, 0.0, 0.0);
        let mut n = u64::MAX;
        for &i in &self.running {
            let r = &self.requests[i];
            n = n.min(r.output - r.generated);
            let c = r.context() as f64;
            context += c;
            windowed += c.min(window);
            if c < window {
                growing += 1.0;
            }
        }
        let mut n = n.max(1);
        // Up to the step after which a context passes the window.
        for &i in &self.running {
            let c = self.requests[i].context() as f64;
            if c < window {
                n = n.min((window - c) as u64 + 1);
            }
        }
        // Blocks: the most steps whose tokens the free blocks hold, by trying each.
        let mut room = 0;
        while room < n && self.growth(room + 1) <= self.free {
            room += 1;
        }
        if room == 0 {
            return self.one_step();
        }
        n = room;
        let table = self.limits.table;
        let stretch = Stretch::new(
            self.shape,
            self.hw,
            self.eff,
            d,
            (context, windowed, growing),
        );
        let first = stretch.first;
        // Open-loop arrivals: stop at the next one while a sequence slot is free.
        let upcoming = self.upcoming();
        if upcoming.is_finite() && (self.running.len() as u64) < self.limits.sequences {
            let steps = ((upcoming - self.now) / first.max(1e-9)).ceil().max(1.0) as u64;
            n = n.min(steps);
        }
        let seconds = stretch.seconds(n);
        let mut completed = false;
        for &i in &self.running {
            let r = &mut self.requests[i];
            let need = table.blocks_for(r.context() + n);
            if need > r.blocks {
                self.free -= (need - r.blocks) as i64;
                r.blocks = need;
            }
            r.generated += n;
            completed |= r.generated >= r.output;
        }
        self.emitted += n * self.running.len() as u64;
        self.now += seconds;
        self.busy_sequences += seconds * d;
        self.steps += n;
        if completed {
            self.finish_completed();
        }
        self.relieve_pool();
        true
    }

    /// Preempts the newest running requests while the pool is over-committed (vLLM
    /// recomputes a preempted request from scratch).
    fn relieve_pool(&mut self) {
        while self.free < 0 {
            let Some(i) = self.running.pop() else { break };
            self.preempt(i);
        }
    }

    fn preempt(&mut self, i: usize) {
        let r = &mut self.requests[i];
        self.free += r.blocks as i64;
        r.blocks = 0;
        r.target = r.input + r.generated;
        r.computed = 0;
        self.preemptions += 1;
        self.waiting.push_front(i);
    }

    fn finish_completed(&mut self) {
        let mut keep = Vec::with_capacity(self.running.len());
        let running = std::mem::take(&mut self.running);
        for i in running {
            let r = &mut self.requests[i];
            if !r.prefilling() && r.generated >= r.output {
                r.finished = Some(self.now);
                self.free += r.blocks as i64;
                r.blocks = 0;
                self.done += 1;
                self.marks.push(Mark {
                    time: self.now,
                    emitted: self.emitted,
                    busy: self.busy_sequences,
                });
                if let Arrivals::ClosedLoop { .. } = self.arrivals {
                    self.send(self.now);
                }
            } else {
                keep.push(i);
            }
        }
        self.running = keep;
    }

    /// One scheduled step: running requests first, then admissions.
    fn one_step(&mut self) -> bool {
        let mut budget = self.limits.batched_tokens;
        let mut chunks: Vec<(usize, u64)> = Vec::new();
        let mut decodes: Vec<usize> = Vec::new();
        let mut k = 0;
        while k < self.running.len() && budget > 0 {
            let i = self.running[k];
            let r = &self.requests[i];
            let want = if r.prefilling() {
                (r.target - r.computed).min(budget)
            } else {
                1
            };
            let tokens = if r.prefilling() {
                r.computed + want
            } else {
                r.context() + 1
            };
            let need = self.blocks_for(tokens).saturating_sub(r.blocks) as i64;
            if need > self.free {
                if !r.prefilling() && self.running.len() == 1 {
                    // Alone and out of blocks for its next token: it never finishes.
                    return false;
                }
                // Out of blocks: the newest running request gives its own back.
                let last = self.running.pop().expect("running is not empty");
                self.preempt(last);
                continue;
            }
            self.free -= need;
            self.requests[i].blocks += need as u64;
            budget -= want;
            if self.requests[i].prefilling() {
                chunks.push((i, want));
            } else {
                decodes.push(i);
            }
            k += 1;
        }
        while budget > 0 && (self.running.len() as u64) < self.limits.sequences {
            let Some(&i) = self.waiting.front() else {
                break;
            };
            if self.requests[i].arrival > self.now {
                break;
            }
            let r = &self.requests[i];
            let want = (r.target - r.computed).min(budget);
            let need = self.blocks_for(r.computed + want) as i64;
            if need > self.free {
                break;
            }
            self.free -= need;
            self.requests[i].blocks = need as u64;
            self.waiting.pop_front();
            self.running.push(i);
            budget -= want;
            chunks.push((i, want));
        }
        if chunks.is_empty() && decodes.is_empty() {
            return self.wait_for_arrival();
        }
        let step = self.compose(&chunks, &decodes);
        let seconds = step_cost(self.shape, self.hw, self.eff, &step).seconds;
        self.now += seconds;
        self.busy_sequences += seconds * (step.decodes + step.prefill_requests);
        self.steps += 1;
        for (i, c) in chunks {
            let now = self.now;
            let r = &mut self.requests[i];
            r.computed += c;
            // The step that finishes a prompt samples its first token (after a
            // preemption, the recomputed prompt already has one).
            if !r.prefilling() && r.generated == 0 {
                r.generated = 1;
                r.first_token = Some(now);
                self.emitted += 1;
            }
        }
        self.emitted += decodes.len() as u64;
        for i in decodes {
            self.requests[i].generated += 1;
        }
        self.finish_completed();
        true
    }

    fn compose(&self, chunks: &[(usize, u64)], decodes: &[usize]) -> Step {
        let window = self.shape.window;
        let mut step = Step::default();
        for &i in decodes {
            let c = self.requests[i].context() as f64;
            step.decodes += 1.0;
            step.decode_context += c;
            step.decode_window_context += c.min(window);
        }
        step.sampled = step.decodes;
        for &(i, c) in chunks {
            let r = &self.requests[i];
            let prior = r.computed as f64;
            let c = c as f64;
            step.prefill_tokens += c;
            step.prefill_requests += 1.0;
            step.prefill_attention += c * (prior + c / 2.0);
            step.prefill_window_attention += c * (prior + c / 2.0).min(window);
            step.prefill_prior += prior;
            step.prefill_window_prior += prior.min(window);
            if r.computed + c as u64 >= r.target {
                step.sampled += 1.0;
            }
        }
        step
    }

    fn record(&self) -> Record {
        let seen = self
            .requests
            .iter()
            .filter_map(|r| {
                Some(Seen {
                    input: r.input,
                    output: r.output,
                    arrival: r.arrival,
                    first_token: r.first_token?,
                    finished: r.finished?,
                })
            })
            .collect();
        Record {
            seen,
            marks: self.marks.clone(),
            last_arrival: self.last_arrival,
            end: self.mark(),
            preemptions: self.preemptions,
            steps: self.steps,
            truncated: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::performance::{efficiency_for, prepare, Prepared, Serving};
    use crate::Catalog;
    use calculator::{
        estimate_inference, Engine as Serve, InferenceRequest, Precision, RegistryEntry,
        VllmSettings,
    };

    /// One replica of `model` on `tp` GPUs of an 8-GPU instance, sized for `len`
    /// tokens.
    fn replica(
        model: &str,
        (gpu, instance): (&str, &str),
        tp: u64,
        precision: Option<Precision>,
        len: u64,
    ) -> Prepared {
        let catalog = Catalog::embedded();
        let model = &RegistryEntry::lookup(model).expect("registry model").model;
        let gpu = catalog.gpu(gpu).expect("catalog GPU");
        let link = catalog
            .instances
            .iter()
            .find(|i| i.name == instance)
            .and_then(|i| i.interconnect.as_ref());
        let mut settings = VllmSettings::new(gpu.usable_memory.expect("memory").0);
        settings.gpu_name = Some(gpu.name.clone());
        let mut req = InferenceRequest::new(1, len);
        req.max_new_tokens = len;
        req.num_gpus = tp;
        req.precision = precision;
        req.engine = Serve::Vllm(settings);
        let estimate = estimate_inference(model, &req).expect("estimate");
        let serving = Serving {
            model,
            estimate: &estimate,
            gpu,
            link,
            tensor_parallel: tp,
            expert_parallel: false,
        };
        prepare(&serving, catalog).expect("vLLM starts")
    }

    fn trace(
        arrivals: Arrivals,
        requests: u64,
        warmup: u64,
        lengths: (u64, u64),
        spread: f64,
    ) -> Trace {
        Trace {
            arrivals,
            requests,
            warmup,
            max_input: lengths.0,
            max_output: lengths.1,
            spread,
            seed: requests ^ lengths.0 ^ (lengths.1 << 20),
        }
    }

    /// The first difference of two records, if any.
    fn same(fast: &Record, plain: &Record, case: &str) {
        let first = fast.seen.iter().zip(&plain.seen).position(|(a, b)| a != b);
        if let Some(k) = first {
            panic!(
                "{case}: request {k}: {:?} vs {:?}",
                fast.seen[k], plain.seen[k]
            );
        }
        let mark = fast
            .marks
            .iter()
            .zip(&plain.marks)
            .position(|(a, b)| a != b);
        if let Some(k) = mark {
            panic!(
                "{case}: mark {k}: {:?} vs {:?}",
                fast.marks[k], plain.marks[k]
            );
        }
        assert_eq!(
            (
                fast.seen.len(),
                fast.marks.len(),
                fast.last_arrival,
                fast.end
            ),
            (
                plain.seen.len(),
                plain.marks.len(),
                plain.last_arrival,
                plain.end
            ),
            "{case}"
        );
        assert_eq!(
            (fast.preemptions, fast.steps),
            (plain.preemptions, plain.steps),
            "{case}"
        );
    }

    /// The engine and the step-by-step simulation agree on every request's times and
    /// every counter: full attention, sliding windows with their capped blocks
    /// (gpt-oss), state pages (a hybrid), MLA blocks, in pools large and so small that
    /// requests are preempted, under closed loops and random arrivals.
    #[test]
    fn the_engine_gives_the_step_by_step_record() {
        let h100 = ("NVIDIA H100 SXM 80GB", "p5.48xlarge");
        let h200 = ("NVIDIA H200 SXM 141GB", "p5en.48xlarge");
        let fp8 = Some(Precision::Float8);
        let replicas = [
            ("Llama-3.3-70B-Instruct", h100, 2, fp8),
            ("gpt-oss-120b", h100, 1, None),
            ("Qwen3-0.6B", h100, 1, None),
            ("Qwen3-Next-80B-A3B-Instruct", h100, 2, fp8),
            ("gemma-3-27b-it", h100, 1, None),
            ("Llama-4-Scout-17B-16E-Instruct", h100, 4, None),
            ("DeepSeek-V3", h200, 8, fp8),
        ];
        let (mut checked, mut preempted) = (0, 0);
        for (name, hardware, tp, precision) in replicas {
            let p = replica(name, hardware, tp, precision, 10_000);
            let (eff, _) = efficiency_for(hardware.0, p.compute_dtype);
            for pool in [None, Some(3), Some(1)] {
                for t in [
                    trace(Arrivals::ClosedLoop { clients: 1 }, 4, 0, (300, 40), 1.0),
                    trace(
                        Arrivals::ClosedLoop { clients: 16 },
                        80,
                        0,
                        (2000, 300),
                        0.8,
                    ),
                    trace(
                        Arrivals::ClosedLoop { clients: 64 },
                        200,
                        64,
                        (700, 129),
                        0.5,
                    ),
                    trace(
                        Arrivals::ClosedLoop { clients: 300 },
                        900,
                        300,
                        (64, 1),
                        1.0,
                    ),
                    trace(
                        Arrivals::ClosedLoop { clients: 40 },
                        120,
                        40,
                        (9000, 64),
                        0.8,
                    ),
                    trace(Arrivals::Poisson { rate: 3.0 }, 150, 20, (1500, 200), 0.8),
                    trace(Arrivals::Poisson { rate: 400.0 }, 300, 50, (120, 60), 0.8),
                ] {
                    // The whole pool, or room for three or for one of the longest
                    // requests (vLLM starts only when one fits).
                    let one = p.limits.table.blocks_for(t.max_input + t.max_output);
                    let blocks = pool.map_or(p.limits.blocks, |k| k * one);
                    let limits = Limits { blocks, ..p.limits };
                    let fast = engine::run(&p.shape, &p.hardware, &eff, limits, &t);
                    let plain = run(&p.shape, &p.hardware, &eff, limits, &t);
                    same(&fast, &plain, &format!("{name}, {blocks} blocks, {t:?}"));
                    checked += 1;
                    preempted += usize::from(plain.preemptions > 0);
                }
            }
        }
        assert_eq!(checked, replicas.len() * 3 * 7);
        // The small pools preempt: the cases test that too.
        assert!(preempted > 20, "{preempted} cases preempted");
    }
}
