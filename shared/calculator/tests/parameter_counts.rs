//! The architecture-derived parameter count of every registry model equals the count
//! the reference data derives from the model's config, to the parameter.

use calculator::registry;

#[test]
fn every_registry_model_counts_exactly() {
    let mut mismatches = Vec::new();
    for entry in registry::all() {
        let got = entry.model.params.total;
        if got != entry.config_derived_params as u128 {
            mismatches.push(format!(
                "{}: computed {got}, reference {} (diff {})",
                entry.name,
                entry.config_derived_params,
                got as i128 - entry.config_derived_params as i128
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(registry::all().len(), 46);
}

#[test]
fn embedding_split_matches_model_cards() {
    // Qwen3 model cards state non-embedding counts: 0.44B (0.6B, tied) and 13.2B (14B).
    let small = &registry::lookup("Qwen3-0.6B").unwrap().model.params;
    assert_eq!(small.non_embedding / 10_000_000, 44);
    let big = &registry::lookup("Qwen3-14B").unwrap().model.params;
    assert_eq!(big.non_embedding / 100_000_000, 132);
}

#[test]
fn moe_active_parameters_match_published_figures() {
    // Published active counts: Qwen3-30B-A3B 3.3B, Mixtral-8x7B 12.9B (both counting
    // embeddings and lm_head); gpt-oss-20b 3.6B, which OpenAI counts without the
    // unembedding matrix.
    let params = |name: &str| registry::lookup(name).unwrap().model.params;
    assert_eq!(params("Qwen3-30B-A3B").active, 3_353_032_704);
    assert_eq!(params("Mixtral-8x7B-v0.1").active, 12_879_925_248);
    let oss = params("gpt-oss-20b");
    assert_eq!((oss.active - oss.embedding_matrix) / 100_000_000, 36);
    // Dense models: every parameter is active.
    let dense = &registry::lookup("Llama-3.1-8B").unwrap().model.params;
    assert_eq!(dense.active, dense.total);
}
