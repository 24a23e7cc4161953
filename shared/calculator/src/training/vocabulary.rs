//! The words of a training request: fine-tuning methods, LoRA targets, optimizers and
//! frameworks, with their canonical names and the spellings accepted for them, and
//! the framework defaults a request falls back to.

use crate::choice::choice;
use crate::linear::LinearKind;

choice!(
    /// How PyTorch runs Adam and AdamW, which decides the step's temporaries.
    OptimizerImplementation {
        /// One fused kernel (`fused=True`; `adamw_torch_fused`, transformers' default
        /// from torch 2.8; DeepSpeed's FusedAdam): no temporaries.
        Fused => "fused",
        /// Multi-tensor (`foreach=True`; torch's default when neither is given,
        /// `adamw_torch`): one state-sized temporary list.
        Foreach => "foreach",
        /// One tensor at a time (`foreach=False`): temporaries of the largest tensor.
        Forloop => "forloop",
    }
);

choice!(
    /// How the cross-entropy loss is computed over the vocabulary.
    Loss {
        /// The logits of every position upcast to fp32 (transformers'
        /// `ForCausalLMLoss`).
        Standard => "standard",
        /// Cross-entropy in the compute dtype (older model code, e.g. Qwen v1).
        NoUpcast => "no_upcast",
        /// Upcast and cross-entropy one chunk of positions at a time (torchtune's
        /// `CEWithChunkedOutputLoss`); `loss_chunks` chunks.
        Chunked => "chunked",
        /// Fused linear cross-entropy (Liger Kernel, Cut Cross-Entropy): the logits of
        /// all positions never exist at once.
        Fused => "fused",
    }
);

impl OptimizerImplementation {
    /// The default: transformers' `adamw_torch_fused` (from torch 2.8) and DeepSpeed's
    /// FusedAdam both run the fused kernel.
    pub const DEFAULT: OptimizerImplementation = OptimizerImplementation::Fused;
}

choice!(
    /// How the model is fine-tuned.
    Method {
        /// Every weight (or `trainable_parameters` percent of them) is trained.
        Full => "full",
        /// Low-rank adapters on a frozen 16-bit base.
        Lora => "lora",
        /// Low-rank adapters on a frozen 4-bit NF4 base (QLoRA).
        Qlora => "qlora",
        /// The last layers are trained, the rest frozen.
        Freeze => "freeze",
    }
);

impl Method {
    /// Whether the method trains adapters (parameter-efficient) or model weights.
    pub fn is_peft(self) -> bool {
        matches!(self, Method::Lora | Method::Qlora)
    }
}

choice!(
    /// Which linear layers LoRA adapts. [`Choice::parse`](crate::Choice::parse) also takes `attn` and
    /// `all` (and `all-linear`, PEFT's spelling).
    LoraTarget {
        /// Every linear layer of the decoder blocks (PEFT's `all-linear`).
        AllLinear => "all_linear",
        /// Query, key, value and output projections.
        Attention => "attention",
        /// PEFT's default for the model's `model_type` (what `LoraConfig` adapts when
        /// `target_modules` is not given: q and v for Llama).
        PeftDefault => "peft_default",
    }
    aliases = LoraTarget::from_alias
);

impl LoraTarget {
    /// Whether this target adapts matrices of `kind`; `None` when that depends on the
    /// model's module names (PEFT's default targets).
    pub fn adapts_kind(self, kind: LinearKind) -> Option<bool> {
        match self {
            LoraTarget::AllLinear => Some(true),
            LoraTarget::Attention => Some(kind == LinearKind::Attention),
            LoraTarget::PeftDefault => None,
        }
    }

    /// `attn` and `all`.
    fn from_alias(text: &str) -> Option<LoraTarget> {
        match text.trim().to_ascii_lowercase().as_str() {
            "attn" => Some(LoraTarget::Attention),
            "all" => Some(LoraTarget::AllLinear),
            _ => None,
        }
    }
}

