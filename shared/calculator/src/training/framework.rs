//! Training frameworks and what each keeps per GPU: where the weights, gradients,
//! master weights and optimizer state live (GPU, host or NVMe), how they are sharded,
//! and the transient buffers of the framework itself (`docs/methodology.md` §7.4).

use super::optimizer::GradientLayout;
use super::vocabulary::{DeepspeedSettings, Framework, FsdpSharding, Offload};
use crate::runtime::FP32_BYTES;

/// DeepSpeed's `offload_optimizer.buffer_count` default: pinned host buffers for
/// swapping optimizer state with NVMe, "at least the number of states maintained per
/// parameter by the optimizer" (4 for Adam: parameter, gradient and two moments).
const NVME_OPTIMIZER_BUFFERS: u128 = 4;
/// DeepSpeed's `offload_param.buffer_count` and `buffer_size` defaults: 5 pinned host
/// buffers of 1e8 elements for swapping 16-bit weights with NVMe.
const NVME_PARAMETER_BUFFERS: u128 = 5;
const NVME_PARAMETER_BUFFER_ELEMENTS: u128 = 100_000_000;

/// Bytes of an element of DeepSpeed's gradient buckets: the 16-bit gradients it
/// reduces.
const BUCKET_VALUE_BYTES: u128 = 2;
/// Units FSDP holds gathered at once under full and hybrid sharding: the one being
/// computed and the next one, prefetched (`BackwardPrefetch.BACKWARD_PRE`, the
/// default).
const FSDP_GATHERED_UNITS: u128 = 2;

/// What one GPU holds of the trained state, with the host and NVMe bytes offload
/// moves there (for this GPU's share), all in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The model's weights in their storage, with adapters and gathered layers.
    pub weights: u128,
    /// torch autocast's 16-bit copies of the trained weights (kept for backward).
    pub autocast_copies: u128,
    /// Gradients (16-bit and fp32), with gathered and unsharded working gradients.
    pub gradients: u128,
    /// The framework's communication buffers kept from step to step (DDP's gradient
    /// buckets, ZeRO-3's flat reduce bucket).
    pub comm_buffers: u128,
    /// Buffers that exist only during backward: ZeRO 1-2's reduce buckets, which
    /// `backward()` allocates and its epilogue releases.
    pub backward_buffers: u128,
    /// The part of `gradients` kept from step to step: ZeRO-3's flat buffer of
    /// gradient partitions, allocated once on the GPU (0 when the optimizer is
    /// offloaded; every other stack frees its gradients at `zero_grad`).
    pub resident_gradients: u128,
    /// The first gradients backward makes beside the activations: the output layer's,
    /// unsharded (a sharding framework reduces them after they are whole), when it
    /// trains.
    pub first_gradients: u128,
    /// What those first gradients add when gradients accumulate over micro-batches:
    /// nothing where each parameter's gradient accumulates in place (DDP, ZeRO 0-1,
    /// unsharded FSDP); the whole unsharded gradient where a sharding framework
    /// reduces each micro-batch's into its partition.
    pub first_gradients_accumulating: u128,
    /// fp32 master weights.
    pub master: u128,
    /// Optimizer states.
    pub states: u128,
    /// Optimizer step temporaries.
    pub workspace: u128,
    /// Host memory this GPU's offloaded state takes, with pinned buffers.
    pub host: u128,
    /// NVMe bytes this GPU's offloaded state takes.
    pub nvme: u128,
}

