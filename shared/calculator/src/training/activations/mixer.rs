//! What the fixed-state mixers keep for backward: Gated DeltaNet, Kimi Delta Attention,
//! Mamba-2 and Mamba-1 layers as transformers trains them with their fast kernels
//! (flash-linear-attention, causal-conv1d, mamba_ssm), derived from those kernels'
//! `save_for_backward` lists and allocations (`docs/methodology.md` §7.5, "Linear
//! attention and state-space layers"). Not yet measured on a GPU. Bytes per token
//! unless a name says otherwise; `a` is the compute dtype's bytes.

use super::{backward_work, norm_saved, Casting, LayerBytes};
use crate::architecture::{MixerKind, StateMixer};
use crate::linear::LinearKind;
use crate::model::Model;
use crate::runtime::FP32_BYTES;
use crate::training::targets::adapts_any;
use crate::training::trainable::Trainable;
use crate::training::TrainingRequest;

/// Tokens per chunk of the selective scan's saved boundary states (mamba_ssm's
/// `selective_scan_fwd` keeps the fp32 state `(x, 2·d_state)` of every 2,048-token
/// chunk for backward).
const SELECTIVE_SCAN_CHUNK: u128 = 2048;

/// The mixer block of a layer: its input norm, the projections' inputs, what its
/// kernels save, and the widest transient set of its backward.
pub(super) fn part(
    model: &Model,
    req: &TrainingRequest,
    m: &StateMixer,
    t: &Trainable,
    c: &Casting,
) -> LayerBytes {
    let arch = &model.arch;
    let h = arch.hidden_size as u128;
    let adapted = adapts_any(model, req, &[LinearKind::Mixer]);
    // Whether the mixer's projections train or carry adapters.
    let w = Widths::new(m, req, c, t.mixer_weights);
    let (kernel, work) = match m.kind {
        MixerKind::GatedDeltaNet => gated_deltanet(&w, m.qwen3_5_code),
        MixerKind::KimiDelta => kimi_delta(&w),
        MixerKind::Mamba2 => mamba2(&w),
        MixerKind::Mamba1 => mamba1(&w),
    };
    LayerBytes {
        saved: norm_saved(arch, h, c) + in_projection_inputs(model, req, m, c, t, adapted) + kernel,
        work: work + backward_work(arch, 0, c.a),
    }
}

/// What the mixer's input projections save of the normalized input (`h` wide): once
/// when they share it, one 16-bit copy each under autocast casts or LoRA adapter
/// copies, and each LoRA adapter's rank-`r` `lora_A` output (the input and output
/// projections' adapters).
fn in_projection_inputs(
    model: &Model,
    req: &TrainingRequest,
    m: &StateMixer,
    c: &Casting,
    t: &Trainable,
    adapted: bool,
) -> u128 {
    let (h, a) = (model.arch.hidden_size as u128, c.a);
    let matrices = m.in_matrices as u128;
    let lora_a = (matrices + 1) * req.lora_rank as u128 * a;
    if adapted && c.adapter_copies {
        matrices * h * a + lora_a
    } else if adapted {
        h * a + lora_a
    } else if t.mixer_weights && c.input_casts {
        matrices * h * a
    } else if t.mixer_weights {
        h * a
    } else {
        0
    }
}

/// The mixer's widths, in values per token, and the bytes of the dtypes involved.
struct Widths {
    /// Compute dtype bytes.
    a: u128,
    /// Heads of the recurrence.
    heads: u128,
    /// Key width of all heads (`heads × d_k`; Mamba: `d_inner`).
    keys: u128,
    /// Value width of all heads, the output projection's input.
    values: u128,
    /// The input projection's output.
    in_proj: u128,
    /// Channels of the causal convolution.
    conv: u128,
    /// State values per head and key channel (`d_v`; Mamba: `d_state`).
    state_per_key: u128,
    /// Values of the recurrent state of one sequence.
    state: u128,
    /// Tokens per chunk of the chunked scan.
    chunk: u128,
    /// Mamba-2's B/C groups.
    groups: u128,
    /// Low-rank bottleneck width (Mamba-1's `dt_rank`, KDA's gate rank).
    low_rank: u128,
    /// Whether the mixer's own linear weights train or carry adapters: their inputs
    /// are saved.
    trained: bool,
    /// Whether norm weights train: a weighted norm also saves its normalized input.
    norms_trained: bool,
    /// Sequence length, for state saved per chunk of a sequence.
    sequence: u128,
}

