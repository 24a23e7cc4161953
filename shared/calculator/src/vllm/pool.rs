//! vLLM's KV pool for a model, per GPU: the pages of its layers (attention, latent,
//! indexer keys, the fixed state of linear-attention and state-space layers), the
//! block size, and how layers share block ids in groups (`KVCacheManager`'s layout).

use crate::architecture::StateMixer;
use crate::kv_cache::{cached_bytes, indexer_bytes_per_token_layer, values_per_token_layer};
use crate::model::Model;
use crate::precision::Precision;
use crate::runtime::FP32_BYTES;

/// Tokens per KV-cache block on CUDA (vllm-project/vllm@1c0d9ecf5bad600df3e001bf642dd48c5ed25cc6 `vllm/platforms/cuda.py`, when `block_size` is
/// unset).
pub const BLOCK_SIZE: u64 = 16;

/// Tokens per block of MLA caches: FlashMLA, vLLM's MLA backend on Hopper, needs a
/// multiple of 64.
pub const MLA_BLOCK_SIZE: u64 = 64;

/// Latent values per fp32 scale in vLLM's `fp8_ds_mla` cache layout (656 bytes per
/// token for DeepSeek-V3.2: 512 fp8 latent values, 4 scales, 64 bf16 rope values;
/// `MLAAttentionSpec.real_page_size_bytes` and the FlashMLA sparse backend).
const DS_MLA_SCALE_BLOCK: u128 = 128;

/// How vLLM lays its pool out for a model (per GPU): pages of `block` tokens, one page
/// per layer and block id, `group_size` layers sharing each block id's pages.
pub(super) struct Pool {
    /// Tokens per block.
    pub(super) block: u64,
    /// Tokens per block in the "GPU KV cache size" report.
    pub(super) report_block: u64,
    /// Bytes of one layer's page: attention keys and values and indexer keys (a mixer
    /// layer's state is padded to the same size).
    pub(super) page: u128,
    /// Bytes of `page` that hold attention keys and values.
    pub(super) attention_page: u128,
    /// Bytes of `page` that hold the indexer's keys.
    pub(super) indexer_page: u128,
    /// Layers per group.
    pub(super) group_size: u128,
    /// Groups of every kind.
    pub(super) groups: u128,
    /// Block ids one request of `max_model_len` takes, over all groups.
    pub(super) blocks_per_request: u128,
    /// Of those, the attention groups'.
    pub(super) attention_blocks_per_request: u128,
    /// Pages one request takes over all layers (what vLLM checks before it starts).
    pub(super) pages_per_request: u128,
    /// Block ids a request holds as it grows.
    pub(super) table: BlockTable,
}

/// How many block ids a request holds at each length, over every layer group: what a
/// scheduler charges the pool as the request grows (`KVCacheManager.allocate_slots`
/// over its groups). A full-attention group holds every token's block; a
/// sliding-window (or chunked) group drops the blocks that fall out of its window
/// (`SlidingWindowManager.remove_skipped_blocks`), so it holds at most the window's
/// blocks and one more; a state group (linear attention, state-space layers) holds
/// [`state_blocks`](Self::state_blocks) blocks whatever the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockTable {
    /// Tokens per block.
    pub block_size: u64,
    /// Groups that keep every token.
    pub full_groups: u64,
    /// Groups that keep a window.
    pub windowed_groups: u64,
    /// Blocks a windowed group holds at most (0 without one).
    pub window_blocks: u64,
    /// Groups of fixed-size state (linear attention, state-space layers).
    pub state_groups: u64,
    /// Blocks each state group holds for a request: 1, or 2 under prefix caching's
    /// "align" mode (the running state and the one saved at the last block boundary,
    /// `MambaSpec.max_memory_usage_bytes`); 0 without state groups.
    pub state_blocks: u64,
}

impl BlockTable {
    /// Block ids a request of `tokens` computed tokens holds. A prefill chunk that
    /// crosses a window briefly holds the chunk's blocks too; this counts the window
    /// only (the chunk's extra blocks are freed within the step).
    pub fn blocks_for(&self, tokens: u64) -> u64 {
        let full = tokens.div_ceil(self.block_size);
        self.full_groups * full
            + self.windowed_groups * full.min(self.window_blocks)
            + self.state_blocks_per_request()
    }

    /// Block ids a request holds in the state groups, whatever its length.
    pub fn state_blocks_per_request(&self) -> u64 {
        self.state_groups * self.state_blocks
    }
}

