//! The words of a training request: fine-tuning methods, LoRA targets and optimizers,
//! with their canonical names and the spellings accepted for them.

use crate::choice::choice;

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

/// How the model is fine-tuned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Every weight (or `trainable_parameters` percent of them) is trained.
    Full,
    /// Low-rank adapters on a frozen 16-bit base.
    Lora,
    /// Low-rank adapters on a frozen 4-bit NF4 base (QLoRA).
    Qlora,
    /// The last layers are trained, the rest frozen.
    Freeze,
}

impl Method {
    /// Every method, in the order the API lists them.
    pub const ALL: [Method; 4] = [Method::Full, Method::Lora, Method::Qlora, Method::Freeze];

    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Full => "full",
            Method::Lora => "lora",
            Method::Qlora => "qlora",
            Method::Freeze => "freeze",
        }
    }

    /// Case-insensitive parse.
    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether the method trains adapters (parameter-efficient) or model weights.
    pub fn is_peft(self) -> bool {
        matches!(self, Method::Lora | Method::Qlora)
    }
}

/// Which linear layers LoRA adapts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoraTarget {
    /// Query, key, value and output projections.
    Attention,
    /// Every linear layer of the decoder blocks (PEFT's `all-linear`).
    AllLinear,
}

impl LoraTarget {
    /// Both targets, in the order the API lists them.
    pub const ALL: [LoraTarget; 2] = [LoraTarget::AllLinear, LoraTarget::Attention];

    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            LoraTarget::Attention => "attention",
            LoraTarget::AllLinear => "all_linear",
        }
    }

    /// Whether this target adapts matrices of `kind`.
    pub fn adapts(self, kind: crate::architecture::LinearKind) -> bool {
        self == LoraTarget::AllLinear || kind == crate::architecture::LinearKind::Attention
    }

    /// Case-insensitive parse (`all-linear` accepted).
    pub fn parse(text: &str) -> Option<LoraTarget> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "attention" | "attn" => Some(LoraTarget::Attention),
            "all_linear" | "all" => Some(LoraTarget::AllLinear),
            _ => None,
        }
    }
}

/// The optimizer, which decides the state kept per trainable parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Optimizer {
    /// AdamW: first and second moments.
    AdamW,
    /// Adam: first and second moments.
    Adam,
    /// 8-bit AdamW (bitsandbytes): moments in 8 bits with block-wise fp32 scales.
    QuantizedAdamW,
    /// SGD with a momentum buffer.
    Sgd,
    /// Plain SGD: no state.
    SgdNoMomentum,
    /// Adafactor: factored second moment, no first moment.
    Adafactor,
    /// Lion: one momentum buffer.
    Lion,
}

impl Optimizer {
    /// Every optimizer, in the order the API lists them.
    pub const ALL: [Optimizer; 7] = [
        Optimizer::AdamW,
        Optimizer::Adam,
        Optimizer::QuantizedAdamW,
        Optimizer::Sgd,
        Optimizer::SgdNoMomentum,
        Optimizer::Adafactor,
        Optimizer::Lion,
    ];

    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::AdamW => "AdamW",
            Optimizer::Adam => "Adam",
            Optimizer::QuantizedAdamW => "Quantized AdamW",
            Optimizer::Sgd => "SGD",
            Optimizer::SgdNoMomentum => "SGD without momentum",
            Optimizer::Adafactor => "Adafactor",
            Optimizer::Lion => "Lion",
        }
    }

    /// Case-insensitive parse; spaces, dashes and underscores are interchangeable, and
    /// `AdamW 8-bit` (and `adamw_8bit`, `adamw_bnb_8bit`) mean the quantized AdamW.
    pub fn parse(text: &str) -> Option<Optimizer> {
        Optimizer::parse_with_implementation(text).map(|(o, _)| o)
    }

    /// [`Optimizer::parse`], with the implementation a Hugging Face `optim` name
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

    #[test]
    fn every_name_parses_back() {
        for m in Method::ALL {
            assert_eq!(Method::parse(&m.name().to_uppercase()), Some(m));
        }
        for t in LoraTarget::ALL {
            assert_eq!(LoraTarget::parse(t.name()), Some(t));
        }
        for o in Optimizer::ALL {
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
            LoraTarget::ALL.map(LoraTarget::name),
            ["all_linear", "attention"]
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
