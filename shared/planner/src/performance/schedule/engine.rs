//! The scheduler (vLLM V1 `Scheduler.schedule`, methodology §12.2). Running requests
//! are kept in admission order; those decoding precede those prefilling in it (a
//! request is admitted only after the one before it has finished its prompt, and
//! preemption takes the newest first), and a step's budget always covers every decode
//! (`max_num_batched_tokens ≥ max_num_seqs`), so the decoding requests advance
//! together, as one [`Group`].

use std::collections::VecDeque;

use super::group::Group;
use super::{draw, Arrivals, Drawn, Limits, Mark, Record, Seen, Stretch, Trace, MAX_ITERATIONS};
use crate::performance::cost::{step_cost, Step};
use crate::performance::efficiency::Efficiency;
use crate::performance::hardware::{Hardware, Shape};

/// A request's state beyond what was drawn.
#[derive(Clone, Debug)]
struct Request {
    drawn: Drawn,
    /// Tokens to (re)compute before decoding: the prompt, or after a preemption the
    /// prompt and what was generated.
    target: u64,
    computed: u64,
    /// Tokens generated, as of when it last left the group (the group counts them
    /// while it is a member).
    generated: u64,
    first_token: Option<f64>,
    finished: Option<f64>,
    /// Blocks held while prefilling (the group counts a member's).
    blocks: u64,
    /// Its admission stamp while it runs.
    stamp: Option<u64>,
}

impl Request {
    fn prefilling(&self) -> bool {
        self.computed < self.target
    }
}

struct Engine<'a> {
    shape: &'a Shape,
    hw: &'a Hardware,
    eff: &'a Efficiency,
    limits: Limits,
    arrivals: Arrivals,
    requests: Vec<Request>,
    waiting: VecDeque<usize>,
    /// Running requests in admission order, `(stamp, request)`, with stale entries of
    /// those that finished (skipped, and swept when they are half).
    order: Vec<(u64, usize)>,
    stale: usize,
    running: u64,
    next_stamp: u64,
    /// The running requests still prefilling, oldest first (the tail of `order`).
    prefilling: VecDeque<usize>,
    /// Blocks they hold.
    prefill_blocks: i64,
    /// Blocks the step being scheduled gives its decodes (taken when the clock moves).
    decode_blocks: i64,
    group: Group,
    now: f64,
    next_request: usize,
    done: u64,
    busy_sequences: f64,
    emitted: u64,
    marks: Vec<Mark>,
    last_arrival: Option<Mark>,
    steps: u64,
    preemptions: u64,
}

