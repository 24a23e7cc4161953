//! What a linear weight matrix belongs to. Shared by the architecture (which lists
//! the matrices), checkpoints (which name the ones they keep in 16-bit) and training
//! (which adapts some of them): a leaf of the crate.

use crate::choice::choice;

choice!(
    /// What a linear weight matrix belongs to: decides LoRA targets and which weights
    /// are quantized. The name is how answers say it.
    LinearKind {
        /// Query/key/value/output projections (and MLA's low-rank projections).
        Attention => "attention",
        /// Dense MLP projections (and OPT's embedding projections).
        Mlp => "mlp",
        /// Routed-expert projections.
        Expert => "expert",
        /// Shared-expert projections.
        SharedExpert => "shared_expert",
        /// Input and output projections of a fixed-state mixer (linear attention, SSM).
        Mixer => "mixer",
    }
);
