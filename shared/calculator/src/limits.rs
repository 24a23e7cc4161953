//! Upper bounds on inputs and results. With the field limits below and models of at
//! most [`MAX_PARAMETERS`], every intermediate product of the memory model stays below
//! 2^110 (the largest: Adafactor's factored state scaled by the trained share,
//! at most 2^54 · 2^54; eager attention scores, 2^20 · 2^16 · 2^48 · 8 = 2^87), so `u128`
//! arithmetic cannot overflow (the property tests run with overflow checks on). A
//! result above [`MAX_REPORTED_BYTES`] is refused with `CalcError::TooLarge` or, when
//! the weights alone exceed it, `CalcError::WeightsTooLarge`.
//!
//! The request fields' ranges are stated here once, as [`FieldRange`]s (integers),
//! [`FractionRange`]s and [`NumberRange`]s (decimals), each with the one message that
//! says a value is out of range: the calculator's checks, the HTTP parser, the field
//! table of `/api/config/options` and the OpenAPI document, and the README's tables
//! (tests compare them) all read them from here. So do the limits on what one request
//! may hold (bodies, lists, plans), which are not fields of the model.
//!
//! A leaf of the crate: it imports nothing from it. A failed check is a
//! [`RangeError`], which `CalcError` converts from.

use std::fmt;

/// Largest batch size (sequences per GPU).
pub const MAX_BATCH_SIZE: u64 = 1 << 20;
/// Largest prompt / training sequence length in tokens.
pub const MAX_SEQUENCE_LENGTH: u64 = 1 << 24;
/// Largest number of generated tokens.
pub const MAX_NEW_TOKENS: u64 = 1 << 24;
/// Largest GPU count of one request (`num_gpus`, `gpus_per_node`).
pub const MAX_NUM_GPUS: u64 = 1 << 16;
/// Largest hidden size / embedding width.
pub const MAX_HIDDEN: u64 = 1 << 20;
/// Largest number of decoder layers.
pub const MAX_LAYERS: u64 = 1 << 14;
/// Largest number of attention (or key/value) heads.
pub const MAX_HEADS: u64 = 1 << 16;
/// Largest head dimension (also MLA ranks).
pub const MAX_HEAD_DIM: u64 = 1 << 16;
/// Largest vocabulary.
pub const MAX_VOCAB: u64 = 1 << 24;
/// Largest MLP width.
pub const MAX_INTERMEDIATE: u64 = 1 << 24;
/// Largest number of experts.
pub const MAX_EXPERTS: u64 = 1 << 16;
/// Largest learned position table / sliding window.
pub const MAX_POSITIONS: u64 = 1 << 26;
/// Largest LoRA rank.
pub const MAX_LORA_RANK: u64 = 1 << 16;
/// Largest quantization group size.
pub const MAX_GROUP_SIZE: u64 = 1 << 20;
/// Largest `model_size`, in billions of parameters (100 trillion parameters).
pub const MAX_MODEL_SIZE_BILLIONS: f64 = 100_000.0;

/// Largest byte count an answer reports: 2^53 bytes (9 PB), the largest integer a
/// JSON number holds exactly in JavaScript (`Number.MAX_SAFE_INTEGER + 1`).
pub const MAX_REPORTED_BYTES: u64 = 1 << 53;

/// [`MAX_REPORTED_BYTES`] as said in errors.
pub const LARGEST_REPORTABLE: &str = "9.0 petabytes (2^53 bytes)";

/// Largest model, in parameters: 2^54, whose weights fill [`MAX_REPORTED_BYTES`] even
/// at 4 bits. A config that describes more is refused when it is read.
pub const MAX_PARAMETERS: u128 = 1 << 54;

/// Longest model name looked up (a Hugging Face repo id is at most 96 characters);
/// longer names are unknown without a near-name search.
pub const MAX_MODEL_NAME_CHARS: usize = 256;

/// Longest piece of a caller's text an answer repeats (names, keys, values); longer
/// text is cut, and never searched for a near name.
pub const ECHO_CHARS: usize = 64;

/// Longest piece of a request's JSON value an error repeats (`got "xxx..."`).
pub const ECHO_VALUE_CHARS: usize = 40;

/// Most registry names an unknown model's answer suggests.
pub const MAX_SUGGESTIONS: usize = 3;

/// Longest config key compared with the keys the readers look for, for typo warnings
/// (the comparison is linear in the length; no key the readers know is longer).
pub const MAX_TYPO_KEY_CHARS: usize = 64;

