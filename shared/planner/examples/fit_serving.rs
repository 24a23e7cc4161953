//! Fits the serving model's efficiency factors on the calibration half of the
//! published runs and writes them, with the errors they leave, to
//! `shared/planner/data/serving-efficiency.json`:
//!
//! ```text
//! cargo run --release -p planner --example fit_serving            # fit, validate, LOO
//! cargo run --release -p planner --example fit_serving -- --no-loo
//! ```
//!
//! The calibration half is fixed by `split_of` (`tests/support/serving.rs`); the validation half
//! is never seen by the fit. The leave-one-out error, which answers state as their
//! expected error, refits every factor without each row in turn (warm-started from the
//! fit on all rows of the fitted GPUs) and predicts that row.

use serde_json::json;
#[path = "../tests/support/serving.rs"]
// Shared by the test and the fit, each of which uses part of it.
#[allow(dead_code)]
mod serving;

use serving::{
    all_errors, fit, loss, median_percent, rows, Factors, GpuFactors, Row, Split, FITTED_GPUS,
};

fn start() -> Factors {
    Factors {
        engine: [0.25, 0.3, 2.5, 12.0, 30.0],
        gpus: FITTED_GPUS
            .iter()
            .map(|(gpu, dtypes)| GpuFactors {
                gpu: gpu.to_string(),
                bandwidth: 0.75,
                compute: dtypes.iter().map(|d| (*d, 0.6)).collect(),
            })
            .collect(),
    }
}