choice!(
    /// The optimizer, which decides the state kept per trainable parameter.
    /// [`Choice::parse`](crate::Choice::parse) is case-insensitive with spaces, dashes and underscores
    /// interchangeable, and takes Hugging Face's `optim` names (`adamw_torch_fused`,
    /// `adamw_8bit`, ...) and `AdamW 8-bit`.
    Optimizer {
        /// AdamW: first and second moments.
        AdamW => "AdamW",
        /// Adam: first and second moments.
        Adam => "Adam",
        /// 8-bit AdamW (bitsandbytes): moments in 8 bits with block-wise fp32 scales.
        QuantizedAdamW => "Quantized AdamW",
        /// SGD with a momentum buffer.
        Sgd => "SGD",
        /// Plain SGD: no state.
        SgdNoMomentum => "SGD without momentum",
        /// Adafactor: factored second moment, no first moment.
        Adafactor => "Adafactor",
        /// Lion: one momentum buffer.
        Lion => "Lion",
    }
    aliases = Optimizer::from_alias
);

impl Optimizer {
    /// Every spelling [`Optimizer::parse_with_implementation`] reads.
    fn from_alias(text: &str) -> Option<Optimizer> {
        Optimizer::parse_with_implementation(text).map(|(o, _)| o)
    }

    /// `Optimizer::parse` ([`crate::Choice::parse`]), with the implementation a Hugging Face `optim` name
    /// implies: `adamw_torch_fused` and `adamw_apex_fused` run a fused kernel,
    /// `adamw_torch` torch's default for CUDA parameters (foreach).
    pub fn parse_with_implementation(
        text: &str,
    ) -> Option<(Optimizer, Option<OptimizerImplementation>)> {
        let key: String = text
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_' | '(' | ')'))
            .collect();
        let implied = match key.as_str() {
            "adamwtorchfused" | "adamwapexfused" => Some(OptimizerImplementation::Fused),
            "adamwtorch" => Some(OptimizerImplementation::Foreach),
            _ => None,
        };
        Some((Optimizer::from_key(&key)?, implied))
    }