/// The inputs of [`place`], resolved from the request and the model; bytes unless a
/// name says elements.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StateInputs {
    pub framework: Framework,
    pub layout: GradientLayout,
    /// The frozen base of LoRA and QLoRA in its storage, bytes; `None` for full and
    /// freeze, whose untrained weights are stored like the trained ones.
    pub peft_base: Option<u128>,
    /// Parameters of the model (without adapters).
    pub model_elements: u128,
    /// Trainable elements.
    pub trainable: u128,
    /// Trainable elements in linear layers: what torch autocast casts and caches.
    pub cast_elements: u128,
    /// Trainable elements of the output layer (`lm_head`, or the embedding tied to
    /// it): the gradients backward makes first; 0 when it does not train.
    pub output_elements: u128,
    /// Elements of the largest layer a sharding framework gathers at once.
    pub largest_layer: u128,
    /// Compute dtype bytes.
    pub compute: u128,
    /// Optimizer state and step workspace of the whole trainable set, unsharded.
    pub states: u128,
    pub workspace: u128,
    /// GPUs training together and the shard group size (`num_gpus`, or the node for
    /// hybrid sharding).
    pub gpus: u128,
    pub shard_group: u128,
    pub zero_stage: u8,
    pub fsdp_sharding: FsdpSharding,
    pub offload_optimizer: Offload,
    pub offload_parameters: Offload,
    pub deepspeed: DeepspeedSettings,
}

impl StateInputs {
    /// Bytes per trainable parameter of the weight itself: fp32 under torch autocast
    /// and FSDP's mixed-precision policy (the fp32 parameter is the master), else the
    /// 16-bit compute dtype (DeepSpeed keeps a separate fp32 master).
    fn trained_weight_bytes(&self) -> u128 {
        let fp32_params = self.layout.is_mixed() && self.framework != Framework::Deepspeed;
        if fp32_params {
            FP32_BYTES
        } else {
            self.compute
        }
    }

    /// The model's weights in their storage: the PEFT base and adapters, or every
    /// parameter at the trained weights' width.
    fn stored_weights(&self) -> u128 {
        let w = self.trained_weight_bytes();
        match self.peft_base {
            Some(base) => base + self.trainable * w,
            None => self.model_elements * w,
        }
    }

    /// Bytes of a gathered or unsharded gradient: the 16-bit dtype under mixed
    /// precision (FSDP reduces in `param_dtype`, DeepSpeed in 16 bits), else the
    /// gradient's own.
    fn working_gradient_bytes(&self) -> u128 {
        if self.layout.is_mixed() {
            self.layout.grad_16bit
        } else {
            self.gradient_bytes()
        }
    }

    /// Gradient bytes per trainable parameter that the framework keeps.
    fn gradient_bytes(&self) -> u128 {
        match (self.framework, self.layout.is_mixed()) {
            // DeepSpeed: the 16-bit gradient from backward and the fp32 copy the
            // optimizer consumes (counted apart, sharded from stage 1).
            (Framework::Deepspeed, true) => self.layout.grad_16bit,
            // fp32 parameters get fp32 gradients.
            (_, true) => FP32_BYTES,
            _ => self.layout.grad_16bit + self.layout.grad_fp32,
        }
    }
}

/// Places the trained state for `inputs.framework`.
pub(crate) fn place(s: &StateInputs) -> Placement {
    match s.framework {
        Framework::Transformers => ddp(s),
        Framework::Deepspeed => deepspeed(s),
        Framework::Fsdp => fsdp(s),
    }
}

/// One replica per GPU (PyTorch DDP). With more than one GPU, DDP's reducer copies the
/// gradients into its flat buckets (`gradient_as_bucket_view=False`, the default),
/// which "can reduce peak memory usage ... equal to the total gradients size" when set
/// (PyTorch DDP docs): one more gradient-sized buffer.
fn ddp(s: &StateInputs) -> Placement {
    let t = s.trainable;
    let gradients = t * s.gradient_bytes();
    let autocast = if s.layout.is_mixed() {
        s.cast_elements * s.compute
    } else {
        0
    };
    Placement {
        weights: s.stored_weights(),
        autocast_copies: autocast,
        gradients,
        comm_buffers: if s.gpus > 1 { gradients } else { 0 },
        first_gradients: s.output_elements * s.gradient_bytes(),
        states: s.states,
        workspace: s.workspace,
        ..Placement::default()
    }
}

