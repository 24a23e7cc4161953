//! A model ready for calculation: its architecture plus what is derived from it once
//! (linear matrix shapes, parameter counts).

use serde_json::Value;

use crate::architecture::{Architecture, FeedForward, LinearGroup};
use crate::checkpoint::ModuleScope;
use crate::config::parse_config;
use crate::error::CalcError;
use crate::limits;
use crate::linear::LinearKind;
use crate::parameters::{layer_parameters, parameter_counts, ParameterCounts};
use crate::precision::{MatrixShape, Precision, Quantization, WeightFormat};
use crate::warning::{Warning, WarningCode};

/// A model: architecture, derived counts, and the assumptions made in reading it.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Canonical registry name, when the model came from the registry.
    pub name: Option<String>,
    /// The architecture.
    pub arch: Architecture,
    /// Linear weight matrices of the decoder layers.
    pub linears: Vec<LinearGroup>,
    /// Parameter counts the weights are computed from. Equal to the architecture's own
    /// count unless an explicit `model_size` overrides the total.
    pub params: ParameterCounts,
    /// Assumptions made while reading the model, for the response's `warnings`.
    pub warnings: Vec<Warning>,
}

/// The explicit-field form of a model (the old service's request fields).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExplicitModel {
    /// Parameter count in billions; when given, weights are computed from it.
    pub model_size_billions: Option<f64>,
    /// Residual width.
    pub hidden_size: u64,
    /// Decoder layers.
    pub num_hidden_layers: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads (defaults to `num_attention_heads`).
    pub num_key_value_heads: Option<u64>,
    /// Head dimension (defaults to `hidden_size / num_attention_heads`).
    pub head_dim: Option<u64>,
    /// MLP width (derived from `model_size` when absent).
    pub intermediate_size: Option<u64>,
    /// Vocabulary (defaults to 32,000, Llama 2's).
    pub vocab_size: Option<u64>,
}

impl ExplicitModel {
    /// Checks every field against its limit; errors name the field.
    fn check_ranges(&self) -> Result<(), CalcError> {
        limits::HIDDEN_SIZE.check(self.hidden_size)?;
        limits::NUM_HIDDEN_LAYERS.check(self.num_hidden_layers)?;
        limits::NUM_ATTENTION_HEADS.check(self.num_attention_heads)?;
        let optional = [
            (limits::NUM_KEY_VALUE_HEADS, self.num_key_value_heads),
            (limits::HEAD_DIM, self.head_dim),
            (limits::INTERMEDIATE_SIZE, self.intermediate_size),
            (limits::VOCAB_SIZE, self.vocab_size),
        ];
        for (range, value) in optional {
            if let Some(v) = value {
                range.check(v)?;
            }
        }
        Ok(())
    }
}

/// The weights' dtype when a config states no `torch_dtype` (and for explicit fields):
/// bfloat16, the dtype current open models ship in (every dated registry model does).
pub const UNSTATED_DTYPE: Precision = Precision::Bfloat16;

/// Vocabulary assumed for explicit fields without `vocab_size` (Llama 1/2, Mistral 7B).
const DEFAULT_VOCAB: u64 = 32_000;

impl Model {
    /// Derives shapes and counts from an architecture.
    pub fn from_architecture(arch: Architecture, warnings: Vec<Warning>) -> Model {
        let linears = arch.linear_groups();
        let params = parameter_counts(&arch, &linears);
        Model {
            name: None,
            arch,
            linears,
            params,
            warnings,
        }
    }

    /// Reads a Hugging Face `config.json` object; errors name `config.<key>`.
    pub fn from_config(config: &Value) -> Result<Model, CalcError> {
        let parsed = parse_config(config, "config")?;
        Model::from_architecture(parsed.architecture, parsed.warnings).within_limits("config")
    }