/// State blocks a request holds per mixer group in prefix caching's "align" mode: the
/// running state and the copy saved at the last block boundary
/// (vllm-project/vllm@001cabc1be16a59a70d720ed61a13b678c060a18
/// `vllm/v1/kv_cache_interface.py`, `MambaSpec.max_memory_usage_bytes`: `2 +
/// num_speculative_blocks` pages in "align", `1 +` without prefix caching).
const ALIGN_STATE_BLOCKS: u64 = 2;

/// vLLM's kernel block alignment: attention blocks are a multiple of 16 tokens
/// (`HybridAttentionMambaModelConfig`: "some attention backends (e.g. FA) only support
/// setting block size to multiple of 16").
const BLOCK_ALIGNMENT: u64 = 16;

impl Pool {
    /// Attention only: full and sliding (or chunked) layers in groups; MLA blocks of 64;
    /// DeepSeek-V3.2's indexer keys beside the latent in each page.
    pub(super) fn attention(
        model: &Model,
        gpus: u64,
        kv_precision: Precision,
        len: u64,
        step: u64,
    ) -> Pool {
        let block = if model.arch.mla.is_some() {
            MLA_BLOCK_SIZE
        } else {
            BLOCK_SIZE
        };
        let attention_page = match (model.arch.mla, model.arch.indexer) {
            // DeepSeek-V3.2's sparse kernels keep an fp8 cache as `fp8_ds_mla`: the
            // latent in fp8 with an fp32 scale per 128 values, the rope key in bf16.
            (Some(m), Some(_)) if kv_precision == Precision::Float8 => {
                let latent = m.kv_lora_rank as u128;
                let scales = latent.div_ceil(DS_MLA_SCALE_BLOCK) * FP32_BYTES;
                block as u128 * (latent + scales + 2 * m.qk_rope_head_dim as u128)
            }
            _ => cached_bytes(
                block as u128 * values_per_token_layer(model, gpus),
                kv_precision,
            ),
        };
        let indexer_page = model
            .arch
            .indexer
            .map_or(0, |ix| block as u128 * indexer_bytes_per_token_layer(ix));
        let layers = LayerGroups::of(model);
        let (full, sliding) = layers.groups();
        let blocks = layers.blocks_per_request(len, block, step) as u128;
        Pool {
            block,
            report_block: block,
            page: attention_page + indexer_page,
            attention_page,
            indexer_page,
            group_size: layers.group_size() as u128,
            groups: (full + sliding) as u128,
            blocks_per_request: blocks,
            attention_blocks_per_request: blocks,
            pages_per_request: layers.pages_per_request(len, block, step),
            table: BlockTable {
                block_size: block,
                full_groups: full,
                windowed_groups: sliding,
                window_blocks: layers.layer_blocks(u64::MAX / 2, block, 1).1,
                state_groups: 0,
                state_blocks: 0,
            },
        }
    }

    /// Attention beside linear-attention or state-space layers
    /// (`HybridAttentionMambaModelConfig`, `MambaSpec`): one layer's whole state is a
    /// page, the attention block grows (in steps of 16 tokens) until its page holds
    /// that, and the state is padded to it; attention and mixer layers form groups by
    /// the rule of [`LayerGroups::group_size`]; a request takes `ceil(len/block)` block
    /// ids per attention group and one per mixer group, or two under prefix caching's
    /// "align" mode (`align`), which also reports the pool in attention blocks.
    pub(super) fn hybrid(
        model: &Model,
        m: StateMixer,
        gpus: u64,
        kv_precision: Precision,
        (a, len): (u128, u64),
        align: bool,
    ) -> Pool {
        let arch = &model.arch;
        let per_token = cached_bytes(values_per_token_layer(model, gpus), kv_precision);
        let state = vllm_state_bytes(m, a, gpus);
        let block = BLOCK_ALIGNMENT * state.div_ceil(BLOCK_ALIGNMENT as u128 * per_token) as u64;
        let page = block as u128 * per_token;
        let (n_att, n_mix) = (arch.attention_layers, m.layers);
        let layers = LayerGroups {
            full: n_att,
            sliding: n_mix,
            window: 0,
            chunked: false,
        };
        let (att_groups, mix_groups) = layers.groups();
        let attention_blocks = (att_groups * len.div_ceil(block)) as u128;
        let state_blocks = if align { ALIGN_STATE_BLOCKS } else { 1 };
        Pool {
            block,
            // "GPU KV cache size" counts in the smaller of the attention block and the
            // state's "block": `max_model_len` tokens, or in align mode the attention
            // block (`mamba_block_size = block_size`).
            report_block: if align { block } else { block.min(len) },
            page,
            attention_page: page,
            indexer_page: 0,
            group_size: layers.group_size() as u128,
            groups: (att_groups + mix_groups) as u128,
            blocks_per_request: attention_blocks + (mix_groups * state_blocks) as u128,
            attention_blocks_per_request: attention_blocks,
            pages_per_request: n_att as u128 * len.div_ceil(block) as u128
                + (n_mix * state_blocks) as u128,
            table: BlockTable {
                block_size: block,
                full_groups: att_groups,
                windowed_groups: 0,
                window_blocks: 0,
                state_groups: mix_groups,
                state_blocks,
            },
        }
    }
}