/// Largest patch, merge or channel count of a vision tower read: far above any
/// tower's, and small enough that no product of the shapes can overflow.
pub const MAX_VISION_SMALL: u64 = 1 << 10;

/// Longest date, region or source text of a price list (`prices.json`).
pub const MAX_PRICE_TEXT_CHARS: usize = 64;

/// Most module names a checkpoint's exclusion lists are read for (`ignore`,
/// `modules_to_not_convert`, ...); published checkpoints list a few dozen.
pub const MAX_MODULE_NAMES: usize = 1024;

/// Most notes about module names the calculator does not recognise.
pub const MAX_MODULE_NOTES: usize = 8;

/// Most keys of one `config` object (a Hugging Face config has 30 to 100).
pub const MAX_CONFIG_KEYS: usize = 512;

/// The inclusive range of an integer request field, with the field's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRange {
    /// The field as requests spell it.
    pub field: &'static str,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
}

/// A value outside its field's range: the field and what is wrong, as the API says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeError {
    /// The field as requests spell it.
    pub field: &'static str,
    /// What is allowed, and what was given.
    pub message: String,
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl FieldRange {
    /// `Ok` when `min <= value <= max`; else an error naming the field and the range.
    pub fn check(&self, value: u64) -> Result<(), RangeError> {
        if self.contains(value) {
            Ok(())
        } else {
            Err(self.error(value))
        }
    }

    /// Whether `min <= value <= max`.
    pub fn contains(&self, value: u64) -> bool {
        (self.min..=self.max).contains(&value)
    }

    /// The error for a value outside the range, `got` as the caller shows it.
    pub fn error(&self, got: impl fmt::Display) -> RangeError {
        RangeError {
            field: self.field,
            message: format!(
                "must be an integer from {} to {}, got {got}",
                self.min, self.max
            ),
        }
    }

    /// The message for a missing required value: `is required: an integer from 1 to N`.
    pub fn required(&self) -> RangeError {
        RangeError {
            field: self.field,
            message: format!("is required: an integer from {} to {}", self.min, self.max),
        }
    }
}

const fn range(field: &'static str, min: u64, max: u64) -> FieldRange {
    FieldRange { field, min, max }
}

/// Sequences per GPU.
pub const BATCH_SIZE: FieldRange = range("batch_size", 1, MAX_BATCH_SIZE);
/// Prompt (inference) or training tokens per sequence.
pub const SEQUENCE_LENGTH: FieldRange = range("sequence_length", 1, MAX_SEQUENCE_LENGTH);
/// Generated tokens per sequence.
pub const MAX_NEW_TOKENS_RANGE: FieldRange = range("max_new_tokens", 0, MAX_NEW_TOKENS);
/// GPUs (tensor-parallel for inference, data-parallel for training).
pub const NUM_GPUS: FieldRange = range("num_gpus", 1, MAX_NUM_GPUS);
/// `data_parallel_size`: vLLM engine ranks; with `num_gpus` at most [`MAX_NUM_GPUS`]
/// GPUs in all.
pub const DATA_PARALLEL_SIZE: FieldRange = range("data_parallel_size", 1, MAX_NUM_GPUS);
/// `pipeline_parallel_size`: pipeline stages (and at most the model's layers, checked
/// with the model). Each stage is sized on its own, a model slice and a start-up, so
/// the count bounds a request's work; 256 is far past any deployment (a stage a node).
pub const PIPELINE_PARALLEL_SIZE: FieldRange = range("pipeline_parallel_size", 1, 256);
/// LoRA rank.
pub const LORA_RANK: FieldRange = range("lora_rank", 1, MAX_LORA_RANK);
/// Micro-batches per optimizer step: the count decides only whether gradients persist
/// between micro-batches, so it bounds no work; 65,536 is past any recipe.
pub const GRADIENT_ACCUMULATION_STEPS: FieldRange = range("gradient_accumulation_steps", 1, 65_536);
/// Module names in a `lora_target` list: a model has a few dozen distinct linear
/// module names at most; 64 bounds the matching work.
pub const LORA_MODULES: FieldRange = range("lora_target", 1, 64);
/// Values sharing one scale in group-wise integer formats.
pub const GROUP_SIZE: FieldRange = range("group_size", 1, MAX_GROUP_SIZE);
/// DeepSpeed ZeRO stage.
pub const ZERO_STAGE: FieldRange = range("zero_stage", 0, 3);
/// GPUs per node (hybrid sharding's group, host memory's node).
pub const GPUS_PER_NODE: FieldRange = range("gpus_per_node", 1, MAX_NUM_GPUS);
/// Largest DeepSpeed bucket or sub-group, in elements (2^40, a thousand times the
/// largest default).
pub const MAX_BUCKET_ELEMENTS: u64 = 1 << 40;
/// DeepSpeed's `reduce_bucket_size`, elements.
pub const REDUCE_BUCKET_SIZE: FieldRange = range("reduce_bucket_size", 1, MAX_BUCKET_ELEMENTS);
/// DeepSpeed's `sub_group_size`, elements.
pub const SUB_GROUP_SIZE: FieldRange = range("sub_group_size", 1, MAX_BUCKET_ELEMENTS);
/// Chunks of the chunked loss (at most one per token of the longest sequence).
pub const LOSS_CHUNKS: FieldRange = range("loss_chunks", 1, MAX_SEQUENCE_LENGTH);
/// Explicit-field architecture values.
pub const HIDDEN_SIZE: FieldRange = range("hidden_size", 1, MAX_HIDDEN);
/// Decoder layers.
pub const NUM_HIDDEN_LAYERS: FieldRange = range("num_hidden_layers", 1, MAX_LAYERS);
/// Query heads.
pub const NUM_ATTENTION_HEADS: FieldRange = range("num_attention_heads", 1, MAX_HEADS);
/// Key/value heads.
pub const NUM_KEY_VALUE_HEADS: FieldRange = range("num_key_value_heads", 1, MAX_HEADS);
/// Head dimension.
pub const HEAD_DIM: FieldRange = range("head_dim", 1, MAX_HEAD_DIM);
/// MLP width.
pub const INTERMEDIATE_SIZE: FieldRange = range("intermediate_size", 1, MAX_INTERMEDIATE);
/// Vocabulary.
pub const VOCAB_SIZE: FieldRange = range("vocab_size", 1, MAX_VOCAB);

