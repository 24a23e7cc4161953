//! Accuracy against published measurements of real runs
//! (`tests/data/measured-memory.json`, each row citing its public source).
//!
//! Every row goes through the same model; each is compared with the part of the
//! prediction its `compare_with` names. The targets are 5 % for inference rows and 15 %
//! for training rows. `every_row_within_its_target_or_its_ratchet` fails when a row
//! leaves its target, or a known miss (listed with its reason) gets worse; no
//! regeneration satisfies it. The table in `docs/accuracy.md` is checked on every run:
//! any change to a prediction fails `accuracy_table_in_docs_is_current` until the
//! table is regenerated with `ACCURACY_UPDATE=1 cargo test -p calculator --test
//! accuracy`, and the figures the README and the narrative quote are checked against
//! the generated summary.

use calculator::{
    estimate_inference, estimate_training, Choice, DeepspeedSettings, Framework, FsdpSharding,
    InferenceRequest, LoraTarget, Loss, Method, Model, Optimizer, OptimizerImplementation,
    Precision, Quantization, RegistryEntry, StepPhase, TrainingRequest,
};
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

const INFERENCE_TOLERANCE: f64 = 0.05;
const TRAINING_TOLERANCE: f64 = 0.15;

struct Row {
    id: String,
    mode: String,
    measured_bytes: f64,
    predicted_bytes: f64,
    compare_with: String,
}

impl Row {
    fn error(&self) -> f64 {
        (self.predicted_bytes - self.measured_bytes) / self.measured_bytes
    }
    fn tolerance(&self) -> f64 {
        if self.mode == "inference" {
            INFERENCE_TOLERANCE
        } else {
            TRAINING_TOLERANCE
        }
    }
}

/// The reference measurements; the targets apply to these.
const REFERENCE: &str = "measured-memory.json";
/// Further rows of the same published tables, an out-of-sample check (no target).
const EXTRA: &str = "qwen3-speed-benchmark-extra.json";

