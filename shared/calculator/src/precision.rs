//! Number formats: the precision of weights and caches, and named quantization formats.

use crate::choice::{choice, Choice};

choice!(
    /// The storage format of one value (a weight, a cache entry). Names are those used
    /// in responses; [`Choice::parse`] also takes the common aliases (`fp16`, `bf16`,
    /// `half`, `fp8`, `4bit`, `torch.bfloat16`, ...).
    Precision {
        /// IEEE binary32, 4 bytes.
        Float32 => "float32",
        /// IEEE binary16, 2 bytes.
        Float16 => "float16",
        /// bfloat16, 2 bytes.
        Bfloat16 => "bfloat16",
        /// 8-bit float (e4m3/e5m2), 1 byte.
        Float8 => "float8",
        /// 8-bit integer, 1 byte plus quantization scales.
        Int8 => "int8",
        /// 4-bit integer, half a byte plus quantization scales.
        Int4 => "int4",
    }
    aliases = Precision::from_alias
);

impl Precision {
    /// Bits per stored value, before any quantization scales.
    pub fn bits(self) -> u32 {
        match self {
            Precision::Float32 => 32,
            Precision::Float16 | Precision::Bfloat16 => 16,
            Precision::Float8 | Precision::Int8 => 8,
            Precision::Int4 => 4,
        }
    }

    /// True for formats that GPUs cannot compute in directly: the weights are
    /// dequantized to a 16-bit compute type on the fly.
    pub fn is_quantized(self) -> bool {
        matches!(self, Precision::Float8 | Precision::Int8 | Precision::Int4)
    }

    /// The common aliases (`fp16`, `bf16`, `half`, `fp8`, `4bit`, ...) and canonical
    /// names, case-insensitively, with or without `torch.`.
    fn from_alias(text: &str) -> Option<Precision> {
        let t = text.trim().to_ascii_lowercase();
        let t = t.strip_prefix("torch.").unwrap_or(&t);
        Some(match t {
            "float32" | "fp32" | "f32" | "float" | "full" => Precision::Float32,
            "float16" | "fp16" | "f16" | "half" => Precision::Float16,
            "bfloat16" | "bf16" => Precision::Bfloat16,
            "float8" | "fp8" | "f8" | "float8_e4m3fn" | "float8_e5m2" | "e4m3" | "e5m2" => {
                Precision::Float8
            }
            "int8" | "i8" | "8bit" | "8-bit" => Precision::Int8,
            "int4" | "i4" | "4bit" | "4-bit" | "nf4" | "fp4" => Precision::Int4,
            _ => return None,
        })
    }
}

choice!(
    /// A named quantized-checkpoint format whose storage differs from the generic one.
    /// [`Choice::parse`] also takes `bnb` and `float8`.
    Quantization {
        /// GPTQ (AutoGPTQ / optimum): packed integers, per-group fp16 scales and packed
        /// zero points, plus an int32 `g_idx` entry per input channel.
        Gptq => "gptq",
        /// AWQ (AutoAWQ): packed 4-bit integers, per-group fp16 scales and packed zeros.
        Awq => "awq",
        /// bitsandbytes: LLM.int8() with one fp32 scale per output row, or 4-bit
        /// NF4/FP4 with one fp32 absmax per block of 64 values.
        Bitsandbytes => "bitsandbytes",
        /// Fine-grained FP8 (DeepSeek-V3, Qwen3-FP8): e4m3 values with one fp32 scale
        /// per 128x128 weight block.
        Fp8 => "fp8",
        /// OCP MXFP4 (gpt-oss): 4-bit e2m1 values with one 8-bit power-of-two scale per
        /// 32; in MoE models only the routed experts, everything else in 16-bit.
        Mxfp4 => "mxfp4",
        /// NVIDIA NVFP4 (TensorRT Model Optimizer): 4-bit e2m1 values with one fp8 e4m3
        /// scale per 16 and two fp32 scales per matrix (weights, inputs); every decoder
        /// linear, the output projection and embeddings in 16-bit.
        Nvfp4 => "nvfp4",
    }
    aliases = Quantization::from_alias
);