/// Largest memory of one GPU, in bytes (16 TiB, a hundred times today's largest).
pub const MAX_GPU_MEMORY: u64 = 1 << 44;
/// Memory of one GPU in bytes (vLLM's `total_memory`), from 1 MiB.
pub const GPU_MEMORY: FieldRange = range("gpu_memory", 1 << 20, MAX_GPU_MEMORY);
/// Largest vLLM step, in tokens (the longest sequence).
pub const MAX_NUM_BATCHED_TOKENS: FieldRange =
    range("max_num_batched_tokens", 1, MAX_SEQUENCE_LENGTH);
/// Largest number of sequences per vLLM step (the largest batch).
pub const MAX_NUM_SEQS: FieldRange = range("max_num_seqs", 1, MAX_BATCH_SIZE);

/// A range of decimal values a request field accepts: what lies inside, and the
/// error that names the field and the range for what does not.
pub trait DecimalRange {
    /// Whether `value` is accepted.
    fn contains(&self, value: f64) -> bool;

    /// The error for a value outside the range, `got` as the caller shows it.
    fn error(&self, got: &dyn fmt::Display) -> RangeError;

    /// `Ok` when the range holds `value`; else its error.
    fn check(&self, value: f64) -> Result<(), RangeError> {
        if self.contains(value) {
            Ok(())
        } else {
            Err(self.error(&value))
        }
    }
}

/// The range of a decimal request field that excludes its lower bound and includes its
/// upper one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FractionRange {
    /// The field as requests spell it.
    pub field: &'static str,
    /// Values must exceed this.
    pub above: f64,
    /// Largest accepted value.
    pub max: f64,
}

impl DecimalRange for FractionRange {
    /// Whether `above < value <= max`.
    fn contains(&self, value: f64) -> bool {
        value > self.above && value <= self.max
    }

    fn error(&self, got: &dyn fmt::Display) -> RangeError {
        RangeError {
            field: self.field,
            message: format!(
                "must be a number above {} and at most {}, got {got}",
                self.above, self.max
            ),
        }
    }
}

/// The inclusive range of a decimal request field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NumberRange {
    /// The field as requests spell it.
    pub field: &'static str,
    /// Smallest accepted value.
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
}

impl DecimalRange for NumberRange {
    /// Whether `value` is finite and `min <= value <= max`.
    fn contains(&self, value: f64) -> bool {
        value.is_finite() && (self.min..=self.max).contains(&value)
    }

    fn error(&self, got: &dyn fmt::Display) -> RangeError {
        RangeError {
            field: self.field,
            message: format!(
                "must be a number from {} to {}, got {got}",
                self.min, self.max
            ),
        }
    }
}