/// DeepSpeed ZeRO (microsoft/DeepSpeed@38327e07f6cd39b63418f60cedd1651b0be3e7c3 `deepspeed/runtime/zero/stage_1_and_2.py`, `deepspeed/runtime/zero/stage3.py`): 16-bit weights and gradients,
/// fp32 master, fp32 gradient and states per partition. Stage 1 shards master, fp32
/// gradient and states; stage 2 also the 16-bit gradients; stage 3 also the weights,
/// gathers one layer at a time, and builds the fp32 gradient one sub-group at a time.
fn deepspeed(s: &StateInputs) -> Placement {
    let (t, n, stage, a) = (s.trainable, s.gpus, s.zero_stage, s.compute);
    let shard = |bytes: u128, from: u8| {
        if stage >= from {
            bytes.div_ceil(n)
        } else {
            bytes
        }
    };
    let gathered = |bytes: u128| if stage >= 3 { bytes } else { 0 };
    let layer = s.largest_layer;
    let mixed = s.layout.is_mixed();
    // One ZeRO-3 sub-group's elements: the fp32 work of the step is done per sub-group.
    let sub_group = t.div_ceil(n).min(s.deepspeed.sub_group_size as u128);
    // Mixed precision: the fp32 gradient the optimizer consumes, apart from the 16-bit
    // one. In fp32 training the gradient is already fp32.
    let fp32_grad = match (mixed, stage >= 3) {
        (false, _) => 0,
        (true, true) => sub_group * s.layout.grad_fp32,
        (true, false) => shard(t * s.layout.grad_fp32, 1),
    };
    let grad16 = shard(t * s.gradient_bytes(), 2);
    // ZeRO 1-2's `step()` flattens the partition's gradients into a new tensor
    // (`flatten_dense_tensors_aligned`) before converting it to the fp32 gradient: a
    // step-time copy, like the optimizer's temporaries.
    let flattened = if (1..=2).contains(&stage) {
        shard(t * s.gradient_bytes(), 1)
    } else {
        0
    };
    // The optimizer's fp32 partition: a separate copy from stage 1 even in fp32
    // training (`single_partition_of_fp32_groups` is a `.clone().float()`).
    let master_per_param = if mixed || stage == 0 {
        s.layout.master
    } else {
        FP32_BYTES
    };
    let buckets = deepspeed_buckets(s);
    // From stage 2 the output layer's gradient is whole before it is reduced.
    let first_bytes = if stage >= 2 {
        s.working_gradient_bytes()
    } else {
        s.gradient_bytes()
    };
    let mut p = Placement {
        weights: shard(s.stored_weights(), 3) + gathered(layer * a),
        gradients: grad16 + fp32_grad + gathered(layer.min(t) * s.working_gradient_bytes()),
        comm_buffers: if stage >= 3 { buckets } else { 0 },
        backward_buffers: if stage < 3 { buckets } else { 0 },
        // ZeRO-3's `grad_partitions_flat_buffer` (`stage3.py`, line 547: `torch.zeros`
        // at start-up, on the optimizer's device).
        resident_gradients: if stage >= 3 { grad16 } else { 0 },
        first_gradients: s.output_elements * first_bytes,
        first_gradients_accumulating: if stage >= 2 {
            s.output_elements * first_bytes
        } else {
            0
        },
        master: shard(t * master_per_param, 1),
        states: shard(s.states, 1),
        workspace: shard(s.workspace, 1) + flattened,
        ..Placement::default()
    };
    if s.offload_optimizer != Offload::None {
        // ZeRO-Offload: the optimizer steps on the CPU; from stage 2 each gradient
        // partition goes to the host as it is reduced, so the GPU keeps only the
        // 16-bit weights (DeepSpeed's estimators: `2Ψ` for ZeRO-2, `2Ψ/N + 4·layer` for
        // ZeRO-3); stage 1 does not partition gradients and keeps them all.
        let host_grad = shard(t * FP32_BYTES, 1);
        match s.offload_optimizer {
            Offload::Nvme => {
                // ZeRO-Infinity swaps one sub-group's fp32 state at a time through
                // `offload_optimizer.buffer_count` pinned buffers of that size.
                p.nvme += p.master + p.states;
                p.host += host_grad + NVME_OPTIMIZER_BUFFERS * sub_group * FP32_BYTES;
            }
            _ => p.host += p.master + p.states + host_grad,
        }
        p.gradients = if stage == 1 {
            grad16
        } else {
            gathered(layer.min(t) * s.working_gradient_bytes())
        };
        p.master = 0;
        p.states = 0;
        // The gradient partitions' buffer lives where the optimizer does.
        p.resident_gradients = 0;
        // DeepSpeed's CPU Adam updates in place.
        p.workspace = 0;
    }
    if s.offload_parameters != Offload::None {
        let partition = shard(s.stored_weights(), 3);
        match s.offload_parameters {
            Offload::Nvme => {
                p.nvme += partition;
                p.host += NVME_PARAMETER_BUFFERS * NVME_PARAMETER_BUFFER_ELEMENTS * s.compute;
            }
            _ => p.host += partition,
        }
        p.weights -= partition;
    }
    p
}