impl Quantization {
    /// `bnb` for bitsandbytes, `float8` for fp8.
    fn from_alias(text: &str) -> Option<Quantization> {
        match text.trim().to_ascii_lowercase().as_str() {
            "bnb" => Some(Quantization::Bitsandbytes),
            "float8" => Some(Quantization::Fp8),
            _ => None,
        }
    }

    /// The precisions a checkpoint in this format can have.
    pub fn precisions(self) -> &'static [Precision] {
        match self {
            Quantization::Gptq => &[Precision::Int4, Precision::Int8],
            Quantization::Awq => &[Precision::Int4],
            Quantization::Bitsandbytes => &[Precision::Int4, Precision::Int8],
            Quantization::Fp8 => &[Precision::Float8],
            Quantization::Mxfp4 | Quantization::Nvfp4 => &[Precision::Int4],
        }
    }

    /// The precision assumed when a request names the format but no precision.
    pub fn default_precision(self) -> Precision {
        self.precisions()[0]
    }
}

/// Group size of group-wise integer quantization when a request does not set one
/// (the GPTQ and AWQ default).
pub const DEFAULT_GROUP_SIZE: u64 = 128;

/// Block edge of fine-grained FP8 checkpoints (`weight_block_size: [128, 128]`).
const FP8_BLOCK: u128 = 128;
/// Values per absmax block in bitsandbytes 4-bit quantization.
const BNB_4BIT_BLOCK: u128 = 64;
/// Second-level block of QLoRA's double quantization (8-bit absmax, fp32 per 256).
const DOUBLE_QUANT_BLOCK: u128 = 256;
/// Values sharing one 8-bit scale in MXFP4 (OCP Microscaling Formats spec v1.0).
const MX_BLOCK: u128 = 32;
/// Values sharing one fp8 e4m3 scale in NVFP4 (ModelOpt `group_size: 16`).
const NVFP4_BLOCK: u128 = 16;
/// Per-matrix fp32 scales of an NVFP4 linear: `weight_scale_2` and `input_scale`.
const NVFP4_MATRIX_SCALES_BITS: u128 = 2 * 32;

/// How the quantizable linear weights of a model are stored: everything a weight
/// storage formula needs, resolved from a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightFormat {
    /// Precision of the linear weights.
    pub precision: Precision,
    /// Named format, where its layout differs from the generic one.
    pub quantization: Option<Quantization>,
    /// Values that share one scale in group-wise integer formats.
    pub group_size: u64,
    /// QLoRA's NF4 with double-quantized constants (the QLoRA paper's setting).
    pub double_quant: bool,
}

/// One linear weight matrix shape, repeated `count` times in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixShape {
    /// Input features (columns of `W` in `y = x W^T`).
    pub rows_in: u64,
    /// Output features.
    pub cols_out: u64,
    /// How many matrices of this shape the model holds.
    pub count: u128,
}

impl MatrixShape {
    /// Weights in all matrices of this shape.
    pub fn elements(&self) -> u128 {
        self.rows_in as u128 * self.cols_out as u128 * self.count
    }
}