/// vLLM's share of GPU memory: above 0, at most 1 (`CacheConfig`'s own bounds).
pub const GPU_MEMORY_UTILIZATION: FractionRange = FractionRange {
    field: "gpu_memory_utilization",
    above: 0.0,
    max: 1.0,
};

/// `lora_dropout`: a probability, from 0 to 1.
pub const LORA_DROPOUT: NumberRange = NumberRange {
    field: "lora_dropout",
    min: 0.0,
    max: 1.0,
};

/// `model_size`: billions of parameters, from 0 to [`MAX_MODEL_SIZE_BILLIONS`] (0 is
/// refused when the model is sized).
pub const MODEL_SIZE: NumberRange = NumberRange {
    field: "model_size",
    min: 0.0,
    max: MAX_MODEL_SIZE_BILLIONS,
};

/// Largest `gpu_memory_gib`: [`MAX_GPU_MEMORY`] in GiB.
pub const MAX_GPU_MEMORY_GIB: f64 = (MAX_GPU_MEMORY >> 30) as f64;

/// `gpu_memory_gib` (and a custom GPU's `memory_gib`): a GPU's total memory in GiB, up
/// to [`MAX_GPU_MEMORY_GIB`]; below 1 MiB is refused when converted to bytes.
pub const GPU_MEMORY_GIB: NumberRange = NumberRange {
    field: "gpu_memory_gib",
    min: 0.0,
    max: MAX_GPU_MEMORY_GIB,
};

/// Largest `trainable_parameters`, a percentage.
pub const MAX_TRAINABLE_PERCENT: f64 = 100.0;

/// `trainable_parameters`: a percentage above 0 (training nothing is no training) and
/// at most [`MAX_TRAINABLE_PERCENT`].
pub const TRAINABLE_PARAMETERS: FractionRange = FractionRange {
    field: "trainable_parameters",
    above: 0.0,
    max: MAX_TRAINABLE_PERCENT,
};

/// Checks the fields every workload has: sequences, tokens per sequence, GPUs.
pub fn check_workload(
    batch_size: u64,
    sequence_length: u64,
    num_gpus: u64,
) -> Result<(), RangeError> {
    BATCH_SIZE.check(batch_size)?;
    SEQUENCE_LENGTH.check(sequence_length)?;
    NUM_GPUS.check(num_gpus)
}

// Serving performance (`/api/performance` and a plan's traffic).

/// Longest mean prompt or output of a traffic: a million tokens, above every context
/// window of the registry (vLLM then refuses what its pool cannot hold).
pub const MAX_TRAFFIC_TOKENS: u64 = 1 << 20;

/// Mean prompt tokens of a traffic.
pub const INPUT_TOKENS: FieldRange = range("input_tokens", 1, MAX_TRAFFIC_TOKENS);

/// Mean output tokens of a traffic.
pub const OUTPUT_TOKENS: FieldRange = range("output_tokens", 1, MAX_TRAFFIC_TOKENS);

/// Concurrent clients of a traffic: a million users (a plan spreads them over
/// instances; one replica simulates at most the planner's `MAX_SIMULATED_CLIENTS` and
/// counts the rest as queued).
pub const CONCURRENCY: FieldRange = range("concurrency", 1, 1 << 20);

/// Requests per second of a traffic: above 10⁻⁵ (about one a day: a slower trickle is
/// an idle replica, and arrivals spaced past what the simulation's clock counts would
/// never come), at most a million.
pub const REQUESTS_PER_SECOND: FractionRange = FractionRange {
    field: "requests_per_second",
    above: 1e-5,
    max: 1e6,
};

/// A plan's latency target: above 0, at most an hour (ms).
pub const LATENCY_TARGET_MS: f64 = 3_600_000.0;

/// `ttft_ms`, a plan's time-to-first-token target.
pub const TTFT_MS: FractionRange = FractionRange {
    field: "ttft_ms",
    above: 0.0,
    max: LATENCY_TARGET_MS,
};

/// `tpot_ms`, a plan's time-per-output-token target.
pub const TPOT_MS: FractionRange = FractionRange {
    field: "tpot_ms",
    above: 0.0,
    max: LATENCY_TARGET_MS,
};

// Plans (`/api/plan` and the scheduled cost planner).

/// Most GPUs one plan candidate may have (`max_gpus`): the largest instance has 16
/// chips, and a request's own GPUs are tried up to 8.
pub const MAX_CANDIDATE_GPUS: u64 = 1024;

/// `max_gpus` of a plan.
pub const PLAN_MAX_GPUS: FieldRange = range("max_gpus", 1, MAX_CANDIDATE_GPUS);