/// One mixer layer's state on one of `gpus` GPUs as vLLM keeps it
/// (`MambaStateShapeCalculator`, `MambaStateDtypeCalculator`): the convolution's last
/// `K − 1` inputs in the model dtype (`a` bytes) over the GPU's channels (Mamba-2's
/// B/C groups replicated up to the GPU count when they do not divide), and the
/// recurrent state in the model dtype or fp32.
fn vllm_state_bytes(m: StateMixer, a: u128, gpus: u64) -> u128 {
    let extra_groups = if m.groups > 0 && !m.groups.is_multiple_of(gpus) {
        gpus.saturating_sub(m.groups)
    } else {
        0
    };
    let channels = (m.conv_channels + extra_groups * m.group_channels) / gpus;
    let conv = channels as u128 * m.conv_kernel.saturating_sub(1) as u128 * a;
    let recurrent = if m.vllm_state_fp32 { FP32_BYTES } else { a };
    let per_head = (m.recurrent_state / m.heads.max(1)) as u128;
    conv + (m.heads / gpus) as u128 * per_head * recurrent
}

/// The attention layers of a model as vLLM's KV-cache manager groups them: full
/// attention and sliding-window layers get separate block tables.
struct LayerGroups {
    full: u64,
    sliding: u64,
    window: u64,
    chunked: bool,
}

impl LayerGroups {
    fn of(model: &Model) -> LayerGroups {
        let arch = &model.arch;
        let window = arch.sliding_window.unwrap_or(0);
        let sliding = if window > 0 { arch.sliding_layers } else { 0 };
        LayerGroups {
            full: arch.attention_layers - sliding,
            sliding,
            window,
            chunked: arch.chunked_window,
        }
    }

    /// Layers per group: vLLM splits a hybrid model into groups of the smaller layer
    /// count (padding the last), or of the larger when the two are within 1.5x; a
    /// uniform model is one group of every layer.
    fn group_size(&self) -> u64 {
        let (small, large) = (self.full.min(self.sliding), self.full.max(self.sliding));
        // Uniform (small == 0), or within 1.5x: groups of the larger count.
        if small == 0 || 2 * large < 3 * small {
            large
        } else {
            small
        }
    }

    /// `(full-attention groups, sliding-window groups)`.
    fn groups(&self) -> (u64, u64) {
        let g = self.group_size();
        (self.full.div_ceil(g), self.sliding.div_ceil(g))
    }

    /// Blocks one layer needs for a request of `len` tokens (`max_memory_usage_bytes`
    /// of its spec over the page size): a full layer keeps every token, a sliding one
    /// its window plus the tokens of one step, and one block more; a chunked one
    /// (`ChunkedLocalAttentionSpec`) one chunk plus the tokens of one step.
    fn layer_blocks(&self, len: u64, block: u64, step_tokens: u64) -> (u64, u64) {
        let windowed = if self.chunked {
            len.min(self.window + step_tokens).div_ceil(block)
        } else {
            len.min(self.window.saturating_sub(1) + step_tokens)
                .div_ceil(block)
                + 1
        };
        (len.div_ceil(block), windowed)
    }

    /// Blocks a request needs, summed over groups: what "Maximum concurrency" divides
    /// the pool by.
    fn blocks_per_request(&self, len: u64, block: u64, step_tokens: u64) -> u64 {
        let (full, sliding) = self.groups();
        let (f, s) = self.layer_blocks(len, block, step_tokens);
        full * f + sliding * s
    }

    /// Pages a request needs, summed over layers: what vLLM checks against the pool
    /// before it starts (padding layers of a group hold nothing).
    fn pages_per_request(&self, len: u64, block: u64, step_tokens: u64) -> u128 {
        let (f, s) = self.layer_blocks(len, block, step_tokens);
        self.full as u128 * f as u128 + self.sliding as u128 * s as u128
    }
}
