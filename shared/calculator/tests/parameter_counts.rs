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
    assert_eq!(registry::all().len(), 64);
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

/// Families without a registry model, checked against their published totals (config
/// values from the models' `config.json`, totals rounded as published).
#[test]
fn families_outside_the_registry_match_published_totals() {
    use calculator::Model;
    use serde_json::json;
    let count = |config: serde_json::Value| Model::from_config(&config).unwrap().params;

    // Qwen1.5-MoE-A2.7B: "14.3B total, 2.7B activated".
    let qwen_moe = count(json!({"model_type": "qwen2_moe", "hidden_size": 2048,
        "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
        "intermediate_size": 5632, "moe_intermediate_size": 1408,
        "shared_expert_intermediate_size": 5632, "num_experts": 60, "num_experts_per_tok": 4,
        "vocab_size": 151936, "tie_word_embeddings": false}));
    assert_eq!(qwen_moe.total / 100_000_000, 143);
    assert_eq!(qwen_moe.active / 100_000_000, 26);

    // StarCoder (gpt_bigcode, multi-query): 15.5B.
    let starcoder = count(
        json!({"model_type": "gpt_bigcode", "n_embd": 6144, "n_layer": 40,
        "n_head": 48, "n_inner": 24576, "n_positions": 8192, "vocab_size": 49152,
        "multi_query": true}),
    );
    assert_eq!(starcoder.total / 100_000_000, 155);

    // Gemma 7B: 8.54B.
    let gemma = count(json!({"model_type": "gemma", "hidden_size": 3072,
        "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 16,
        "head_dim": 256, "intermediate_size": 24576, "vocab_size": 256000}));
    assert_eq!(gemma.total / 10_000_000, 853);
    assert!(
        gemma.total == gemma.non_embedding + 256_000 * 3072,
        "tied embedding counted once"
    );
}

/// Where the reference notes give a config-derived active count (MoE models), the
/// calculator's active count equals it.
#[test]
fn moe_active_counts_match_the_reference_notes() {
    let mut checked = 0;
    for entry in registry::all() {
        let Some(notes) = &entry.notes else { continue };
        let Some((_, rest)) = notes.split_once("config-derived active ") else {
            continue;
        };
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect();
        let expected: u128 = digits.parse().unwrap();
        assert_eq!(entry.model.params.active, expected, "{}", entry.name);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} models carry an active count");
}