/// DeepSpeed's gradient buckets. ZeRO 1-2's `backward()` allocates the
/// `contiguous_gradients` bucket of `reduce_bucket_size` 16-bit values, and a second
/// one with `overlap_comm` ("double buffers to avoid data access conflict"), whatever
/// the model's size; ZeRO-3 reduces through one flat bucket of that size. The updated
/// weights are gathered into the weights' own flat buffer (`allgather_bucket_size`
/// only cuts that into calls, so it is not a field here). Stage 0 has no buckets.
fn deepspeed_buckets(s: &StateInputs) -> u128 {
    let ds = s.deepspeed;
    let bucket = ds.reduce_bucket_size as u128 * BUCKET_VALUE_BYTES;
    match s.zero_stage {
        0 => 0,
        3 => bucket,
        stage if ds.overlap(stage) => 2 * bucket,
        _ => bucket,
    }
}

/// FSDP (`torch.distributed.fsdp`) with a mixed-precision policy: sharded fp32
/// parameters (the master), fp32 gradients and states; the 16-bit copies exist only
/// while gathered: two units under full and hybrid sharding (the one computed and the
/// one prefetched) with the unit's unsharded 16-bit gradient, or the whole model from
/// forward to backward under `shard_grad_op` and `no_shard`.
fn fsdp(s: &StateInputs) -> Placement {
    let (t, d, a) = (s.trainable, s.shard_group, s.compute);
    let stored = s.stored_weights();
    let unit_grad = s.largest_layer.min(t) * s.working_gradient_bytes();
    let (sharded_weights, working_weights, working_grads) = match s.fsdp_sharding {
        FsdpSharding::FullShard | FsdpSharding::HybridShard => (
            stored.div_ceil(d),
            FSDP_GATHERED_UNITS * s.largest_layer * a,
            unit_grad,
        ),
        // The gathered 16-bit model stays from forward to backward.
        FsdpSharding::ShardGradOp => (stored.div_ceil(d), s.model_elements * a, unit_grad),
        // Unsharded: the policy's 16-bit copy of the whole fp32 model.
        FsdpSharding::NoShard if s.layout.is_mixed() => (stored, s.model_elements * a, 0),
        FsdpSharding::NoShard => (stored, 0, 0),
    };
    let sharded_grads = (t * s.gradient_bytes()).div_ceil(d);
    let mut p = Placement {
        weights: sharded_weights + working_weights,
        gradients: sharded_grads + working_grads,
        first_gradients: s.output_elements * s.working_gradient_bytes(),
        first_gradients_accumulating: if s.fsdp_sharding == FsdpSharding::NoShard {
            0
        } else {
            s.output_elements * s.working_gradient_bytes()
        },
        states: s.states.div_ceil(d),
        workspace: s.workspace.div_ceil(d),
        ..Placement::default()
    };
    if s.offload_parameters == Offload::Cpu || s.offload_optimizer == Offload::Cpu {
        // `CPUOffload(offload_params=True)`: sharded parameters and gradients live on
        // the host and the optimizer steps there.
        p.host = sharded_weights + sharded_grads + p.states + p.workspace;
        // Unsharded weights come back to the GPU whole for compute.
        p.weights = match s.fsdp_sharding {
            FsdpSharding::NoShard if working_weights == 0 => stored,
            _ => working_weights,
        };
        p.gradients -= sharded_grads;
        p.states = 0;
        p.workspace = 0;
    }
    p
}