impl Widths {
    fn new(m: &StateMixer, req: &TrainingRequest, c: &Casting, trained: bool) -> Widths {
        let heads = m.heads.max(1) as u128;
        let values = m.out_proj as u128;
        let state = m.recurrent_state as u128;
        // Delta rules: the state is heads × d_k × d_v. Mamba: d_inner × d_state.
        let state_per_key = match m.kind {
            MixerKind::GatedDeltaNet | MixerKind::KimiDelta => values / heads,
            MixerKind::Mamba2 | MixerKind::Mamba1 => state / values.max(1),
        }
        .max(1);
        Widths {
            a: c.a,
            heads,
            keys: state / state_per_key,
            values,
            in_proj: m.in_proj as u128,
            conv: m.conv_channels as u128,
            state_per_key,
            state,
            chunk: m.scan_chunk.unwrap_or(1).max(1) as u128,
            groups: m.groups as u128,
            low_rank: m.low_rank as u128,
            trained,
            norms_trained: c.norms_trained,
            sequence: req.sequence_length.max(1) as u128,
        }
    }

    /// The input of a linear layer of `width` inputs: saved when its weight trains.
    fn linear_input(&self, width: u128) -> u128 {
        if self.trained {
            width * self.a
        } else {
            0
        }
    }

    /// An eager RMSNorm over `rows` vectors of `width` values in all: fp32 input, an
    /// fp32 inverse RMS per vector, the normalized input when its weight trains.
    fn eager_rms_norm(&self, width: u128, rows: u128) -> u128 {
        let normalized = if self.norms_trained {
            width * self.a
        } else {
            0
        };
        width * FP32_BYTES + rows * FP32_BYTES + normalized
    }

    /// The recurrent state at every boundary of the scan's chunks, per token, in
    /// `bytes` per value.
    fn chunk_states(&self, bytes: u128) -> u128 {
        self.states_every(self.chunk, bytes)
    }

    /// One recurrent state per started `chunk` of each sequence, per token, in `bytes`
    /// per value.
    fn states_every(&self, chunk: u128, bytes: u128) -> u128 {
        let chunks = self.sequence.div_ceil(chunk);
        (self.state * bytes * chunks).div_ceil(self.sequence)
    }
}

/// Gated DeltaNet as transformers' Qwen3-Next and Qwen3.5 code runs it with
/// flash-linear-attention's `chunk_gated_delta_rule` and causal-conv1d: saved bytes
/// and backward transients beyond the residual pair. `qwen3_5` selects that model's
/// code: q and k at their own head count (fla 0.5's grouped kernels, no
/// `repeat_interleave`) and an eager gated norm instead of fla's fused one.
fn gated_deltanet(w: &Widths, qwen3_5: bool) -> (u128, u128) {
    let (a, hv) = (w.a, w.heads);
    // The conv's saved input (the q/k/v streams as projected).
    let conv_input = w.conv * a;
    // beta = sigmoid(b) saves its output; softplus(a + dt_bias) its fp32 input, and
    // the product with -exp(A_log) the fp32 softplus output.
    let gates = hv * a + 2 * hv * FP32_BYTES;
    // The chunk kernel: l2-normalized q and k with an fp32 inverse norm per head each,
    // v (a contiguous copy), the fp32 chunk-local cumulative decay, beta (counted
    // above) and the inverted `chunk × chunk` WY matrix per head, in k's dtype.
    let qk_width = if qwen3_5 {
        w.conv.saturating_sub(w.values)
    } else {
        2 * w.keys
    };
    let qk_heads = qk_width / (w.keys / hv).max(1);
    let kernel =
        qk_width * a + qk_heads * FP32_BYTES + w.values * a + hv * FP32_BYTES + hv * w.chunk * a;
    // The gated output norm: fla's fused kernel saves its input and the gate (z) in
    // 16 bits and an fp32 inverse RMS per head; the eager norm its fp32 input, the
    // weighted product, the fp32 gate and its fp32 SiLU.
    let norm = if qwen3_5 {
        w.eager_rms_norm(w.values, hv) + w.values * a + 2 * w.values * FP32_BYTES
    } else {
        2 * w.values * a + hv * FP32_BYTES
    };
    let saved = conv_input + gates + kernel + norm + w.linear_input(w.values);
    // Backward (`chunk_gated_delta_rule_bwd`): the recomputed chunk states h and
    // their gradient dh, in 16 bits, alive together with w, u, v_new, dv, dq, dk, dw
    // and the output gradient.
    let work = 2 * w.chunk_states(a) + (4 * w.keys + 4 * w.values) * a;
    (saved, work)
}