/// Runs `trace` on one replica.
pub(super) fn run(
    shape: &Shape,
    hw: &Hardware,
    eff: &Efficiency,
    limits: Limits,
    trace: &Trace,
) -> Record {
    let mut engine = Engine::new(shape, hw, eff, limits, trace);
    let mut iterations = 0;
    while engine.done < trace.requests && iterations < MAX_ITERATIONS && engine.advance() {
        iterations += 1;
    }
    let mut record = engine.record();
    record.truncated = engine.done < trace.requests && iterations >= MAX_ITERATIONS;
    record
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
            .map(|drawn| Request {
                drawn,
                target: drawn.input,
                computed: 0,
                generated: 0,
                first_token: None,
                finished: None,
                blocks: 0,
                stamp: None,
            })
            .collect();
        let count = requests.len();
        let mut engine = Engine {
            shape,
            hw,
            eff,
            limits,
            arrivals: trace.arrivals,
            requests,
            waiting: VecDeque::new(),
            order: Vec::new(),
            stale: 0,
            running: 0,
            next_stamp: 0,
            prefilling: VecDeque::new(),
            prefill_blocks: 0,
            decode_blocks: 0,
            group: Group::new(limits.table, shape.window, count),
            now: 0.0,
            next_request: 0,
            done: 0,
            busy_sequences: 0.0,
            emitted: 0,
            marks: Vec::new(),
            last_arrival: None,
            steps: 0,
            preemptions: 0,
        };
        if let Arrivals::ClosedLoop { clients } = trace.arrivals {
            for _ in 0..clients.min(trace.requests) {
                engine.send(0.0);
            }
        }
        engine
    }

    fn record(&self) -> Record {
        let seen = self
            .requests
            .iter()
            .filter_map(|r| {
                Some(Seen {
                    input: r.drawn.input,
                    output: r.drawn.output,
                    arrival: r.drawn.arrival,
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

    /// The clock and the counters now.
    fn mark(&self) -> Mark {
        Mark {
            time: self.now,
            emitted: self.emitted,
            busy: self.busy_sequences,
        }
    }

    /// Free blocks of the pool (negative when over-committed).
    fn free(&self) -> i64 {
        self.limits.blocks as i64 - self.group.used(0) - self.prefill_blocks - self.decode_blocks
    }

    /// A closed-loop client sends the next request at `at`.
    fn send(&mut self, at: f64) {
        if self.next_request < self.requests.len() {
            self.requests[self.next_request].drawn.arrival = at;
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
                && self.requests[self.next_request].drawn.arrival <= self.now
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
                .map_or(f64::INFINITY, |r| r.drawn.arrival),
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
        let decoding = self.running > 0 && self.prefilling.is_empty();
        if decoding && !admissible {
            return self.decode_stretch();
        }
        if self.running == 0 && !admissible {
            return self.wait_for_arrival();
        }
        self.one_step()
    }

    /// Whether the next step would admit waiting request `i` (no request is prefilling):
    /// it has arrived, a sequence is free, and after every decode's token the step's
    /// budget and the pool hold its first chunk. While the running requests only decode,
    /// the pool's free blocks only shrink, so a request this refuses stays refused until
    /// one of them finishes.
    fn admits(&self, i: usize) -> bool {
        let r = &self.requests[i];
        if r.drawn.arrival > self.now || self.running >= self.limits.sequences {
            return false;
        }
        let budget = self.limits.batched_tokens.saturating_sub(self.group.len());
        if budget == 0 {
            return false;
        }
        let want = (r.target - r.computed).min(budget);
        let decodes = self.group.used(1) - self.group.used(0);
        self.blocks_for(r.computed + want) as i64 <= self.free() - decodes
    }

    /// Nothing runs: jump to the next arrival.
    fn wait_for_arrival(&mut self) -> bool {
        let queued = self
            .waiting
            .front()
            .map_or(f64::INFINITY, |&i| self.requests[i].drawn.arrival);
        let next = self.upcoming().min(queued);
        if next.is_finite() && next > self.now {
            self.now = next;
            true
        } else {
            false
        }
    }

    /// Every running request decodes and nothing can be admitted: advance to the next
    /// completion, arrival, member reaching the attention window (the steps' time is
    /// affine in between) or the last step the pool has blocks for, in one go. When the
    /// pool cannot take even one step's tokens, the step is scheduled alone (it preempts).
    fn decode_stretch(&mut self) -> bool {
        let members = self.group.len();
        let d = members as f64;
        let mut n = self.group.until_next_finish().unwrap_or(1);
        if let Some(cross) = self.group.until_next_cross() {
            n = n.min(cross);
        }
        n = self.steps_with_blocks(n);
        if n == 0 {
            return self.one_step();
        }
        let (context, windowed, growing) = self.group.contexts();
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
        if upcoming.is_finite() && self.running < self.limits.sequences {
            let steps = ((upcoming - self.now) / first.max(1e-9)).ceil().max(1.0) as u64;
            n = n.min(steps);
        }
        let seconds = stretch.seconds(n);
        self.emitted += n * members;
        self.group.advance(n);
        self.now += seconds;
        self.busy_sequences += seconds * d;
        self.steps += n;
        self.finish(Vec::new());
        self.relieve_pool();
        true
    }

    /// The most decode steps, up to `most`, whose tokens the pool's free blocks hold
    /// (the blocks the members need only grow with the steps).
    fn steps_with_blocks(&mut self, most: u64) -> u64 {
        let free = self.free();
        let base = self.group.used(0);
        let fits = |steps: u64| self.group.used(steps) - base <= free;
        if fits(most) {
            return most;
        }
        let (mut lo, mut hi) = (0, most);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Preempts the newest running requests while the pool is over-committed.
    fn relieve_pool(&mut self) {
        while self.free() < 0 {
            let Some(i) = self.newest() else { break };
            self.preempt(i);
        }
    }

    /// The newest running request.
    fn newest(&mut self) -> Option<usize> {
        while let Some(&(stamp, i)) = self.order.last() {
            if self.requests[i].stamp == Some(stamp) {
                return Some(i);
            }
            self.order.pop();
            self.stale -= 1;
        }
        None
    }

    /// `i` stops running (vLLM recomputes a preempted request from scratch).
    fn preempt(&mut self, i: usize) {
        if let Some(generated) = self.group.leave(i) {
            self.requests[i].generated = generated;
        } else {
            // Not decoding: a prefill, the newest of them.
            self.prefilling.pop_back();
            self.prefill_blocks -= self.requests[i].blocks as i64;
        }
        let r = &mut self.requests[i];
        r.blocks = 0;
        r.stamp = None;
        r.target = r.drawn.input + r.generated;
        r.computed = 0;
        self.stopped();
        self.preemptions += 1;
        self.waiting.push_front(i);
    }

    /// A running request stopped: its entry in `order` is stale.
    fn stopped(&mut self) {
        self.running -= 1;
        self.stale += 1;
        if self.stale > 64 && 2 * self.stale > self.order.len() {
            let requests = &self.requests;
            self.order.retain(|&(s, i)| requests[i].stamp == Some(s));
            self.stale = 0;
        }
    }

    /// The members that have finished by the clock, then `prefilled` (requests whose
    /// prompt gave their only token), finish: in admission order, as vLLM's scheduler
    /// walks its running list.
    fn finish(&mut self, prefilled: Vec<usize>) {
        let members = self.group.finished();
        for i in members.into_iter().chain(prefilled) {
            let r = &mut self.requests[i];
            r.generated = r.drawn.output;
            r.finished = Some(self.now);
            r.stamp = None;
            self.stopped();
            self.done += 1;
            self.marks.push(self.mark());
            if let Arrivals::ClosedLoop { .. } = self.arrivals {
                self.send(self.now);
            }
        }
    }

    /// One scheduled step: running requests first (every decode, then the prompt
    /// chunks in order), then admissions.
    fn one_step(&mut self) -> bool {
        let mut budget = self.limits.batched_tokens;
        // Every decode takes a token; out of blocks, the newest running request gives
        // its own back until they fit.
        while self.group.len() > 0 && self.group.used(1) - self.group.used(0) > self.free() {
            if self.running == 1 {
                // Alone and out of blocks for its next token: it never finishes (vLLM
                // refuses to start with a pool that small, so only a test gets here).
                return false;
            }
            let Some(last) = self.newest() else { break };
            self.preempt(last);
        }
        let decodes = self.group.len();
        self.decode_blocks = self.group.used(1) - self.group.used(0);
        budget = budget.saturating_sub(decodes);
        let mut chunks: Vec<(usize, u64)> = Vec::new();
        let mut k = 0;
        while k < self.prefilling.len() && budget > 0 {
            let i = self.prefilling[k];
            let r = &self.requests[i];
            let want = (r.target - r.computed).min(budget);
            let need = self.blocks_for(r.computed + want).saturating_sub(r.blocks) as i64;
            if need > self.free() {
                let Some(last) = self.newest() else { break };
                self.preempt(last);
                continue;
            }
            self.prefill_blocks += need;
            self.requests[i].blocks += need as u64;
            budget -= want;
            chunks.push((i, want));
            k += 1;
        }
        while budget > 0 && self.running < self.limits.sequences {
            let Some(&i) = self.waiting.front() else {
                break;
            };
            let r = &self.requests[i];
            if r.drawn.arrival > self.now {
                break;
            }
            let want = (r.target - r.computed).min(budget);
            let need = self.blocks_for(r.computed + want) as i64;
            if need > self.free() {
                break;
            }
            self.prefill_blocks += need;
            let stamp = self.next_stamp;
            self.next_stamp += 1;
            let r = &mut self.requests[i];
            r.blocks = need as u64;
            r.stamp = Some(stamp);
            self.waiting.pop_front();
            self.order.push((stamp, i));
            self.running += 1;
            self.prefilling.push_back(i);
            budget -= want;
            chunks.push((i, want));
        }
        if chunks.is_empty() && decodes == 0 {
            return self.wait_for_arrival();
        }
        let step = self.compose(&chunks);
        let seconds = step_cost(self.shape, self.hw, self.eff, &step).seconds;
        self.now += seconds;
        self.busy_sequences += seconds * (step.decodes + step.prefill_requests);
        self.steps += 1;
        if decodes > 0 {
            self.emitted += decodes;
            self.group.advance(1);
        }
        self.decode_blocks = 0;
        let prefilled = self.apply_chunks(&chunks);
        self.finish(prefilled);
        true
    }

    /// The step's decodes (every member) and prompt chunks.
    fn compose(&self, chunks: &[(usize, u64)]) -> Step {
        let window = self.shape.window;
        let (context, windowed, _) = self.group.contexts();
        let mut step = Step {
            decodes: self.group.len() as f64,
            decode_context: context,
            decode_window_context: windowed,
            ..Step::default()
        };
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

    /// Prompt chunks computed: a finished prompt samples its first token (after a
    /// preemption, the recomputed prompt already has one) and joins the decoding
    /// group, or finishes if that token was its only one. The requests that finish.
    fn apply_chunks(&mut self, chunks: &[(usize, u64)]) -> Vec<usize> {
        let mut finished = Vec::new();
        for &(i, c) in chunks {
            let now = self.now;
            let r = &mut self.requests[i];
            r.computed += c;
            if r.prefilling() {
                continue;
            }
            if r.generated == 0 {
                r.generated = 1;
                r.first_token = Some(now);
                self.emitted += 1;
            }
            // Prompts finish in admission order: this one is the oldest prefill.
            self.prefilling.pop_front();
            self.prefill_blocks -= r.blocks as i64;
            let (held, generated) = (r.blocks, r.generated);
            r.blocks = 0;
            if generated >= r.drawn.output {
                finished.push(i);
                continue;
            }
            let stamp = r.stamp.unwrap_or_default();
            let context = r.drawn.input + generated;
            self.group
                .join(i, stamp, context, generated, r.drawn.output, held);
        }
        finished
    }
}
