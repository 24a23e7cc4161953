//! Warnings: what an answer assumed, ignored or could not count, each with a stable
//! code a program can match and a sentence a person reads.
//!
//! The code never changes once published; the sentence may be reworded. A leaf of the
//! crate: it imports only the [`choice`](crate::choice) macro.

use std::fmt;

use crate::choice::choice;

choice!(
    /// What a warning is about. The name is the stable code the API reports beside the
    /// sentence (`warning_codes`).
    WarningCode {
        // Reading a config or a name.
        /// A `model_type` no reader knows, read as a llama-style decoder.
        UnknownModelType => "unknown_model_type",
        /// A config without `model_type`, read as a llama-style decoder.
        MissingModelType => "missing_model_type",
        /// A config key one edit away from a key the readers look for.
        ConfigKeyTypo => "config_key_typo",
        /// Only the language model of a multimodal wrapper is counted.
        VisionTowerNotCounted => "vision_tower_not_counted",
        /// A `torch_dtype` that is not a 16- or 32-bit float.
        UnsupportedTorchDtype => "unsupported_torch_dtype",
        /// A model name read as a registry model it is a variant of.
        NameReadAsVariant => "name_read_as_variant",
        /// A model name read as a registry model in a published quantized layout.
        NameReadAsCheckpoint => "name_read_as_checkpoint",
        /// `head_dim` not given and `hidden_size` not a multiple of the heads: the
        /// floor, as transformers builds the model.
        HeadDimFloored => "head_dim_floored",
        /// A training plan's `search` chose the candidate's DeepSpeed setting.
        TrainingSettingSearched => "training_setting_searched",
        // Explicit fields and `model_size`.
        /// `vocab_size` not given: a default assumed.
        VocabSizeAssumed => "vocab_size_assumed",
        /// `intermediate_size` not given: inferred from `model_size`.
        IntermediateSizeInferred => "intermediate_size_inferred",
        /// `intermediate_size` not given: 4 × `hidden_size` assumed.
        IntermediateSizeAssumed => "intermediate_size_assumed",
        /// `model_size` replaces the count derived from the architecture.
        ModelSizeOverride => "model_size_override",
        /// `model_size` is below the embeddings the shape implies.
        ModelSizeBelowEmbeddings => "model_size_below_embeddings",
        // A published checkpoint's `quantization_config`.
        /// A `quant_method` with no matching format.
        CheckpointMethodUnknown => "checkpoint_method_unknown",
        /// A bit width or scheme of a known method with no matching format.
        CheckpointFormatUnsupported => "checkpoint_format_unsupported",
        /// A block or scale layout sized as the nearest one modelled.
        CheckpointLayoutApproximated => "checkpoint_layout_approximated",
        /// Module names of an exclusion list not read or not recognised.
        CheckpointModulesNotRead => "checkpoint_modules_not_read",
        /// The layout of a checkpoint taken from its name's pattern.
        CheckpointLayoutFromName => "checkpoint_layout_from_name",
        /// Weights sized in the published checkpoint's format.
        CheckpointFormatUsed => "checkpoint_format_used",
        /// Weights sized as the request asks, not as the checkpoint stores them.
        CheckpointFormatOverridden => "checkpoint_format_overridden",
        /// Training loads a quantized checkpoint in its compute dtype.
        CheckpointLoadedForTraining => "checkpoint_loaded_for_training",
        /// `group_size` given for a format without groups.
        GroupSizeIgnored => "group_size_ignored",
        /// fp8 checkpoints of tied models store `lm_head` on its own.
        Fp8UntiedLmHead => "fp8_untied_lm_head",
        // Serving.
        /// More tokens than the model's `max_position_embeddings`.
        ExceedsMaxPositions => "exceeds_max_position_embeddings",
        /// Fewer key/value heads than GPUs: heads are replicated.
        KvHeadsReplicated => "kv_heads_replicated",
        /// A setting of the transformers engine that vLLM ignores.
        VllmIgnoresSetting => "vllm_ignores_setting",
        /// vLLM's default batch limits, as applied.
        VllmBatchDefaults => "vllm_batch_defaults",
        /// vLLM would refuse to start.
        VllmWouldNotStart => "vllm_would_not_start",
        /// More requests than the KV pool holds: the rest queue.
        VllmQueues => "vllm_queues",
        /// Too little memory outside vLLM's budget for the context and CUDA graphs.
        VllmHeadroomShort => "vllm_headroom_short",
        /// State that MTP speculative decoding adds to hybrids, not counted.
        VllmMtpStateNotCounted => "vllm_mtp_state_not_counted",
        // Training.
        /// Mixer activations derived from kernel source, not measured.
        MixerActivationsDerived => "mixer_activations_derived",
        /// `trainable_parameters` with method full: gradients flow through every layer.
        PartialFullTraining => "partial_full_training",
        /// `trainable_parameters` ignored for adapter methods.
        TrainableParametersIgnored => "trainable_parameters_ignored",
        /// A LoRA list names some of the projections the calculator sizes as one group
        /// (a mixer's input projections): the adapters of all of them are counted.
        LoraModulesGrouped => "lora_modules_grouped",
        /// `optimizer_implementation` for an optimizer it does not apply to.
        OptimizerImplementationIgnored => "optimizer_implementation_ignored",
        /// DeepSpeed settings without effect at the chosen stage.
        DeepspeedSettingIgnored => "deepspeed_setting_ignored",
        /// A Hub repository's files that were not read (headers behind another host,
        /// too many shards, no safetensors weights).
        HubFilesNotRead => "hub_files_not_read",
        /// A Hub checkpoint's safetensors headers (or the Hub's count of them) hold
        /// another weight count than its config.json gives.
        HubParametersDiffer => "hub_parameters_differ",
        /// A Hub checkpoint stores quantized values (FP8, packed integers) but its
        /// config.json states no `quantization_config`: sized unquantized.
        HubQuantizationUnstated => "hub_quantization_unstated",
        /// FSDP or ZeRO over one GPU: nothing is sharded.
        NothingSharded => "nothing_sharded",
        /// `loss` `no_upcast` under torch autocast, which runs the cross-entropy in fp32.
        LossUpcastByAutocast => "loss_upcast_by_autocast",
        /// Data parallelism without sharding: every GPU holds a full copy.
        FullReplicas => "full_replicas",
        /// FSDP offloads parameters, gradients and the optimizer step together.
        FsdpOffloadTogether => "fsdp_offload_together",
        // Plans.
        /// The GPU runs the weights through a weight-only kernel or in float16.
        KernelFallback => "kernel_fallback",
        /// An accelerator whose serving stack is not vLLM on CUDA.
        OtherServingStack => "other_serving_stack",
        /// The GPU has no bfloat16 tensor cores for training.
        NoBfloat16TensorCores => "no_bfloat16_tensor_cores",
        /// A defaulted `max_num_seqs` raised to what a replica must hold.
        MaxNumSeqsRaised => "max_num_seqs_raised",
        /// A tensor-parallel degree skipped because vLLM's weight kernels refuse it.
        TensorParallelRefused => "tensor_parallel_refused",
        /// A GPU named short (`H100`) read as the catalog's GPU it means.
        GpuNameAssumed => "gpu_name_assumed",
        /// Several instances joined over EFA, priced as that many.
        NodesJoined => "nodes_joined",
        // Serving performance.
        /// A hardware figure the catalog lacks, taken from a slower stand-in.
        PerformanceFigureAssumed => "performance_figure_assumed",
        /// No published runs on this GPU: its efficiency factors are the fitted GPUs'
        /// median, and the expected error is the larger one.
        PerformanceUncalibratedGpu => "performance_uncalibrated_gpu",
        /// More concurrent requests than the KV pool (or `max_num_seqs`) holds: the
        /// rest queue for a slot.
        PerformanceQueued => "performance_queued",
        /// Requests arrive faster than the replica completes them: the queue grows.
        PerformanceOverloaded => "performance_overloaded",
        /// Expert parallelism's all-to-all is modelled from the link, without a
        /// published run to check it against.
        ExpertParallelUnvalidated => "expert_parallel_unvalidated",
        /// `enforce_eager`: latencies are those of CUDA graphs, which the run lacks.
        PerformanceEagerNotModelled => "performance_eager_not_modelled",
        /// The replica kept preempting past the simulation's bound: the figures come
        /// from the requests that finished within it.
        PerformanceSimulationCut => "performance_simulation_cut",
    }
);

/// One warning: its stable code and the sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Warning {
    /// What it is about (stable).
    pub code: WarningCode,
    /// What happened, in words (may be reworded between versions).
    pub message: String,
}

impl Warning {
    /// A warning of `code` saying `message`.
    pub fn new(code: WarningCode, message: impl Into<String>) -> Warning {
        Warning {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::Choice;

    #[test]
    fn codes_are_unique_snake_case() {
        let names = WarningCode::names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a code is used twice");
        for n in names {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{n}"
            );
        }
    }
}