/// Concurrent requests a plan may ask one candidate to hold (`concurrent_sequences`):
/// at most a batch's bound, since one replica may have to hold them all and is sized as
/// a batch of them.
pub const CONCURRENT_SEQUENCES: FieldRange = range("concurrent_sequences", 1, MAX_BATCH_SIZE);

/// Most GPU names, instance types, custom GPUs or prices one plan request may list.
pub const MAX_LISTED: usize = 64;

/// Longest custom GPU name.
pub const MAX_GPU_NAME_CHARS: usize = 64;

/// Largest price, USD per hour: far above any instance sold (the dearest in the
/// catalog is about 114), low enough that no monthly sum can overflow.
pub const MAX_USD_PER_HOUR: f64 = 1e6;

/// A custom GPU's `memory_gib`: as [`GPU_MEMORY_GIB`].
pub const CUSTOM_GPU_MEMORY_GIB: NumberRange = NumberRange {
    field: "memory_gib",
    ..GPU_MEMORY_GIB
};

/// A custom GPU's `usd_per_hour`.
pub const USD_PER_HOUR: NumberRange = NumberRange {
    field: "usd_per_hour",
    min: 0.0,
    max: MAX_USD_PER_HOUR,
};

/// `usd_per_gpu_hour` of `/api/performance`: a price per GPU and hour.
pub const USD_PER_GPU_HOUR: NumberRange = NumberRange {
    field: "usd_per_gpu_hour",
    min: 0.0,
    max: MAX_USD_PER_HOUR,
};

/// A custom GPU's `bandwidth_gbps`: up to a million GB/s, a hundred times any HBM.
pub const BANDWIDTH_GBPS: NumberRange = NumberRange {
    field: "bandwidth_gbps",
    min: 0.0,
    max: 1e6,
};

/// Most workloads one scheduled plan document may hold (as many as
/// [`MAX_COMPARE_CONFIGURATIONS`]).
pub const MAX_WORKLOADS: usize = MAX_COMPARE_CONFIGURATIONS;

/// Longest plan or workload name of a scheduled plan document.
pub const MAX_PLAN_NAME_CHARS: usize = 64;

/// Largest `prices.json` the cost planner reads, in bytes (the embedded catalog's
/// prices take 3 KiB).
pub const MAX_PRICES_BYTES: u64 = 1 << 20;

// Request bodies.

/// Largest accepted request body: 256 KiB (a `config.json` is a few KiB; 50 compare
/// configurations with pasted configs fit comfortably).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Most configurations one `/api/memory/compare` request may hold.
pub const MAX_COMPARE_CONFIGURATIONS: usize = 50;

/// Every integer request field's range, in the order the API documents them.
pub const REQUEST_FIELDS: [FieldRange; 20] = [
    BATCH_SIZE,
    SEQUENCE_LENGTH,
    MAX_NEW_TOKENS_RANGE,
    NUM_GPUS,
    LORA_RANK,
    GROUP_SIZE,
    ZERO_STAGE,
    GPUS_PER_NODE,
    REDUCE_BUCKET_SIZE,
    SUB_GROUP_SIZE,
    LOSS_CHUNKS,
    HIDDEN_SIZE,
    NUM_HIDDEN_LAYERS,
    NUM_ATTENTION_HEADS,
    NUM_KEY_VALUE_HEADS,
    HEAD_DIM,
    INTERMEDIATE_SIZE,
    VOCAB_SIZE,
    MAX_NUM_BATCHED_TOKENS,
    MAX_NUM_SEQS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_reportable_is_2_to_the_53_bytes() {
        assert_eq!(
            format!(
                "{:.1} petabytes (2^53 bytes)",
                MAX_REPORTED_BYTES as f64 / 1e15
            ),
            LARGEST_REPORTABLE
        );
        // Exactly representable as an f64, as JavaScript numbers are.
        assert_eq!(MAX_REPORTED_BYTES as f64 as u64, MAX_REPORTED_BYTES);
        assert_eq!(MAX_PARAMETERS / 2, MAX_REPORTED_BYTES as u128);
    }

    #[test]
    fn ranges_check_both_ends() {
        assert!(BATCH_SIZE.check(1).is_ok() && BATCH_SIZE.check(MAX_BATCH_SIZE).is_ok());
        for bad in [0, MAX_BATCH_SIZE + 1] {
            let err = BATCH_SIZE.check(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("batch_size: must be an integer from 1 to {MAX_BATCH_SIZE}, got {bad}")
            );
        }
        assert!(ZERO_STAGE.check(0).is_ok() && ZERO_STAGE.check(4).is_err());
    }
}
