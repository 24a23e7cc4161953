//! The requests decoding, as one group that advances a token a step together. A
//! member's context is `a + D` tokens at decode clock `D`, so the group's contexts and
//! KV blocks are sums the group keeps as members join and leave; a member is visited
//! only at its own events (it finishes, crosses the attention window, or its windowed
//! layers stop growing), which wait in heaps keyed by the clock they fall at.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use calculator::BlockTable;

/// A count of members by residue `0..n`, with prefix counts (a Fenwick tree).
struct Residues(Vec<i64>);

impl Residues {
    fn new(n: usize) -> Residues {
        Residues(vec![0; n + 1])
    }

    fn add(&mut self, residue: usize, by: i64) {
        let mut i = residue + 1;
        while i < self.0.len() {
            self.0[i] += by;
            i += i & i.wrapping_neg();
        }
    }

    /// Members whose residue is below `x`.
    fn below(&self, x: usize) -> i64 {
        let mut i = x.min(self.0.len() - 1);
        let mut sum = 0;
        while i > 0 {
            sum += self.0[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }
}

/// Members whose context at clock `D` is `a + D` tokens: how many, their contexts
/// summed, and their blocks of `block` tokens summed. With `a + block − 1 = h·block + r`
/// (`0 ≤ r < block`), `ceil((a + D)/block) = h + ⌊D/block⌋ + [r ≥ block − D mod block]`,
/// so the sum needs `Σ h` and the count of members by `r`.
struct Tally {
    block: i64,
    n: i64,
    sum_a: i64,
    sum_h: i64,
    residues: Residues,
}

impl Tally {
    fn new(block: u64) -> Tally {
        let block = block.max(1);
        Tally {
            block: block as i64,
            n: 0,
            sum_a: 0,
            sum_h: 0,
            residues: Residues::new(block as usize),
        }
    }

    fn add(&mut self, a: i64, sign: i64) {
        let e = a + self.block - 1;
        self.n += sign;
        self.sum_a += sign * a;
        self.sum_h += sign * e.div_euclid(self.block);
        self.residues.add(e.rem_euclid(self.block) as usize, sign);
    }

    fn context(&self, clock: u64) -> i64 {
        self.sum_a + self.n * clock as i64
    }

    fn blocks(&self, clock: u64) -> i64 {
        let d = clock as i64;
        let phase = (d % self.block) as usize;
        let carried = if phase == 0 {
            0
        } else {
            self.n - self.residues.below(self.block as usize - phase)
        };
        self.sum_h + self.n * (d / self.block) + carried
    }
}

/// A member: its context is `a + D` at clock `D`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Member {
    a: i64,
    /// The clock when it joined, and the tokens it had generated then.
    joined: u64,
    generated: u64,
    /// Blocks it held when it joined: its prompt's (the slot of the token its prompt
    /// sampled comes with its first decode).
    held: u64,
    below_window: bool,
    uncapped: bool,
}

/// An event of a member: `(clock, admission stamp, request)`.
type Event = Reverse<(u64, u64, usize)>;

/// The decoding group.
pub(super) struct Group {
    table: BlockTable,
    /// Attention window, tokens (0 without one).
    window: i64,
    /// Tokens each member has been given since the simulation began.
    pub(super) clock: u64,
    /// Each request's membership: its admission stamp and state, while a member.
    members: Vec<Option<(u64, Member)>>,
    all: Tally,
    /// Members whose windowed-layer blocks still grow, and how many hold the window's.
    uncapped: Tally,
    capped: i64,
    /// Members below the attention window: how many, and their `Σ a`.
    below: (i64, i64),
    /// When members finish, reach the window, and reach the windowed layers' cap.
    finish: BinaryHeap<Event>,
    cross: BinaryHeap<Event>,
    cap: BinaryHeap<Event>,
    /// The clock members last joined at, and the blocks those members hold short of
    /// their count until their first decode.
    fresh: (u64, i64),
}

impl Group {
    /// An empty group for `requests` requests.
    pub(super) fn new(table: BlockTable, window: f64, requests: usize) -> Group {
        Group {
            table,
            window: window.max(0.0) as i64,
            clock: 0,
            members: vec![None; requests],
            all: Tally::new(table.block_size),
            uncapped: Tally::new(table.block_size),
            capped: 0,
            below: (0, 0),
            finish: BinaryHeap::new(),
            cross: BinaryHeap::new(),
            cap: BinaryHeap::new(),
            fresh: (0, 0),
        }
    }

    /// Members.
    pub(super) fn len(&self) -> u64 {
        self.all.n as u64
    }

    /// Blocks the members hold at the clock, or would after `ahead` more tokens each.
    pub(super) fn used(&self, ahead: u64) -> i64 {
        let t = &self.table;
        let d = self.clock + ahead;
        let windowed = if t.windowed_groups > 0 {
            self.uncapped.blocks(d) + self.capped * t.window_blocks as i64
        } else {
            0
        };
        let fresh = if ahead == 0 && self.fresh.0 == self.clock {
            self.fresh.1
        } else {
            0
        };
        t.full_groups as i64 * self.all.blocks(d)
            + t.windowed_groups as i64 * windowed
            + t.state_blocks_per_request() as i64 * self.all.n
            - fresh
    }