    fn from_key(key: &str) -> Option<Optimizer> {
        Some(match key {
            "adamw" | "adamwtorch" | "adamwtorchfused" | "adamwapexfused" => Optimizer::AdamW,
            "adam" => Optimizer::Adam,
            "quantizedadamw" | "adamw8bit" | "adamwbnb8bit" | "8bitadamw" | "pagedadamw8bit" => {
                Optimizer::QuantizedAdamW
            }
            "sgd" | "sgdmomentum" | "sgdwithmomentum" => Optimizer::Sgd,
            "sgdwithoutmomentum" | "sgdnomomentum" | "plainsgd" => Optimizer::SgdNoMomentum,
            "adafactor" => Optimizer::Adafactor,
            "lion" => Optimizer::Lion,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::Choice;

    #[test]
    fn every_name_parses_back() {
        for &m in Method::ALL {
            assert_eq!(Method::parse(&m.name().to_uppercase()), Some(m));
        }
        for &t in LoraTarget::ALL {
            assert_eq!(LoraTarget::parse(t.name()), Some(t));
        }
        for &o in Optimizer::ALL {
            assert_eq!(Optimizer::parse(o.name()), Some(o));
        }
        let names: Vec<&str> = Optimizer::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(
            names,
            [
                "AdamW",
                "Adam",
                "Quantized AdamW",
                "SGD",
                "SGD without momentum",
                "Adafactor",
                "Lion"
            ]
        );
        assert_eq!(
            LoraTarget::names(),
            ["all_linear", "attention", "peft_default"]
        );
    }

    #[test]
    fn common_spellings() {
        assert_eq!(LoraTarget::parse("all-linear"), Some(LoraTarget::AllLinear));
        assert_eq!(LoraTarget::parse("attn"), Some(LoraTarget::Attention));
        assert_eq!(LoraTarget::parse("mlp"), None);
        for (text, want) in [
            ("adamw_torch_fused", Optimizer::AdamW),
            ("AdamW 8-bit", Optimizer::QuantizedAdamW),
            ("paged_adamw_8bit", Optimizer::QuantizedAdamW),
            ("sgd with momentum", Optimizer::Sgd),
            ("plain SGD", Optimizer::SgdNoMomentum),
        ] {
            assert_eq!(Optimizer::parse(text), Some(want), "{text}");
        }
        assert_eq!(Optimizer::parse("rmsprop"), None);
        for (text, want) in [
            ("adamw_torch_fused", Some(OptimizerImplementation::Fused)),
            ("adamw_apex_fused", Some(OptimizerImplementation::Fused)),
            ("adamw_torch", Some(OptimizerImplementation::Foreach)),
            ("AdamW", None),
        ] {
            assert_eq!(
                Optimizer::parse_with_implementation(text),
                Some((Optimizer::AdamW, want)),
                "{text}"
            );
        }
        assert!(Method::Qlora.is_peft() && !Method::Freeze.is_peft());
    }
}

choice!(
    /// The software that runs the training loop, which decides the memory layout.
    Framework {
        /// Hugging Face Trainer / accelerate without DeepSpeed or FSDP: one replica per
        /// GPU (PyTorch DDP) and torch autocast for mixed precision.
        Transformers => "transformers",
        /// DeepSpeed ZeRO stages 0-3 (`zero_stage`), its bf16/fp16 optimizer wrapper.
        Deepspeed => "deepspeed",
        /// PyTorch FSDP (`fsdp_sharding`) with a mixed-precision policy.
        Fsdp => "fsdp",
    }
);

impl FsdpSharding {
    /// FSDP's own default (`ShardingStrategy.FULL_SHARD`).
    pub const DEFAULT: FsdpSharding = FsdpSharding::FullShard;
}

choice!(
    /// FSDP's sharding strategy.
    FsdpSharding {
        /// Weights, gradients and optimizer state sharded over every GPU.
        FullShard => "full_shard",
        /// Full sharding within a node (`gpus_per_node`), replicas across nodes.
        HybridShard => "hybrid_shard",
        /// Gradients and optimizer state sharded; weights stay gathered from forward
        /// to backward (ZeRO-2-like).
        ShardGradOp => "shard_grad_op",
        /// Nothing sharded (DDP-like).
        NoShard => "no_shard",
    }
);

choice!(
    /// Where state is moved off the GPU.
    Offload {
        /// Kept on the GPU.
        None => "none",
        /// Host (CPU) memory, pinned.
        Cpu => "cpu",
        /// NVMe, through pinned host buffers (DeepSpeed ZeRO-Infinity).
        Nvme => "nvme",
    }
);

/// GPUs per node unless a request says: eight, as in the GPU instances training runs
/// on (p4d, p5, p6, and most HGX servers).
pub const DEFAULT_GPUS_PER_NODE: u64 = 8;

/// DeepSpeed's default `reduce_bucket_size`, in elements
/// (microsoft/DeepSpeed@38327e07f6cd39b63418f60cedd1651b0be3e7c3 `deepspeed/runtime/zero/config.py`, `DeepSpeedZeroConfig`; DeepSpeed's
/// configuration docs).
pub const DEEPSPEED_BUCKET_ELEMENTS: u64 = 500_000_000;
/// DeepSpeed's default `sub_group_size` in elements: ZeRO-3 steps the optimizer over
/// sub-groups of at most this many parameters, one at a time.
pub const DEEPSPEED_SUB_GROUP_ELEMENTS: u64 = 1_000_000_000;

/// DeepSpeed's bucket settings (the `zero_optimization` section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeepspeedSettings {
    /// `reduce_bucket_size`, elements.
    pub reduce_bucket_size: u64,
    /// `overlap_comm`; `None` is DeepSpeed's default (true for stage 3, else false).
    pub overlap_comm: Option<bool>,
    /// `sub_group_size`, elements (ZeRO-3).
    pub sub_group_size: u64,
}

impl Default for DeepspeedSettings {
    fn default() -> DeepspeedSettings {
        DeepspeedSettings {
            reduce_bucket_size: DEEPSPEED_BUCKET_ELEMENTS,
            overlap_comm: None,
            sub_group_size: DEEPSPEED_SUB_GROUP_ELEMENTS,
        }
    }
}

impl DeepspeedSettings {
    /// `overlap_comm` as DeepSpeed resolves it for `stage`.
    pub fn overlap(self, stage: u8) -> bool {
        self.overlap_comm.unwrap_or(stage == 3)
    }
}