fn data(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unit_bytes(unit: &str) -> f64 {
    match unit {
        "B" => 1.0,
        "MiB" => 1048576.0,
        "GiB" => 1073741824.0,
        // "GB as published (most likely GiB)": the unit itself says to read it as GiB.
        u if u.starts_with("GB as published") => 1073741824.0,
        u => panic!("unknown unit {u}"),
    }
}

fn model_for(row: &Value) -> Model {
    match row.get("config") {
        Some(config) => Model::from_config(config).unwrap(),
        None => RegistryEntry::lookup(row["model_name"].as_str().unwrap())
            .unwrap()
            .model
            .clone(),
    }
}

fn get_u64(row: &Value, key: &str) -> Option<u64> {
    row.get(key).and_then(Value::as_u64)
}

/// Evaluates `a + b - c` over named components of a prediction.
fn combine(expr: &str, component: impl Fn(&str) -> f64) -> f64 {
    let mut total = 0.0;
    let mut sign = 1.0;
    for token in expr.split_whitespace() {
        match token {
            "+" => sign = 1.0,
            "-" => sign = -1.0,
            name => total += sign * component(name),
        }
    }
    total
}

/// The settings a training row's source ran in, beyond the fields the row states: the
/// row id's prefix, the source's own words, and the request fields they set.
struct SourceSetting {
    prefix: &'static str,
    words: &'static str,
    apply: fn(&mut TrainingRequest),
}

/// Qwen(1)'s `finetune_qlora_single_gpu.sh` passes `--deepspeed
/// finetune/ds_config_zero2.json` (so does pull request #833's copy of `finetune_ds.sh`,
/// QwenLM/Qwen@0400505d060aea70437b55412aa02f8eae91ca5f `finetune/finetune_ds.sh`;
/// the merged script passes ZeRO-3's file, a mismatch the full rows' words state): stage 2, `overlap_comm` true, buckets
/// of 2e8, `"optimizer": {"type": "AdamW"}` (DeepSpeed's fused Adam). Without torch
/// autocast (DeepSpeed casts the model), the model code's loss stays 16-bit.
fn qwen_zero2(r: &mut TrainingRequest) {
    r.gradient_accumulation_steps = QWEN_ACCUMULATION;
    r.framework = Some(Framework::Deepspeed);
    r.zero_stage = 2;
    r.deepspeed = Some(DeepspeedSettings {
        reduce_bucket_size: 200_000_000,
        overlap_comm: Some(true),
        ..DeepspeedSettings::default()
    });
    r.optimizer_implementation = Some(OptimizerImplementation::Fused);
    r.loss = Loss::NoUpcast;
}

const SOURCE_SETTINGS: &[SourceSetting] = &[
    SourceSetting {
        prefix: "qwen-1.8b-full-",
        words: "Known mismatch: QwenLM/Qwen@2df8e8ac450fa185c421a08b0090ef81826caa6e `finetune/finetune_ds.sh` passes `--deepspeed finetune/ds_config_zero3.json` (its README: \"we use DeepSpeed ZeRO 3 in this script\"), but these rows are predicted under `ds_config_zero2.json`, read from an unmerged pull request's copy of the script (QwenLM/Qwen@0400505d060aea70437b55412aa02f8eae91ca5f, https://github.com/QwenLM/Qwen/pull/833): `--deepspeed finetune/ds_config_zero2.json` (`\"stage\": 2`, `\"overlap_comm\": true`, `\"reduce_bucket_size\": 2e8`, `\"optimizer\": {\"type\": \"AdamW\"}`); Qwen(1)'s model code takes the cross-entropy of its 16-bit logits, and DeepSpeed runs without autocast. As: `framework deepspeed`, `zero_stage 2`, `reduce_bucket_size 200000000`, `overlap_comm true`, `optimizer_implementation fused`, `loss no_upcast`, and, as the README's table states for every row, `gradient_accumulation_steps 8`.",
        apply: qwen_zero2,
    },
    SourceSetting {
        prefix: "qwen-1.8b-lora-",
        words: "QwenLM/Qwen@2df8e8ac450fa185c421a08b0090ef81826caa6e `finetune/finetune_lora_single_gpu.sh`: `python finetune.py ... --bf16 True --use_lora` (no DeepSpeed); `finetune.py`: `optim: str = field(default=\"adamw_torch\")`, `lora_dropout: float = 0.05`; under the Trainer's torch autocast the cross-entropy runs in fp32 (autocast's float32 op list has `log_softmax` and `nll_loss`). As: `framework transformers`, `optimizer_implementation foreach`, `lora_dropout 0.05`, `loss standard`, `gradient_accumulation_steps 8` (the README's table).",
        apply: |r| {
            r.gradient_accumulation_steps = QWEN_ACCUMULATION;
            r.framework = Some(Framework::Transformers);
            r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
            r.lora_dropout = 0.05;
        },
    },
    SourceSetting {
        prefix: "qwen-1.8b-qlora-",
        words: "QwenLM/Qwen@2df8e8ac450fa185c421a08b0090ef81826caa6e `finetune/finetune_qlora_single_gpu.sh`: `--fp16 True --use_lora --q_lora --deepspeed finetune/ds_config_zero2.json`; `lora_dropout: float = 0.05`; 16-bit loss, as for the full rows. As: the full rows' DeepSpeed settings with `lora_dropout 0.05`. Not expressible: the script's base is a GPTQ int4 checkpoint (the row, as published, says NF4; the calculator's `qlora` is NF4).",
        apply: |r| {
            qwen_zero2(r);
            r.lora_dropout = 0.05;
        },
    },
    SourceSetting {
        prefix: "peft-llama-3.2-3b-full-",
        words: "huggingface/peft@d787f51bbaa196862733ed53c1b7def75b49ab29 `method_comparison/MetaMathQA/run.py`: the model loaded in bfloat16 and trained without autocast (`use_amp: false`), `torch.optim.AdamW(params, lr=1e-5)` with torch's defaults (the foreach implementation on CUDA), a plain PyTorch loop on one GPU (no DDP). As: `mixed_precision false`, `framework transformers`, `optimizer_implementation foreach`. Compared with the `backward_end` moment of the step: what the GPU holds from backward's end through the optimizer step to the next `zero_grad`, the step's temporaries freed once it returns.",
        apply: |r| {
            r.mixed_precision = false;
            r.framework = Some(Framework::Transformers);
            r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
        },
    },
    SourceSetting {
        prefix: "answerai-llama-2-7b-lora-fsdp-",
        words: "AnswerDotAI/fsdp_qlora@4cd69234f84de9f4f4933904b8824ab9f2c2a004 `train.py`: `FSDP(model, sharding_strategy=FULL_SHARD, use_orig_params=False, ...)` over the 2 GPUs; `precision` bf16 (the model cast to bfloat16, no autocast, no `MixedPrecision` policy); `torch.optim.AdamW(model.parameters(), lr, betas=(0.9, 0.95), eps=1e-5, weight_decay)` (foreach on CUDA); LoRA `lora_dropout` 0.1 on `[\"k_proj\", \"q_proj\", \"v_proj\", \"up_proj\", \"down_proj\", \"gate_proj\"]` (`lora_target_modules` \"all\"); the loop sets `output = None` only after the optimizer step (line 894), so the model's logits are held through backward. As: `framework fsdp`, `fsdp_sharding full_shard`, `num_gpus 2`, `mixed_precision false`, `optimizer_implementation foreach`, `lora_dropout 0.1`, that module list, `hold_logits true`. The runs' transformers release is not stated: where its Llama code returned fp32 logits (`logits = logits.float()` in the model before the loss), 2 bytes per logit more were held than the 16-bit logits counted (0.03 GiB at 512 tokens, 0.12 GiB at 2,048).",        apply: |r| {
            r.framework = Some(Framework::Fsdp);
            r.fsdp_sharding = Some(FsdpSharding::FullShard);
            r.num_gpus = 2;
            r.mixed_precision = false;
            r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
            r.lora_dropout = 0.1;
            r.hold_logits = true;
            r.lora_modules = ["k_proj", "q_proj", "v_proj", "up_proj", "down_proj", "gate_proj"]
                .map(String::from)
                .to_vec();
        },
    },
];

/// Every Qwen(1) row: QwenLM/Qwen@2df8e8ac450fa185c421a08b0090ef81826caa6e README.md,
/// "Profiling of Memory and Speed": "We uniformly use a batch size of 1 and gradient
/// accumulation of 8" (so the gradients stay allocated through each forward pass).
const QWEN_ACCUMULATION: u64 = 8;

fn source_setting(id: &str) -> Option<&'static SourceSetting> {
    SOURCE_SETTINGS.iter().find(|s| id.starts_with(s.prefix))
}