impl WeightFormat {
    /// Bits needed to store the given matrices, scales and indices included.
    ///
    /// Derivations (per matrix with `n_in` inputs, `n_out` outputs, `b` bits):
    /// * float formats: `b` per weight;
    /// * generic and AWQ integers: `b` per weight plus, per group of `g` inputs and per
    ///   output, a 16-bit scale and a `b`-bit zero point;
    /// * GPTQ: as above plus a 32-bit `g_idx` per input channel;
    /// * bitsandbytes int8: 8 per weight plus one fp32 scale per output row;
    /// * bitsandbytes 4-bit: 4 per weight plus one fp32 absmax per 64 weights, or with
    ///   double quantization an 8-bit absmax per 64 and an fp32 per 256 absmax values;
    /// * fine-grained FP8: 8 per weight plus one fp32 scale per 128x128 block;
    /// * MXFP4: 4 per weight plus an 8-bit scale per 32 inputs;
    /// * NVFP4: 4 per weight plus an 8-bit scale per 16 inputs and two fp32 scales per
    ///   matrix;
    /// * generic float8: 8 per weight plus one fp32 scale per matrix.
    pub fn matrix_bits<'a>(&self, shapes: impl IntoIterator<Item = &'a MatrixShape>) -> u128 {
        shapes.into_iter().map(|s| self.shape_bits(s)).sum()
    }

    fn shape_bits(&self, s: &MatrixShape) -> u128 {
        let n_in = s.rows_in as u128;
        let n_out = s.cols_out as u128;
        let per_matrix = n_in * n_out;
        let b = self.precision.bits() as u128;
        let extra_per_matrix = match (self.precision, self.quantization) {
            (Precision::Float32 | Precision::Float16 | Precision::Bfloat16, _) => 0,
            (Precision::Float8, Some(Quantization::Fp8)) => {
                n_in.div_ceil(FP8_BLOCK) * n_out.div_ceil(FP8_BLOCK) * 32
            }
            (Precision::Float8, _) => 32,
            (Precision::Int4, Some(Quantization::Bitsandbytes)) => {
                let blocks = per_matrix.div_ceil(BNB_4BIT_BLOCK);
                if self.double_quant {
                    blocks * 8 + blocks.div_ceil(DOUBLE_QUANT_BLOCK) * 32
                } else {
                    blocks * 32
                }
            }
            (Precision::Int8, Some(Quantization::Bitsandbytes)) => n_out * 32,
            (_, Some(Quantization::Mxfp4)) => n_in.div_ceil(MX_BLOCK) * n_out * 8,
            (_, Some(Quantization::Nvfp4)) => {
                n_in.div_ceil(NVFP4_BLOCK) * n_out * 8 + NVFP4_MATRIX_SCALES_BITS
            }
            (Precision::Int4 | Precision::Int8, q) => {
                let groups = n_in.div_ceil(self.group_size.max(1) as u128) * n_out;
                let g_idx = if q == Some(Quantization::Gptq) {
                    n_in * 32
                } else {
                    0
                };
                groups * (16 + b) + g_idx
            }
        };
        (per_matrix * b + extra_per_matrix) * s.count
    }

    /// Whether `group_size` applies: group-wise integer formats (generic, GPTQ, AWQ).
    pub fn uses_group_size(&self) -> bool {
        matches!(self.precision, Precision::Int4 | Precision::Int8)
            && !matches!(
                self.quantization,
                Some(Quantization::Bitsandbytes | Quantization::Mxfp4 | Quantization::Nvfp4)
            )
    }

    /// Human description of the layout, for responses.
    pub fn describe(&self) -> String {
        let p = self.precision;
        match (p, self.quantization) {
            (Precision::Float32 | Precision::Float16 | Precision::Bfloat16, _) => {
                format!("every weight in {}", p.name())
            }
            (Precision::Float8, Some(Quantization::Fp8)) => "linear weights in float8 e4m3 with an fp32 scale per 128x128 block; embeddings, lm_head, norms, biases and routers in 16-bit".into(),
            (Precision::Float8, _) => "linear weights in float8 with one fp32 scale per matrix; embeddings, lm_head, norms, biases and routers in 16-bit".into(),
            (Precision::Int4, Some(Quantization::Bitsandbytes)) if self.double_quant => "bitsandbytes NF4: linear weights in 4 bits, an 8-bit absmax per 64 weights and an fp32 constant per 256 absmax values (double quantization); other weights unquantized".into(),
            (Precision::Int4, Some(Quantization::Bitsandbytes)) => "bitsandbytes NF4/FP4: linear weights in 4 bits with an fp32 absmax per 64 weights; embeddings, lm_head, norms, biases and routers in 16-bit".into(),
            (Precision::Int8, Some(Quantization::Bitsandbytes)) => "bitsandbytes LLM.int8(): linear weights in int8 with an fp32 scale per output row; embeddings, lm_head, norms, biases and routers in 16-bit".into(),
            (_, Some(Quantization::Nvfp4)) => "NVFP4: linear weights in 4-bit e2m1 with an fp8 e4m3 scale per 16 values and two fp32 scales per matrix; embeddings, lm_head, norms, biases and routers in 16-bit".into(),
            (_, Some(Quantization::Mxfp4)) => "MXFP4: routed-expert weights (every linear weight in a dense model) in 4-bit e2m1 with an 8-bit scale per 32 values; attention, embeddings, lm_head, norms, biases and routers in 16-bit".into(),
            (_, q) => format!(
                "{}linear weights in {} bits with a 16-bit scale and a {}-bit zero point per group of {} inputs{}; embeddings, lm_head, norms, biases and routers in 16-bit",
                match q { Some(Quantization::Gptq) => "GPTQ: ", Some(Quantization::Awq) => "AWQ: ", _ => "" },
                p.bits(),
                p.bits(),
                self.group_size,
                if q == Some(Quantization::Gptq) { " and an int32 g_idx per input channel" } else { "" },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(n_in: u64, n_out: u64) -> [MatrixShape; 1] {
        [MatrixShape {
            rows_in: n_in,
            cols_out: n_out,
            count: 1,
        }]
    }

    #[test]
    fn parses_aliases() {
        assert_eq!(Precision::parse("BF16"), Some(Precision::Bfloat16));
        assert_eq!(Precision::parse("torch.float16"), Some(Precision::Float16));
        assert_eq!(Precision::parse("4bit"), Some(Precision::Int4));
        assert_eq!(Precision::parse("float64"), None);
        assert_eq!(Quantization::parse("BNB"), Some(Quantization::Bitsandbytes));
        assert_eq!(Quantization::parse("exl2"), None);
    }

    #[test]
    fn names_parse_back() {
        for &p in Precision::ALL {
            assert_eq!(Precision::parse(p.name()), Some(p));
        }
        for &q in Quantization::ALL {
            assert_eq!(Quantization::parse(q.name()), Some(q));
        }
        assert_eq!(
            Precision::names(),
            ["float32", "float16", "bfloat16", "float8", "int8", "int4"]
        );
        assert_eq!(
            Quantization::names(),
            ["gptq", "awq", "bitsandbytes", "fp8", "mxfp4", "nvfp4"]
        );
        assert_eq!(Precision::parse("fp32"), Some(Precision::Float32));
        assert_eq!(Precision::parse("float8_e4m3fn"), Some(Precision::Float8));
    }

    fn format(precision: Precision, quantization: Option<Quantization>) -> WeightFormat {
        WeightFormat {
            precision,
            quantization,
            group_size: 128,
            double_quant: false,
        }
    }

    #[test]
    fn group_size_applies_to_group_wise_integers_only() {
        use Precision::*;
        use Quantization::*;
        assert!(format(Int4, None).uses_group_size());
        assert!(format(Int8, Some(Gptq)).uses_group_size());
        assert!(format(Int4, Some(Awq)).uses_group_size());
        assert!(!format(Int4, Some(Bitsandbytes)).uses_group_size());
        assert!(!format(Int4, Some(Mxfp4)).uses_group_size());
        assert!(!format(Float8, Some(Fp8)).uses_group_size());
        assert!(!format(Bfloat16, None).uses_group_size());
    }

    #[test]
    fn descriptions_name_the_layout() {
        use Precision::*;
        use Quantization::*;
        assert_eq!(
            format(Bfloat16, None).describe(),
            "every weight in bfloat16"
        );
        assert!(format(Int4, Some(Gptq))
            .describe()
            .starts_with("GPTQ: linear weights in 4 bits"));
        assert!(format(Int4, Some(Gptq)).describe().contains("g_idx"));
        assert!(format(Int4, Some(Awq)).describe().starts_with("AWQ: "));
        assert!(format(Int8, None)
            .describe()
            .contains("group of 128 inputs"));
        let mut nf4 = format(Int4, Some(Bitsandbytes));
        assert!(nf4.describe().contains("fp32 absmax per 64"));
        nf4.double_quant = true;
        assert!(nf4.describe().contains("double quantization"));
        assert!(format(Int8, Some(Bitsandbytes))
            .describe()
            .contains("LLM.int8()"));
        assert!(format(Float8, Some(Fp8))
            .describe()
            .contains("128x128 block"));
        assert!(format(Float8, None)
            .describe()
            .contains("one fp32 scale per matrix"));
        assert!(format(Int4, Some(Mxfp4)).describe().starts_with("MXFP4"));
    }

    #[test]
    fn awq_stores_scales_and_zeros_per_group() {
        let f = WeightFormat {
            precision: Precision::Int4,
            quantization: Some(Quantization::Awq),
            group_size: 128,
            double_quant: false,
        };
        // 4096x4096: 4 bits each, 32 groups x 4096 outputs x (16 + 4) bits.
        assert_eq!(
            f.matrix_bits(&shape(4096, 4096)),
            4096 * 4096 * 4 + 32 * 4096 * 20
        );
    }

    #[test]
    fn gptq_adds_g_idx() {
        let f = WeightFormat {
            precision: Precision::Int4,
            quantization: Some(Quantization::Gptq),
            group_size: 128,
            double_quant: false,
        };
        assert_eq!(
            f.matrix_bits(&shape(4096, 1024)),
            4096 * 1024 * 4 + 32 * 1024 * 20 + 4096 * 32
        );
    }

    #[test]
    fn nf4_double_quant_matches_qlora_paper() {
        // QLoRA paper: 32/64 = 0.5 bits of constants per weight, 0.127 with double
        // quantization (8/64 + 32/(64*256)).
        let mut f = WeightFormat {
            precision: Precision::Int4,
            quantization: Some(Quantization::Bitsandbytes),
            group_size: 128,
            double_quant: false,
        };
        let n = 64 * 256 * 64;
        assert_eq!(
            f.matrix_bits(&shape(n, 1)),
            n as u128 * 4 + n as u128 / 64 * 32
        );
        f.double_quant = true;
        let bits = f.matrix_bits(&shape(n, 1));
        let per_weight = bits as f64 / n as f64 - 4.0;
        assert!((per_weight - 0.127).abs() < 0.001, "{per_weight}");
    }

    #[test]
    fn bitsandbytes_int8_keeps_a_scale_per_output_row() {
        let f = WeightFormat {
            precision: Precision::Int8,
            quantization: Some(Quantization::Bitsandbytes),
            group_size: 128,
            double_quant: false,
        };
        assert_eq!(
            f.matrix_bits(&shape(4096, 1024)),
            4096 * 1024 * 8 + 1024 * 32
        );
    }

    #[test]
    fn fp8_blocks_round_up() {
        let f = WeightFormat {
            precision: Precision::Float8,
            quantization: Some(Quantization::Fp8),
            group_size: 128,
            double_quant: false,
        };
        assert_eq!(f.matrix_bits(&shape(130, 128)), 130 * 128 * 8 + 2 * 32);
    }

    #[test]
    fn nvfp4_keeps_an_fp8_scale_per_16_and_two_fp32_per_matrix() {
        let f = format(Precision::Int4, Some(Quantization::Nvfp4));
        // 4 bits a weight, 8 per 16 inputs: 4.5 bits a weight, plus 64 per matrix.
        assert_eq!(
            f.matrix_bits(&shape(4096, 1024)),
            4096 * 1024 * 4 + 4096 / 16 * 1024 * 8 + 64
        );
        assert_eq!(f.matrix_bits(&shape(17, 1)), 17 * 4 + 2 * 8 + 64);
        assert!(!f.uses_group_size());
        assert!(f.describe().starts_with("NVFP4"));
    }
}