fn percent_summary(errors: &[Vec<f64>; 3]) -> serde_json::Value {
    let max = |v: &[f64]| {
        v.iter()
            .map(|e| e.exp_m1().abs() * 100.0)
            .fold(0.0, f64::max)
    };
    json!({
        "rows": [errors[0].len(), errors[1].len(), errors[2].len()],
        "median_percent": [round(median_percent(&errors[0])), round(median_percent(&errors[1])), round(median_percent(&errors[2]))],
        "max_percent": [round(max(&errors[0])), round(max(&errors[1])), round(max(&errors[2]))],
    })
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Every factor of `f` in turn moved up or down by a share of itself while that lowers
/// the objective on `rows`, the share halved from 8 % to 0.5 %: Nelder-Mead's blocks
/// can stop short of the minimum along one factor (a pattern search finishes it).
fn polish(rows: &[&Row], mut f: Factors) -> Factors {
    let mut best = loss(rows, &f);
    let mut share = 0.08;
    while share >= 0.005 {
        let mut moved = true;
        while moved {
            moved = false;
            for k in 0..factor_count(&f) {
                for sign in [1.0, -1.0] {
                    let mut g = f.clone();
                    *factor(&mut g, k) *= 1.0 + sign * share;
                    let l = loss(rows, &g);
                    if l < best {
                        (f, best, moved) = (g, l, true);
                    }
                }
            }
        }
        share /= 2.0;
    }
    f
}

/// Factors `f` has: the engine's, then each GPU's bandwidth and compute shares.
fn factor_count(f: &Factors) -> usize {
    f.engine.len() + f.gpus.iter().map(|g| 1 + g.compute.len()).sum::<usize>()
}

/// The `k`-th factor of `f`, in [`factor_count`]'s order.
fn factor(f: &mut Factors, mut k: usize) -> &mut f64 {
    if k < f.engine.len() {
        return &mut f.engine[k];
    }
    k -= f.engine.len();
    for g in &mut f.gpus {
        if k == 0 {
            return &mut g.bandwidth;
        }
        if k <= g.compute.len() {
            return &mut g.compute[k - 1].1;
        }
        k -= 1 + g.compute.len();
    }
    unreachable!("k is below factor_count")
}

/// `f` to the three decimals the data file keeps.
fn rounded(mut f: Factors) -> Factors {
    f.engine.iter_mut().for_each(|x| *x = round3(*x));
    for g in &mut f.gpus {
        g.bandwidth = round3(g.bandwidth);
        g.compute.iter_mut().for_each(|c| c.1 = round3(c.1));
    }
    f
}

fn main() {
    let loo = !std::env::args().any(|a| a == "--no-loo");
    let all = rows();
    let usable: Vec<&Row> = all.iter().filter(|r| r.excluded.is_none()).collect();
    let fitted_gpu = |r: &&Row| FITTED_GPUS.iter().any(|(g, _)| *g == r.gpu);
    let calibration: Vec<&Row> = usable
        .iter()
        .copied()
        .filter(|r| r.split == Split::Calibration)
        .collect();
    let validation: Vec<&Row> = usable
        .iter()
        .copied()
        .filter(|r| r.split == Split::Validation && fitted_gpu(r))
        .collect();
    let other_gpus: Vec<&Row> = usable.iter().copied().filter(|r| !fitted_gpu(r)).collect();
    eprintln!(
        "{} rows: {} usable, {} calibration, {} validation on fitted GPUs, {} on other GPUs",
        all.len(),
        usable.len(),
        calibration.len(),
        validation.len(),
        other_gpus.len()
    );
    // The file keeps three decimals: every error below is of the factors as written.
    let f = rounded(polish(&calibration, fit(&calibration, &start(), 4, 160)));
    eprintln!("calibration loss {:.4}: {:?}", loss(&calibration, &f), f);
    let held_out = all_errors(&validation, &f);
    let others = all_errors(&other_gpus, &f);
    eprintln!("validation {}", percent_summary(&held_out));
    eprintln!("other GPUs {}", percent_summary(&others));
    // Leave-one-out over every usable row of the fitted GPUs.
    let loo_errors = if loo {
        let pool: Vec<&Row> = usable.iter().copied().filter(fitted_gpu).collect();
        let whole = fit(&pool, &f, 2, 120);
        let mut errs: [Vec<f64>; 3] = Default::default();
        for (k, row) in pool.iter().enumerate() {
            let rest: Vec<&Row> = pool.iter().copied().filter(|r| r.id != row.id).collect();
            let g = fit(&rest, &whole, 1, 24);
            let e = all_errors(&[row], &g);
            for m in 0..3 {
                errs[m].extend(e[m].iter().copied());
            }
            if k % 20 == 0 {
                eprintln!("loo {k}/{}", pool.len());
            }
        }
        Some(errs)
    } else {
        None
    };
    let expected = |e: &[Vec<f64>; 3]| {
        json!({
            "ttft_percent": round(median_percent(&e[0])),
            "tpot_percent": round(median_percent(&e[1])),
            "throughput_percent": round(median_percent(&e[2])),
        })
    };
    let loo_summary = loo_errors.as_ref().map(percent_summary);
    let out = json!({
        "about": "Efficiency factors of the serving model (methodology §12.3), fitted by shared/planner/examples/fit_serving.rs on the calibration half of shared/planner/tests/data/measured-serving.json (rows on H100, H200 and B200 whose FNV-1a id hash is even, less the excluded ones; split_of in shared/planner/tests/support/serving.rs) and validated on the other half, which the fit never saw. GPUs without their own factors take the fitted GPUs' median. expected_error is the leave-one-out median absolute error over every usable row of the fitted GPUs; expected_error_uncalibrated_gpu the median error on the A100 and MI300X rows, which no factor was fitted on.",
        "engine": "vllm",
        "engine_versions": "0.10.2 to 0.22 (the published runs)",
        "engine_wide": {
            "attention": round3(f.engine[0]),
            "link": round3(f.engine[1]),
            "step_ms": round3(f.engine[2]),
            "sequence_us": round3(f.engine[3]),
            "front_end_ms": round3(f.engine[4]),
        },
        "gpus": f.gpus.iter().map(|g| json!({
            "gpu": g.gpu,
            "bandwidth": round3(g.bandwidth),
            "compute": g.compute.iter().map(|(d, c)| (d.name().to_string(), json!(round3(*c)))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
        "calibration_rows": calibration.len(),
        "validation": percent_summary(&held_out),
        "uncalibrated_gpus": percent_summary(&others),
        "leave_one_out": loo_summary,
        "expected_error": loo_errors.as_ref().map_or_else(|| expected(&held_out), expected),
        "expected_error_uncalibrated_gpu": expected(&others),
    });
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/serving-efficiency.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&out).expect("json") + "\n",
    )
    .expect("write");
    eprintln!("wrote {}", path.display());
}