fn predict(row: &Value) -> f64 {
    let model = model_for(row);
    let precision = row["precision"].as_str().and_then(Precision::parse);
    let expr = row["compare_with"].as_str().unwrap();
    if row["mode"] == "inference" {
        let mut req = InferenceRequest::new(
            get_u64(row, "batch_size").unwrap(),
            get_u64(row, "prompt_tokens").unwrap(),
        );
        req.precision = precision;
        req.quantization = row["quantization"].as_str().and_then(Quantization::parse);
        req.max_new_tokens = get_u64(row, "max_new_tokens").unwrap_or(0);
        req.use_flash_attention = row["use_flash_attention"].as_bool().unwrap_or(true);
        let e = estimate_inference(&model, &req).unwrap();
        combine(expr, |name| match name {
            "model_weights" => e.model_weights.0 as f64,
            "kv_cache" => e.kv_cache.0 as f64,
            "activation_memory" => e.activation_memory.0 as f64,
            "runtime_overhead" => e.runtime_overhead.0 as f64,
            "inference_memory" => e.inference_memory.0 as f64,
            other => panic!("unknown component {other}"),
        })
    } else {
        let mut req = TrainingRequest::new(
            get_u64(row, "batch_size").unwrap(),
            get_u64(row, "sequence_length").unwrap(),
        );
        req.precision = precision;
        req.method = Method::parse(row["method"].as_str().unwrap()).unwrap();
        req.optimizer = Optimizer::parse(row["optimizer"].as_str().unwrap()).unwrap();
        req.gradient_checkpointing = row["gradient_checkpointing"].as_bool().unwrap_or(false);
        req.use_flash_attention = row["use_flash_attention"].as_bool().unwrap_or(true);
        if let Some(r) = get_u64(row, "lora_rank") {
            req.lora_rank = r;
        }
        if let Some(t) = row["lora_target"].as_str() {
            req.lora_target = LoraTarget::parse(t).unwrap();
        }
        if let Some(setting) = source_setting(row["id"].as_str().unwrap()) {
            (setting.apply)(&mut req);
        }
        let e = estimate_training(&model, &req).unwrap();
        combine(expr, |name| match name {
            "model_weights" => e.model_weights.0 as f64,
            "gradients_memory" => e.gradients_memory.0 as f64,
            "optimizer_memory" => e.optimizer_memory.0 as f64,
            "activation_memory" => e.activation_memory.0 as f64,
            "runtime_overhead" => e.runtime_overhead.0 as f64,
            "training_memory" => e.training_memory.0 as f64,
            // A moment of the step's timeline (methodology §7.6).
            "backward_end" => e.phase(StepPhase::BackwardEnd).total.0 as f64,
            other => panic!("unknown component {other}"),
        })
    }
}