    /// Refuses a model of more than [`limits::MAX_PARAMETERS`] (its own count, and the
    /// `model_size` its weights are computed from), naming `field`.
    fn within_limits(self, field: &str) -> Result<Model, CalcError> {
        let own: u128 = self
            .linears
            .iter()
            .map(|g| g.shape.elements())
            .sum::<u128>()
            .max(self.params.total);
        if own > limits::MAX_PARAMETERS {
            return Err(CalcError::field(
                field,
                format!(
                    "describes a model of {own} parameters; the limit is 2^54 ({}), whose weights alone fill {} even at 4 bits",
                    limits::MAX_PARAMETERS,
                    limits::LARGEST_REPORTABLE
                ),
            ));
        }
        Ok(self)
    }

    /// Builds a llama-style model from explicit fields. Where `model_size` is given it
    /// is the parameter count the weights are computed from; the architecture fields
    /// size the KV cache and activations.
    pub fn from_explicit(e: &ExplicitModel) -> Result<Model, CalcError> {
        e.check_ranges()?;
        let mut warnings = Vec::new();
        let heads = e.num_attention_heads;
        let head_dim = match e.head_dim {
            Some(d) => d,
            None if e.hidden_size.is_multiple_of(heads) => e.hidden_size / heads,
            None => {
                return Err(CalcError::field(
                    "head_dim",
                    "is required when hidden_size is not a multiple of num_attention_heads",
                ))
            }
        };
        let kv_heads = e.num_key_value_heads.unwrap_or(heads);
        if kv_heads > heads || !heads.is_multiple_of(kv_heads) {
            return Err(CalcError::field(
                "num_key_value_heads",
                format!("must divide num_attention_heads ({heads})"),
            ));
        }
        let vocab = e.vocab_size.unwrap_or_else(|| {
            warnings.push(Warning::new(
                WarningCode::VocabSizeAssumed,
                format!("vocab_size not given; {DEFAULT_VOCAB} assumed (it sizes the logits)"),
            ));
            DEFAULT_VOCAB
        });
        let total_override = e.model_size_billions.map(model_size_params).transpose()?;
        let mut arch = Architecture::llama_like(
            "llama",
            "llama",
            e.hidden_size,
            e.num_hidden_layers,
            heads,
            head_dim,
            vocab,
        );
        arch.num_kv_heads = kv_heads;
        arch.intermediate_size = match e.intermediate_size {
            Some(i) => i,
            None => intermediate_for(&arch, total_override, &mut warnings),
        };
        let mut model = Model::from_architecture(arch, warnings).within_limits("hidden_size")?;
        if let Some(total) = total_override {
            model.override_total(total);
        }
        Ok(model)
    }

    /// Computes the weights from `model_size` (billions of parameters) instead of the
    /// architecture's own count, as the explicit-field form does; the architecture still
    /// sizes the KV cache and activations.
    pub fn with_model_size(mut self, billions: f64) -> Result<Model, CalcError> {
        let total = model_size_params(billions)?;
        let derived = self.params.total;
        self.override_total(total);
        self.warnings.push(Warning::new(WarningCode::ModelSizeOverride, format!(
            "model_size overrides the {derived} parameters derived from the architecture; weights are computed from {total}"
        )));
        Ok(self)
    }

    /// Replaces the parameter total (explicit `model_size`), keeping the architecture's
    /// embedding and non-linear parameters and attributing the rest to linear weights.
    fn override_total(&mut self, total: u128) {
        let arch = self.params;
        let non_linear = arch.total - arch.linear;
        let embedding = arch.embedding.min(total);
        let layers = self.arch.num_layers.max(1) as u128;
        let per_layer = (total - embedding) / layers;
        self.params = ParameterCounts {
            total,
            embedding,
            non_embedding: total - embedding,
            active: total,
            linear: total.saturating_sub(non_linear),
            dense_layer: per_layer,
            moe_layer: 0,
            embedding_matrix: arch.embedding_matrix.min(total),
        };
        if total < arch.embedding {
            self.warnings.push(Warning::new(WarningCode::ModelSizeBelowEmbeddings, format!(
                "model_size ({total} parameters) is smaller than the embeddings implied by vocab_size x hidden_size ({})",
                arch.embedding
            )));
        }
    }