/// Kimi Delta Attention as Kimi-Linear's model code runs it with
/// flash-linear-attention's `chunk_kda` and short convolutions: per-channel decay
/// (fp32, one per key channel), q/k/v each through its own convolution.
fn kimi_delta(w: &Widths) -> (u128, u128) {
    let (a, heads, p) = (w.a, w.heads, w.values);
    let chunk_matrix = heads * w.chunk;
    // Each short convolution saves its input; the forget gate's raw output (its
    // bottleneck's output is f_b's input), fp32 beta.
    let inputs = 3 * p * a + p * a + heads * FP32_BYTES;
    // chunk_kda: l2-normalized q and k and their fp32 inverse norms, v (the conv
    // output), the fp32 per-channel cumulative decay, Aqk in fp32 and the inverted
    // Akk in 16 bits (chunk wide per head).
    let kernel = 2 * p * a
        + 2 * heads * FP32_BYTES
        + p * a
        + w.keys * FP32_BYTES
        + chunk_matrix * FP32_BYTES
        + chunk_matrix * a;
    // fla's fused gated norm (sigmoid gate): input, gate, fp32 inverse RMS per head.
    let norm = 2 * p * a + heads * FP32_BYTES;
    // f_b's and g_b's rank-sized inputs and o_proj's input.
    let linears = w.linear_input(2 * w.low_rank) + w.linear_input(p);
    let saved = inputs + kernel + norm + linears;
    // Backward (`chunk_kda_bwd`): h and dh in 16 bits; w, u, qg, kg, v_new, dv, dv2
    // and the output gradient in 16 bits; fp32 dq, dk and per-channel dg; fp32 dAqk
    // and dAkk.
    let work =
        2 * w.chunk_states(a) + 8 * p * a + 3 * p * FP32_BYTES + 2 * chunk_matrix * FP32_BYTES;
    (saved, work)
}

/// Mamba-2 through mamba_ssm's `mamba_split_conv1d_scan_combined`, which transformers'
/// Nemotron-H, Falcon-H1, Granite-4.0 and Bamba layers call in training with the gated
/// norm and the output projection fused in: it saves the input projection's output
/// (`zxbcdt`), the scan output before gate and norm, and an fp32 inverse RMS per group;
/// the convolution, the scan's chunk states and the output projection's input are
/// recomputed in backward.
fn mamba2(w: &Widths) -> (u128, u128) {
    let a = w.a;
    let saved = w.in_proj * a + w.values * a + w.groups * FP32_BYTES;
    // Backward: the gradient of zxbcdt, the recomputed convolution output, the output
    // side's gradient and recomputed normalized output (d_inner each), and at the state
    // passing step the fp32 chunk states and their gradient with 16-bit copies of both.
    let work = (w.in_proj + w.conv + 2 * w.values) * a + w.chunk_states(2 * FP32_BYTES + 2 * a);
    (saved, work)
}