fn rows(file: &str) -> Vec<Row> {
    data(file)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| Row {
            id: row["id"].as_str().unwrap().to_owned(),
            mode: row["mode"].as_str().unwrap().to_owned(),
            measured_bytes: row["measured"].as_f64().unwrap()
                * unit_bytes(row["unit"].as_str().unwrap()),
            predicted_bytes: predict(row),
            compare_with: row["compare_with"].as_str().unwrap().to_owned(),
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The markdown table and summary kept in docs/accuracy.md.
fn report(rows: &[Row]) -> String {
    let gib = 1073741824.0;
    let mut out = String::new();
    out.push_str("| row | compared with | measured (GiB) | predicted (GiB) | error |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: |\n");
    for r in rows {
        let flag = if r.error().abs() > r.tolerance() {
            " **over target**"
        } else {
            ""
        };
        writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} | {:+.1}%{} |",
            r.id,
            r.compare_with,
            r.measured_bytes / gib,
            r.predicted_bytes / gib,
            r.error() * 100.0,
            flag
        )
        .unwrap();
    }
    out.push('\n');
    let settings: Vec<&SourceSetting> = SOURCE_SETTINGS
        .iter()
        .filter(|s| rows.iter().any(|r| r.id.starts_with(s.prefix)))
        .collect();
    if !settings.is_empty() {
        out.push_str("Training rows are predicted under the settings their sources ran in:\n\n");
        for s in settings {
            writeln!(out, "- `{}*`: {}", s.prefix, s.words).unwrap();
        }
        out.push('\n');
    }
    for (mode, tol) in [
        ("inference", INFERENCE_TOLERANCE),
        ("training", TRAINING_TOLERANCE),
    ] {
        let errs: Vec<f64> = rows
            .iter()
            .filter(|r| r.mode == mode)
            .map(|r| r.error().abs())
            .collect();
        let Some(worst) = rows
            .iter()
            .filter(|r| r.mode == mode)
            .max_by(|a, b| a.error().abs().total_cmp(&b.error().abs()))
        else {
            continue;
        };
        let within = errs.iter().filter(|e| **e <= tol).count();
        writeln!(
            out,
            "- {mode}: {} rows, median |error| {:.1}%, worst {:+.1}% ({}), {within}/{} within the {:.0}% target",
            errs.len(),
            median(errs.clone()) * 100.0,
            worst.error() * 100.0,
            worst.id,
            errs.len(),
            tol * 100.0
        )
        .unwrap();
    }
    out
}

const BEGIN: &str = "<!-- accuracy-table:begin -->\n";
const END: &str = "<!-- accuracy-table:end -->";

fn docs_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/accuracy.md")
}