    /// The model with the multi-token-prediction layers its checkpoint stores loaded, as
    /// vLLM loads them for MTP speculative decoding: each is one more decoder layer
    /// with full attention and the feed-forward of the last layer (experts in the MoE
    /// families), plus a fusion projection from the hidden state and the next token's
    /// embedding (`2h -> h`) and three norms. The embedding and `lm_head` are the main
    /// model's. An error naming `load_mtp` when the checkpoint stores none.
    pub fn with_mtp_layers(&self) -> Result<Model, CalcError> {
        let n = self.arch.mtp_layers;
        if n == 0 {
            return Err(CalcError::field(
                "load_mtp",
                "the model stores no multi-token-prediction layers the calculator reads (num_nextn_predict_layers of DeepSeek, GLM and Qwen3-Next, mtp_num_hidden_layers of Qwen3.5)",
            ));
        }
        if !self.counts_from_architecture() {
            return Err(CalcError::field(
                "load_mtp",
                "cannot be combined with model_size, which replaces the architecture's count",
            ));
        }
        let mut arch = self.arch.clone();
        let h = arch.hidden_size as u128;
        let last_is_moe = arch.moe_layer_mask.last().copied().unwrap_or(false);
        arch.num_layers += n;
        arch.attention_layers += n;
        if let Some(moe) = arch.moe.as_mut().filter(|_| last_is_moe) {
            moe.moe_layers += n;
        }
        if arch.moe.is_some() {
            arch.moe_layer_mask
                .extend(std::iter::repeat_n(last_is_moe, n as usize));
        }
        if arch.mixer.is_some() {
            arch.mixer_layer_mask
                .extend(std::iter::repeat_n(false, n as usize));
        }
        if !arch.attention_layer_mask.is_empty() {
            arch.attention_layer_mask
                .extend(std::iter::repeat_n(true, n as usize));
        }
        arch.mtp_fusion_params += n as u128 * (2 * h * h + 3 * h);
        arch.mtp_layers = 0;
        let mut model =
            Model::from_architecture(arch, self.warnings.clone()).within_limits("load_mtp")?;
        model.name = self.name.clone();
        Ok(model)
    }

    /// Whether the parameter counts are the architecture's own (no `model_size`
    /// override).
    pub(crate) fn counts_from_architecture(&self) -> bool {
        self.params.total == parameter_counts(&self.arch, &self.linears).total
    }

    /// Parameters of each decoder layer, first to last: what its blocks hold, or under a
    /// `model_size` override the override's even share per layer.
    pub fn layer_parameters(&self) -> Vec<u128> {
        if self.counts_from_architecture() {
            layer_parameters(&self.arch, &self.linears)
        } else {
            vec![self.params.dense_layer; self.arch.num_layers as usize]
        }
    }

    /// Precision of the published weights (`torch_dtype`), [`UNSTATED_DTYPE`] when the
    /// config states none.
    pub fn default_precision(&self) -> Precision {
        self.arch.torch_dtype.unwrap_or(UNSTATED_DTYPE)
    }

    /// Bits of the linear weights a format quantizes, and how many weights that is,
    /// scaled to an overridden parameter total. MXFP4 quantizes only the routed experts
    /// of an MoE model; every other format all decoder linears but those `unquantized`
    /// keeps in 16-bit.
    pub(crate) fn quantized_linears(
        &self,
        format: &WeightFormat,
        unquantized: &[ModuleScope],
    ) -> (u128, u128) {
        let experts_only =
            format.quantization == Some(Quantization::Mxfp4) && self.arch.moe.is_some();
        let shapes: Vec<MatrixShape> = self
            .linears
            .iter()
            .filter(|g| !experts_only || g.kind == LinearKind::Expert)
            .map(|g| MatrixShape {
                count: g.shape.count - self.unquantized_count(g, unquantized),
                ..g.shape
            })
            .collect();
        let arch_linear: u128 = self.linears.iter().map(|g| g.shape.elements()).sum();
        let weights: u128 = shapes.iter().map(MatrixShape::elements).sum();
        let bits = format.matrix_bits(&shapes);
        // Scale by linear / arch_linear (1 unless model_size overrides the total), split
        // so that no product can overflow.
        let linear = self.params.linear;
        // A model always has linears; max(1) only keeps the division total.
        let arch_linear = arch_linear.max(1);
        let scale = |x: u128| x / arch_linear * linear + (x % arch_linear) * linear / arch_linear;
        (scale(bits), scale(weights))
    }

