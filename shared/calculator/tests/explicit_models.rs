//! Models given by their shape (explicit fields) and `model_size`: the defaults of the
//! fields left out, and the count `model_size` sets (methodology §1–2).

use calculator::{
    estimate_inference, CalcError, ExplicitModel, InferenceRequest, Model, Precision,
};

fn explicit(hidden: u64, layers: u64, heads: u64) -> ExplicitModel {
    ExplicitModel {
        hidden_size: hidden,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        ..ExplicitModel::default()
    }
}

#[test]
fn explicit_fields_with_their_defaults() {
    // h 64, 2 layers, 4 heads of 16, all heads KV; vocabulary 32,000 and MLP 4h = 256
    // assumed (warned). Per layer 4·64·64 + 3·64·256 + 128 = 65,664.
    let m = Model::from_explicit(&explicit(64, 2, 4)).unwrap();
    assert_eq!(
        (
            m.arch.head_dim,
            m.arch.num_kv_heads,
            m.arch.intermediate_size
        ),
        (16, 4, 256)
    );
    assert_eq!(m.params.total, 2 * 65_664 + 2 * 32_000 * 64 + 64);
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    // A hidden size the heads do not divide needs head_dim; KV heads must divide.
    let field = |e: ExplicitModel| match Model::from_explicit(&e) {
        Err(CalcError::InvalidField { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(explicit(66, 2, 4)), "head_dim");
    let mut odd = explicit(64, 2, 4);
    odd.num_key_value_heads = Some(3);
    assert_eq!(field(odd), "num_key_value_heads");
    odd.num_key_value_heads = Some(8);
    assert_eq!(field(odd), "num_key_value_heads");
    odd.num_key_value_heads = Some(4);
    assert!(Model::from_explicit(&odd).is_ok());
    odd.num_key_value_heads = Some(2);
    assert_eq!(Model::from_explicit(&odd).unwrap().arch.num_kv_heads, 2);
    let mut with_dim = explicit(66, 2, 4);
    with_dim.head_dim = Some(16);
    assert_eq!(Model::from_explicit(&with_dim).unwrap().arch.q_dim(), 64);
}

#[test]
fn model_size_sets_the_total_and_solves_the_mlp_width() {
    // The old service's 7B example: h 4096, 32 layers, 32 heads, V 32,000 (assumed).
    // Solving P = 2Vh + L(4h² + 2h + 3hI) + h for P = 7·10⁹ gives I = 11,673.
    let mut e = explicit(4096, 32, 32);
    e.model_size_billions = Some(7.0);
    let m = Model::from_explicit(&e).unwrap();
    assert_eq!(m.arch.intermediate_size, 11_673);
    let p = m.params;
    assert_eq!(p.total, 7_000_000_000);
    assert_eq!(p.embedding, 2 * 32_000 * 4096);
    assert_eq!(p.non_embedding, 7_000_000_000 - 262_144_000);
    // The layout's non-linear parameters (embeddings, norms) stay; the rest is linear.
    assert_eq!(p.linear, 7_000_000_000 - (262_144_000 + 32 * 8192 + 4096));
    assert_eq!(p.dense_layer, (7_000_000_000 - 262_144_000) / 32);
    assert_eq!(p.embedding_matrix, 32_000 * 4096);
    // Generic int4 on it: the architecture's 28,004,818,944 bits over 6,737,494,016
    // linear weights, scaled to 6,737,589,760 weights, plus the rest in 16-bit.
    let mut req = InferenceRequest::new(1, 1);
    req.precision = Some(Precision::Int4);
    let w = estimate_inference(&m, &req).unwrap().model_weights.0;
    assert_eq!(w, 4_025_472_594);
    // The solution is exact at both ends of a width: the total of I = 11,008 exactly
    // (2,409,893,888 fixed + 393,216 · 11,008), and one parameter short of 11,009.
    for billions in [6.738_415_616, 6.738_808_831] {
        e.model_size_billions = Some(billions);
        assert_eq!(
            Model::from_explicit(&e).unwrap().arch.intermediate_size,
            11_008,
            "{billions}"
        );
    }
    // A model_size below the embeddings (2 · 32,000 · 4,096) is warned, equal is not;
    // one out of range is an error.
    let below = |billions: f64| {
        let mut e = explicit(4096, 32, 32);
        e.model_size_billions = Some(billions);
        Model::from_explicit(&e)
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.message.contains("smaller than the embeddings"))
    };
    assert!(below(0.1));
    assert!(!below(0.262_144));
    for bad in [0.0, -1.0, 100_001.0, f64::NAN] {
        e.model_size_billions = Some(bad);
        assert!(Model::from_explicit(&e).is_err(), "{bad}");
    }
    e.model_size_billions = Some(1e-12);
    assert_eq!(Model::from_explicit(&e).unwrap().params.total, 1);
}
