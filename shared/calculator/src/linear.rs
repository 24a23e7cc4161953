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

/// Which projection of its block a linear matrix is: what model code names it
/// (`modules::module_names`), which input its LoRA adapter reads, and so what a
/// PEFT `target_modules` list adapts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Projection {
    /// The query projection (with the output gate's half where the model gates it).
    Query,
    /// The key projection.
    Key,
    /// The value projection.
    Value,
    /// Query, key and value fused in one matrix.
    QueryKeyValue,
    /// The attention output projection.
    Output,
    /// MLA's query down-projection to its latent.
    QueryA,
    /// MLA's query up-projection from its latent.
    QueryB,
    /// MLA's key/value down-projection (with the rotary key).
    KeyValueA,
    /// MLA's key/value up-projection from its latent.
    KeyValueB,
    /// DeepSeek-V3.2's indexer query projection (from the query latent).
    IndexerQuery,
    /// DeepSeek-V3.2's indexer key projection.
    IndexerKey,
    /// A fixed-state mixer's input projections, as one group.
    MixerIn,
    /// A fixed-state mixer's output projection.
    MixerOut,
    /// The dense MLP's gate projection.
    Gate,
    /// The dense MLP's up projection (its only input projection when not gated).
    Up,
    /// Gate and up fused in one matrix.
    GateUp,
    /// The dense MLP's down projection.
    Down,
    /// OPT's projection from the embedding width into the hidden size.
    EmbedIn,
    /// OPT's projection from the hidden size back to the embedding width.
    EmbedOut,
}

impl Projection {
    /// Whether its input is the block's normalized input (the hidden size): a LoRA
    /// adapter on it reads the tensor its siblings read.
    pub fn reads_block_input(self) -> bool {
        use Projection::*;
        matches!(
            self,
            Query
                | Key
                | Value
                | QueryKeyValue
                | QueryA
                | KeyValueA
                | IndexerKey
                | MixerIn
                | Gate
                | Up
                | GateUp
                | EmbedOut
        )
    }
}