    /// How many matrices of a group the scopes keep unquantized: a group holds the same
    /// number of matrices in every layer that has its kind.
    fn unquantized_count(&self, group: &LinearGroup, scopes: &[ModuleScope]) -> u128 {
        let kind = group.kind;
        let mine = || scopes.iter().filter(|s| s.kind == kind);
        if mine().next().is_none() {
            return 0;
        }
        let arch = &self.arch;
        let holds = |layer: u64| {
            let m = arch.layer(layer);
            match kind {
                LinearKind::Attention => m.attention,
                LinearKind::Mixer => m.mixer,
                LinearKind::Mlp => m.feed_forward == FeedForward::Dense,
                LinearKind::Expert | LinearKind::SharedExpert => {
                    m.feed_forward == FeedForward::Experts
                }
            }
        };
        let holders = (0..arch.num_layers).filter(|l| holds(*l)).count() as u128;
        if mine().any(|s| s.layer.is_none()) {
            return group.shape.count;
        }
        // Layer indices past the decoder (a checkpoint's MTP layer, `model.layers.61` of
        // DeepSeek-V3's 61) name no decoder weights.
        let mut layers: Vec<u64> = mine()
            .filter_map(|s| s.layer)
            .filter(|l| *l < arch.num_layers && holds(*l))
            .collect();
        layers.sort_unstable();
        layers.dedup();
        let per_layer = group.shape.count.checked_div(holders).unwrap_or(0);
        (per_layer * layers.len() as u128).min(group.shape.count)
    }
}

/// Validates `model_size` (billions) and converts it to a parameter count.
fn model_size_params(billions: f64) -> Result<u128, CalcError> {
    if billions.is_finite() && billions > 0.0 && billions <= limits::MAX_MODEL_SIZE_BILLIONS {
        // At most 1e14: exact in f64, and at least 1 after rounding up.
        Ok(((billions * 1e9).round() as u128).max(1))
    } else {
        Err(CalcError::field(
            "model_size",
            format!(
                "must be a number of billions of parameters above 0 and at most {}",
                limits::MAX_MODEL_SIZE_BILLIONS
            ),
        ))
    }
}

/// Solves the llama parameter formula for the MLP width:
/// `total = 2 V h + L (attn + 2h + 3 h I) + h`.
fn infer_intermediate(arch: &Architecture, total: u128) -> Option<u64> {
    let h = arch.hidden_size as u128;
    let l = arch.num_layers as u128;
    let attn = h * (arch.q_dim() as u128 + 2 * arch.kv_dim() as u128) + arch.q_dim() as u128 * h;
    let fixed = 2 * arch.vocab_size as u128 * h + h + l * (attn + 2 * h);
    let rest = total.checked_sub(fixed)?;
    let i = rest / (3 * h * l);
    (1..=limits::MAX_INTERMEDIATE as u128)
        .contains(&i)
        .then_some(i as u64)
}

/// The MLP width when explicit fields do not give it: solved from `model_size` where
/// that has a solution, else `4 x hidden_size` (both warned).
fn intermediate_for(arch: &Architecture, total: Option<u128>, warnings: &mut Vec<Warning>) -> u64 {
    match total.and_then(|t| infer_intermediate(arch, t)) {
        Some(i) => {
            warnings.push(Warning::new(WarningCode::IntermediateSizeInferred, format!(
                "intermediate_size not given; {i} inferred from model_size for a llama-style layout (it sizes activations)"
            )));
            i
        }
        None => default_intermediate(arch, warnings),
    }
}

fn default_intermediate(arch: &Architecture, warnings: &mut Vec<Warning>) -> u64 {
    let i = (4 * arch.hidden_size).min(limits::MAX_INTERMEDIATE);
    warnings.push(Warning::new(
        WarningCode::IntermediateSizeAssumed,
        format!(
            "intermediate_size not given; 4 x hidden_size = {i} assumed (it sizes activations)"
        ),
    ));
    i
}