#[test]
fn accuracy_table_in_docs_is_current() {
    let table = format!(
        "### Reference data (`tests/data/{REFERENCE}`)\n\n{}\n### Further rows of the same tables (`tests/data/{EXTRA}`)\n\n{}",
        report(&rows(REFERENCE)),
        report(&rows(EXTRA))
    );
    println!("{table}");
    let path = docs_path();
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let (start, end) = match (doc.find(BEGIN), doc.find(END)) {
        (Some(s), Some(e)) if s < e => (s + BEGIN.len(), e),
        _ => panic!("docs/accuracy.md lacks the accuracy-table markers"),
    };
    if std::env::var_os("ACCURACY_UPDATE").is_some() {
        let updated = format!("{}{}{}", &doc[..start], table, &doc[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        doc[start..end],
        table,
        "docs/accuracy.md is stale: rerun with ACCURACY_UPDATE=1"
    );
}

/// Rows outside their target today, each with the largest |error| it may have: the
/// error measured when the entry was written, plus half a percentage point. This is a
/// ratchet: a change that makes a listed row worse, or any other row miss its target,
/// fails; a listed row that reaches its target fails too, until it is taken off the
/// list (tighten as the model improves). Regenerating `docs/accuracy.md` changes none
/// of this. Why each row misses: `docs/accuracy.md`.
const KNOWN_MISSES: &[(&str, f64)] = &[
    // Reference data: the AWQ stack's KV growth (1.12x per prompt token).
    ("qwen3-8b-awq-p30720", 0.057),
    // Reference data, each under the settings its source ran in (SOURCE_SETTINGS):
    // DeepSpeed ZeRO-2 full fine-tuning is 11.5-12 % low at every length but s4096
    // (a memory step the other lengths do not show).
    ("qwen-1.8b-full-s4096", 0.180),
    // LoRA under the plain Trainer: 1.8 GiB at every length that no tensor accounts for.
    ("qwen-1.8b-lora-s256", 0.276),
    ("qwen-1.8b-lora-s512", 0.282),
    ("qwen-1.8b-lora-s1024", 0.259),
    ("qwen-1.8b-lora-s2048", 0.268),
    ("qwen-1.8b-lora-s4096", 0.277),
    // Qwen(1)'s QLoRA stack runs a GPTQ base, not the NF4 the row states.
    ("qwen-1.8b-qlora-s8192", 0.162),
    // Further rows: the same AWQ stack.
    ("qwen3-4b-awq-p14336", 0.064),
    ("qwen3-4b-awq-p30720", 0.081),
];

#[test]
fn every_row_within_its_target_or_its_ratchet() {
    let mut problems = Vec::new();
    let all: Vec<Row> = rows(REFERENCE).into_iter().chain(rows(EXTRA)).collect();
    for (id, _) in KNOWN_MISSES {
        assert!(
            all.iter().any(|r| r.id == *id),
            "unknown row {id} in KNOWN_MISSES"
        );
    }
    for r in &all {
        let err = r.error().abs();
        match KNOWN_MISSES.iter().find(|(id, _)| *id == r.id) {
            None if err > r.tolerance() => problems.push(format!(
                "{}: {:+.1}% is outside the {:.0}% target",
                r.id,
                r.error() * 100.0,
                r.tolerance() * 100.0
            )),
            Some((_, bound)) if err > *bound => problems.push(format!(
                "{}: {:+.1}% is worse than its ratchet ({:.1}%)",
                r.id,
                r.error() * 100.0,
                bound * 100.0
            )),
            Some(_) if err <= r.tolerance() => problems.push(format!(
                "{}: {:+.1}% now meets its target: take it off KNOWN_MISSES",
                r.id,
                r.error() * 100.0
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The summary line of each mode, as `report` writes it.
struct Summary {
    rows: usize,
    within: usize,
    median: f64,
    worst: f64,
}

fn summary(rows: &[Row], mode: &str) -> Summary {
    let mode_rows: Vec<&Row> = rows.iter().filter(|r| r.mode == mode).collect();
    let errors: Vec<f64> = mode_rows.iter().map(|r| r.error().abs()).collect();
    let worst = mode_rows
        .iter()
        .map(|r| r.error())
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap();
    Summary {
        rows: errors.len(),
        within: mode_rows
            .iter()
            .filter(|r| r.error().abs() <= r.tolerance())
            .count(),
        median: median(errors),
        worst,
    }
}

/// A percentage as the prose writes it: one decimal, a real minus sign, a space.
fn prose_percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0).replace('-', "\u{2212}")
}

#[test]
fn readme_and_narrative_quote_the_generated_figures() {
    let reference = rows(REFERENCE);
    let extra = rows(EXTRA);
    let inf = summary(&reference, "inference");
    let train = summary(&reference, "training");
    let further = summary(&extra, "inference");
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let claim = format!(
        "Against {} published measurements (`docs/accuracy.md`, regenerated by the test suite):\ninference rows median error {}, {} of {} within 5 % (worst {}); training rows\n{} of {} within 15 %.",
        reference.len(),
        prose_percent(inf.median),
        inf.within,
        inf.rows,
        prose_percent(inf.worst),
        train.within,
        train.rows,
    );
    assert!(readme.contains(&claim), "README should say:\n{claim}");
    let doc = std::fs::read_to_string(docs_path()).unwrap();
    for headline in [
        format!(
            "**Inference: {} of {} rows within 5 %.**",
            inf.within, inf.rows
        ),
        format!(
            "**Further rows: {} of {} within 5 %.**",
            further.within, further.rows
        ),
        format!(
            "**Training: {} of {} rows within 15 %.**",
            train.within, train.rows
        ),
    ] {
        assert!(
            doc.contains(&headline),
            "docs/accuracy.md should say {headline}"
        );
    }
    // Single rows the narrative quotes.
    let all: Vec<&Row> = reference.iter().chain(&extra).collect();
    for (id, quoted) in [
        ("qwen3-8b-awq-p30720", "`qwen3-8b-awq-p30720` at {}"),
        ("qwen3-4b-awq-p14336", "{} and"),
        ("qwen3-4b-awq-p30720", "and {})"),
    ] {
        let row = all.iter().find(|r| r.id == id).unwrap();
        let text = quoted.replace("{}", &prose_percent(row.error()));
        assert!(doc.contains(&text), "docs/accuracy.md should say {text}");
    }
}