    /// `(Σ context, Σ min(context, window), members below the window)` at the clock.
    pub(super) fn contexts(&self) -> (f64, f64, f64) {
        let d = self.clock as i64;
        let below = self.below.1 + self.below.0 * d;
        let above = (self.all.n - self.below.0) * self.window;
        (
            self.all.context(self.clock) as f64,
            (below + above) as f64,
            self.below.0 as f64,
        )
    }

    /// `request`, admitted as `stamp`, joins with `context` tokens, `generated` of them
    /// generated and `output` to generate in all, holding `held` blocks.
    pub(super) fn join(
        &mut self,
        request: usize,
        stamp: u64,
        context: u64,
        generated: u64,
        output: u64,
        held: u64,
    ) {
        let t = self.table;
        let a = context as i64 - self.clock as i64;
        let cap_at = (t.window_blocks.saturating_sub(1) * t.block_size + 1) as i64 - a;
        let m = Member {
            a,
            joined: self.clock,
            generated,
            held,
            below_window: (context as i64) < self.window,
            uncapped: t.windowed_groups > 0 && cap_at > self.clock as i64,
        };
        self.all.add(a, 1);
        if m.uncapped {
            self.uncapped.add(a, 1);
            self.cap.push(Reverse((cap_at as u64, stamp, request)));
        } else if t.windowed_groups > 0 {
            self.capped += 1;
        }
        if m.below_window {
            self.below.0 += 1;
            self.below.1 += a;
            self.cross
                .push(Reverse(((self.window - a) as u64, stamp, request)));
        }
        let finish = self.clock + output.saturating_sub(generated).max(1);
        self.finish.push(Reverse((finish, stamp, request)));
        if self.fresh.0 != self.clock {
            self.fresh = (self.clock, 0);
        }
        self.fresh.1 += t.blocks_for(context) as i64 - held as i64;
        self.members[request] = Some((stamp, m));
    }

    /// `request` leaves (finished or preempted): the tokens it has generated.
    pub(super) fn leave(&mut self, request: usize) -> Option<u64> {
        let (_, m) = self.members[request].take()?;
        self.all.add(m.a, -1);
        if m.uncapped {
            self.uncapped.add(m.a, -1);
        } else if self.table.windowed_groups > 0 {
            self.capped -= 1;
        }
        if m.below_window {
            self.below.0 -= 1;
            self.below.1 -= m.a;
        }
        if m.joined == self.clock && self.fresh.0 == self.clock {
            let context = (m.a + m.joined as i64) as u64;
            self.fresh.1 -= self.table.blocks_for(context) as i64 - m.held as i64;
        }
        Some(m.generated + (self.clock - m.joined))
    }

    /// The member of an event, if it is still the one the event was for.
    fn live(&mut self, stamp: u64, request: usize) -> Option<&mut Member> {
        match &mut self.members[request] {
            Some((s, m)) if *s == stamp => Some(m),
            _ => None,
        }
    }

    /// The clock advances by `steps` tokens: members that reach the window or the
    /// windowed layers' cap move over.
    pub(super) fn advance(&mut self, steps: u64) {
        self.clock += steps;
        while let Some(&Reverse((at, stamp, i))) = self.cross.peek() {
            if at > self.clock {
                break;
            }
            self.cross.pop();
            if let Some(m) = self.live(stamp, i).filter(|m| m.below_window) {
                m.below_window = false;
                let a = m.a;
                self.below.0 -= 1;
                self.below.1 -= a;
            }
        }
        while let Some(&Reverse((at, stamp, i))) = self.cap.peek() {
            if at > self.clock {
                break;
            }
            self.cap.pop();
            if let Some(m) = self.live(stamp, i).filter(|m| m.uncapped) {
                m.uncapped = false;
                let a = m.a;
                self.uncapped.add(a, -1);
                self.capped += 1;
            }
        }
    }

    /// Decode steps until the next member finishes (at least 1), if any member is left.
    pub(super) fn until_next_finish(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, stamp, i))) = self.finish.peek() {
            if self.live(stamp, i).is_some() {
                return Some(at.saturating_sub(self.clock).max(1));
            }
            self.finish.pop();
        }
        None
    }

    /// Decode steps until the first step after which a member's context passes the
    /// attention window (its windowed context stops growing), if a member is below it.
    pub(super) fn until_next_cross(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, stamp, i))) = self.cross.peek() {
            if self.live(stamp, i).is_some_and(|m| m.below_window) {
                return Some(at.saturating_sub(self.clock) + 1);
            }
            self.cross.pop();
        }
        None
    }

    /// The members that have finished by the clock, in the order they were admitted
    /// among those finishing together; each leaves.
    pub(super) fn finished(&mut self) -> Vec<usize> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, stamp, i))) = self.finish.peek() {
            if at > self.clock {
                break;
            }
            self.finish.pop();
            if self.live(stamp, i).is_some() {
                self.leave(i);
                out.push(i);
            }
        }
        out
    }
}