/// Mamba-1 (Jamba) through causal-conv1d and mamba_ssm's `selective_scan_fn`, with
/// transformers' eager norms on dt, B and C between them.
fn mamba1(w: &Widths) -> (u128, u128) {
    let (a, di, n, r) = (w.a, w.values, w.state_per_key, w.low_rank);
    // The convolution saves a view of the input projection's output, which keeps all
    // of it (x and the gate z) alive.
    let conv = w.in_proj * a;
    // selective_scan_fn: contiguous copies of u, delta and z, its output before the
    // gate, B and C, and the fp32 state (`2·d_state` per channel) at the end of every
    // 2,048-token chunk of each sequence.
    let scan = 4 * di * a + 2 * n * a + w.states_every(SELECTIVE_SCAN_CHUNK, 2 * FP32_BYTES);
    // The dt, B and C norms (eager RMSNorm each).
    let norms = w.eager_rms_norm(r, 1) + 2 * w.eager_rms_norm(n, 1);
    // x_proj reads the conv output, dt_proj the normalized dt, out_proj the gated
    // scan output.
    let linears = w.linear_input(di) + w.linear_input(r) + w.linear_input(di);
    // Backward: du, ddelta and dz with the output gradient: 4·d_inner = 2·in_proj, the
    // same two-tensor rule as the other blocks' widest intermediate.
    (conv + scan + norms + linears, 2 * w.in_proj * a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryEntry;

    /// The mixer block of a registry model's layer, bf16, every weight training, one
    /// 4,096-token sequence.
    fn block(name: &str) -> LayerBytes {
        let model = &RegistryEntry::lookup(name).unwrap().model;
        let req = TrainingRequest::new(1, 4096);
        let t = Trainable {
            mlp_weights: true,
            mixer_weights: true,
            ..Trainable::default()
        };
        let c = Casting {
            a: 2,
            resid: 2,
            norms_trained: true,
            input_casts: false,
            adapter_copies: false,
            autocast: false,
        };
        part(model, &req, &model.arch.mixer.unwrap(), &t, &c)
    }

    /// The worked examples of methodology §7.5 (linear attention and state-space
    /// layers), each summed there tensor by tensor from the kernels' save lists: the
    /// block's RMSNorm (`4h + 4 + 2h`) and shared input (`2h`) plus the mixer's own.
    #[test]
    fn mixer_blocks_save_the_worked_examples() {
        // Qwen3-Next: 70,464 of Gated DeltaNet tensors, h = 2,048.
        assert_eq!(
            block("Qwen3-Next-80B-A3B-Instruct").saved,
            70_464 + 4_096 + 12_292
        );
        // Qwen3.5: q/k at the key heads, the eager gated norm; h = 4,096.
        assert_eq!(block("Qwen3.5-9B").saved, 111_296 + 8_192 + 24_580);
        // Kimi-Linear: 111,616 of KDA tensors, h = 2,304.
        assert_eq!(
            block("Kimi-Linear-48B-A3B-Instruct").saved,
            111_616 + 4_608 + 13_828
        );
        // Nemotron Nano 9B v2: zxbcdt 45,312, scan output 20,480, 8 fp32 rstd; h = 4,480.
        assert_eq!(
            block("NVIDIA-Nemotron-Nano-9B-v2").saved,
            65_824 + 8_960 + 26_884
        );
        // Jamba: 133,900 of Mamba-1 tensors at 4,096 tokens, h = 4,096.
        assert_eq!(block("Jamba-v0.1").saved, 133_900 + 8_192 + 24_580);
    }

    #[test]
    fn mixer_backward_holds_the_chunk_states_and_their_gradient() {
        // Qwen3-Next: h and dh (2 x 32 x 128 x 128 x 2 / 64 = 32,768), eight 4,096-wide
        // 16-bit tensors (65,536), the residual pair (8,192).
        assert_eq!(
            block("Qwen3-Next-80B-A3B-Instruct").work,
            32_768 + 65_536 + 8_192
        );
        // Nemotron Nano: fp32 states and dstates with 16-bit copies (10,240 x 128 x 12 /
        // 128 = 122,880), zxbcdt's gradient, the recomputed conv, two d_inner-wide
        // tensors ((22,656 + 12,288 + 20,480) x 2 = 110,848), the residual pair (17,920).
        assert_eq!(
            block("NVIDIA-Nemotron-Nano-9B-v2").work,
            122_880 + 110_848 + 17_920
        );
        // Kimi-Linear: h and dh (32,768), eight 4,096-wide 16-bit tensors (65,536), fp32
        // dq, dk, dg (49,152), fp32 dAqk and dAkk 64 x 32 wide (16,384), the pair (9,216).
        assert_eq!(
            block("Kimi-Linear-48B-A3B-Instruct").work,
            32_768 + 65_536 + 49_152 + 16_384 + 9_216
        );
        // Jamba: du, ddelta, dz and the output gradient, 4 x 8,192 x 2, and the pair.
        assert_eq!(block("Jamba-v0.1").work, 65_536 + 16_384);
    }

    /// Qwen3-Next's two input projections (qkvz, ba) read h = 2,048 values: one shared
    /// 16-bit input, or one copy each under autocast casts or LoRA adapter copies; the
    /// rank-16 adapters of the input and output projections add their `lora_A` outputs.
    #[test]
    fn input_projections_save_one_input_or_a_copy_each() {
        let model = &RegistryEntry::lookup("Qwen3-Next-80B-A3B-Instruct")
            .unwrap()
            .model;
        let m = model.arch.mixer.unwrap();
        let casting = |input_casts, adapter_copies| Casting {
            a: 2,
            resid: 2,
            norms_trained: false,
            input_casts,
            adapter_copies,
            autocast: false,
        };
        let trained = Trainable {
            mlp_weights: true,
            mixer_weights: true,
            ..Trainable::default()
        };
        let mut lora = TrainingRequest::new(1, 4096);
        lora.method = crate::training::vocabulary::Method::Lora;
        lora.lora_rank = 16;
        let inputs = |req: &TrainingRequest, c: Casting, t: &Trainable, adapted| {
            in_projection_inputs(model, req, &m, &c, t, adapted)
        };
        let lora_a = 3 * 16 * 2;
        assert_eq!(
            inputs(&lora, casting(false, false), &trained, true),
            4_096 + lora_a
        );
        assert_eq!(
            inputs(&lora, casting(false, true), &trained, true),
            2 * 4_096 + lora_a
        );
        let full = TrainingRequest::new(1, 4096);
        assert_eq!(inputs(&full, casting(false, false), &trained, false), 4_096);
        assert_eq!(
            inputs(&full, casting(true, false), &trained, false),
            2 * 4_096
        );
        assert_eq!(
            inputs(&full, casting(true, false), &Trainable::default(), false),
            0
        );
    }

    /// Frozen mixer weights (LoRA on attention only) save no projection inputs; the
    /// kernels' own tensors stay.
    #[test]
    fn frozen_mixer_projections_save_no_inputs() {
        let model = &RegistryEntry::lookup("Qwen3-Next-80B-A3B-Instruct")
            .unwrap()
            .model;
        let mut req = TrainingRequest::new(1, 4096);
        req.method = crate::training::vocabulary::Method::Lora;
        req.lora_target = crate::training::vocabulary::LoraTarget::Attention;
        let c = Casting {
            a: 2,
            resid: 2,
            norms_trained: false,
            input_casts: false,
            adapter_copies: false,
            autocast: false,
        };
        let frozen = part(
            model,
            &req,
            &model.arch.mixer.unwrap(),
            &Trainable::default(),
            &c,
        );
        // 70,464 less out_proj's input (8,192); the norm without its normalized copy.
        assert_eq!(frozen.saved, 70_464 - 8_192 + 8_196);
    }
}
