//! The planner on the embedded catalog: which split each candidate gets, what it
//! holds, what it lacks, what runs where, and what a plan refuses.

use calculator::{
    resolve_name, Bytes, Engine, Framework, InferenceRequest, Model, Offload, Precision,
    RegistryEntry, TrainingRequest, VllmSettings, VllmVersion, WarningCode, DEFAULT_VLLM_VERSION,
};
use planner::performance::{longest, predict, Demand, Serving, Traffic};
use planner::{
    plan, Candidate, CandidateServing, Catalog, Constraints, CustomGpu, Estimate, Parallelism,
    Plan, PlanRequest, PlanTraffic, Workload, HOURS_PER_MONTH, SEARCH_ORDER,
};

fn model(name: &str) -> Model {
    resolve_name(name).unwrap().model.into_owned()
}

fn serving(batch: u64, len: u64) -> InferenceRequest {
    let mut r = InferenceRequest::new(batch, len);
    r.engine = Engine::Vllm(VllmSettings::new(Bytes(0)));
    r
}

fn request(workload: Workload, edit: impl FnOnce(&mut Constraints)) -> PlanRequest {
    let mut constraints = Constraints {
        gpus: vec![],
        instance_types: vec![],
        max_gpus: None,
        // What the API defaults a vLLM plan to: the current vLLM's own share.
        gpu_memory_utilization: DEFAULT_VLLM_VERSION.default_gpu_memory_utilization(),
        concurrent_sequences: None,
        search: false,
    };
    edit(&mut constraints);
    PlanRequest {
        workload,
        constraints,
        custom_gpus: vec![],
        traffic: None,
        unit: calculator::Unit::Gb,
    }
}

fn run(model_name: &str, req: &PlanRequest) -> Plan {
    plan(&model(model_name), req, Catalog::embedded()).unwrap()
}

fn row<'a>(p: &'a Plan, instance: &str) -> &'a Candidate {
    p.candidates
        .iter()
        .find(|c| c.instance.as_deref() == Some(instance))
        .unwrap_or_else(|| panic!("no row for {instance}"))
}

fn tensor(c: &Candidate) -> (u64, u64) {
    match c.parallelism {
        Parallelism::Tensor {
            tensor_parallel,
            replicas,
            ..
        } => (tensor_parallel, replicas),
        Parallelism::Data { .. } => panic!("inference rows are tensor parallel"),
    }
}

#[test]
fn the_smallest_degree_that_meets_the_requirement_is_chosen() {
    // 141 GB of weights: under vLLM 0.11-0.20 at 0.9, TP 2 holds one 8k request per
    // replica, four replicas.
    let mut v020 = serving(1, 8192);
    v020.engine = Engine::Vllm(VllmSettings::of_version(Bytes(0), VllmVersion::Upto020));
    let one = run(
        "Llama-3.1-70B",
        &request(Workload::Inference(v020), |c| {
            c.gpu_memory_utilization = 0.9
        }),
    );
    let p5 = row(&one, "p5.48xlarge");
    assert!(p5.fits);
    assert_eq!(tensor(p5), (2, 4));
    // From 0.21 the 2.5 GiB graph allowance of 80 layers comes out of the budget,
    // which 0.92 does not make up for here: 1.2 GiB are left for a 1.25 GiB request,
    // and TP 4 is the smallest degree.
    let current = run(
        "Llama-3.1-70B",
        &request(Workload::Inference(serving(1, 8192)), |_| {}),
    );
    assert_eq!(tensor(row(&current, "p5.48xlarge")), (4, 2));
    // A hundred concurrent requests need the KV space of four GPUs per replica.
    let hundred = run(
        "Llama-3.1-70B",
        &request(Workload::Inference(serving(1, 8192)), |c| {
            c.concurrent_sequences = Some(100)
        }),
    );
    let p5 = row(&hundred, "p5.48xlarge");
    assert_eq!(tensor(p5), (4, 2));
    assert!(p5.concurrent_sequences.unwrap() >= 100);
    let p = one;
    // One H100 cannot hold the weights: what is missing is said in numbers.
    let single = row(&p, "p5.4xlarge");
    assert!(!single.fits);
    let missing = single.missing.as_deref().unwrap();
    assert!(
        missing.starts_with("needs ") && missing.contains("at TP 1"),
        "{missing}"
    );
}

#[test]
fn a_defaulted_max_num_seqs_is_raised_to_what_a_replica_holds() {
    // 300 concurrent 512-token requests of Qwen3-0.6B fit one L4's KV pool, but
    // vllm serve's default max_num_seqs on it is 256: the plan raises it and says so.
    let p = run(
        "Qwen3-0.6B",
        &request(Workload::Inference(serving(1, 512)), |c| {
            c.instance_types = vec!["g6.xlarge".into()];
            c.concurrent_sequences = Some(300);
        }),
    );
    let c = &p.candidates[0];
    assert!(c.fits, "{:?}", c.missing);
    assert_eq!(c.estimate.vllm().unwrap().max_num_seqs, 300);
    assert!(
        c.notes
            .iter()
            .any(|n| n.code == WarningCode::MaxNumSeqsRaised
                && n.message.contains("--max-num-seqs 300")),
        "{:?}",
        c.notes
    );
    // A value the request gives is kept, and what it limits is said.
    let mut given = serving(1, 512);
    if let Engine::Vllm(s) = &mut given.engine {
        s.max_num_seqs = Some(256);
    }
    let p = run(
        "Qwen3-0.6B",
        &request(Workload::Inference(given), |c| {
            c.instance_types = vec!["g6.xlarge".into()];
            c.concurrent_sequences = Some(300);
        }),
    );
    let c = &p.candidates[0];
    assert!(!c.fits);
    assert!(
        c.missing
            .as_deref()
            .unwrap()
            .starts_with("max_num_seqs (256) limits"),
        "{:?}",
        c.missing
    );
}

#[test]
fn tensor_parallel_degrees_divide_the_heads() {
    // Qwen2.5-7B: 28 query heads, 4 key/value heads: 8 divides neither.
    let p = run(
        "Qwen2.5-7B-Instruct",
        &request(Workload::Inference(serving(1, 4096)), |c| {
            c.instance_types = vec!["p5.48xlarge".into()];
            c.concurrent_sequences = Some(100_000);
        }),
    );
    let (tp, replicas) = tensor(&p.candidates[0]);
    assert!(28 % tp == 0 && tp * replicas == 8 && tp < 8, "TP {tp}");
}

#[test]
fn capacity_is_replicas_times_whole_requests_in_the_pool() {
    let p = run(
        "Llama-3.1-8B",
        &request(Workload::Inference(serving(1, 8192)), |c| {
            c.instance_types = vec!["g6e.12xlarge".into()]
        }),
    );
    let c = &p.candidates[0];
    let (tp, replicas) = tensor(c);
    assert_eq!((tp, replicas), (1, 4));
    let v = c.estimate.vllm().unwrap();
    // 32 layers x 8 KV heads x 128 x 2 (K, V) x 2 bytes x 16 tokens per block.
    let page_all_layers = 32 * 8 * 128 * 2 * 2 * 16;
    assert_eq!(
        v.num_blocks,
        v.available_kv_cache_memory.0 / page_all_layers
    );
    assert_eq!(v.kv_cache_tokens, v.num_blocks * 16);
    assert_eq!(v.max_sequences, v.num_blocks / (8192 / 16));
    assert_eq!(c.concurrent_sequences, Some(4 * v.max_sequences));
    assert_eq!(c.max_batch_size, Some(v.max_sequences));
    // L40S (46,068 MiB, under 70 GiB): vllm serve's small default batch.
    assert_eq!((v.max_num_batched_tokens, v.max_num_seqs), (2048, 256));
}

#[test]
fn formats_run_where_a_kernel_exists() {
    let fp8 = run(
        "Qwen/Qwen3-8B-FP8",
        &request(Workload::Inference(serving(1, 4096)), |_| {}),
    );
    let t4 = fp8
        .excluded
        .iter()
        .find(|e| e.instance.as_deref() == Some("g4dn.xlarge"));
    assert!(t4.unwrap().reason.contains("compute capability 7.5"));
    let g5 = &row(&fp8, "g5.xlarge").notes[0];
    assert_eq!(g5.code, WarningCode::KernelFallback);
    assert!(g5.message.contains("weight"));
    assert!(row(&fp8, "p5.4xlarge").notes.is_empty());
    let bf16 = run(
        "Qwen3-0.6B",
        &request(Workload::Inference(serving(1, 4096)), |_| {}),
    );
    let t4 = &row(&bf16, "g4dn.xlarge").notes[0];
    assert_eq!(t4.code, WarningCode::KernelFallback);
    assert!(t4.message.contains("float16"));
}

#[test]
fn a_workload_that_fits_nowhere_says_what_it_lacks() {
    let p = run(
        "Llama-3.1-405B",
        &request(Workload::Inference(serving(1, 8192)), |c| {
            c.max_gpus = Some(1)
        }),
    );
    assert!(p.cheapest().is_none() && !p.candidates.is_empty());
    assert!(p.candidates.iter().all(|c| c.missing.is_some()));
    assert!(
        p.summary()
            .starts_with("nothing fits; the largest candidate"),
        "{}",
        p.summary()
    );
}

#[test]
fn training_is_data_parallel_over_the_instance() {
    let mut r = TrainingRequest::new(1, 2048);
    r.zero_stage = 3;
    let p = run(
        "Llama-3.1-8B",
        &request(Workload::Training(r), |c| {
            c.instance_types = vec!["p4de.24xlarge".into(), "g5.xlarge".into()]
        }),
    );
    let a100 = row(&p, "p4de.24xlarge");
    assert!(a100.fits);
    assert_eq!(
        a100.parallelism,
        Parallelism::Data {
            gpus: 8,
            framework: Framework::Deepspeed,
            zero_stage: 3
        }
    );
    // The missing memory names the framework and its sharding.
    let g5 = row(&p, "g5.xlarge");
    assert!(
        g5.missing
            .as_deref()
            .unwrap()
            .contains("with DeepSpeed ZeRO stage 3"),
        "{:?}",
        g5.missing
    );
    assert!(a100.max_batch_size.unwrap() >= 1);
    assert!(!row(&p, "g5.xlarge").fits);
    assert!(p.candidates[0].fits, "fitting rows come first");
}

#[test]
fn offloaded_training_fits_the_host_or_says_what_it_lacks() {
    // Llama-3.1-405B, full fine-tune, ZeRO-3 with optimizer and parameters on the CPU:
    // some 18 bytes a parameter on the host (7.3 TB), 1.5 times that with DeepSpeed's
    // allowance. No single node of the catalog has that much RAM.
    let mut r = TrainingRequest::new(1, 1024);
    r.zero_stage = 3;
    r.gradient_checkpointing = true;
    r.offload_optimizer = Offload::Cpu;
    r.offload_parameters = Offload::Cpu;
    let p = run(
        "Llama-3.1-405B",
        &request(Workload::Training(r.clone()), |c| {
            c.instance_types = vec!["g6e.xlarge".into(), "p5.48xlarge".into()]
        }),
    );
    for name in ["g6e.xlarge", "p5.48xlarge"] {
        let c = row(&p, name);
        assert!(!c.fits, "{name} cannot hold 405B's offloaded state");
        let missing = c.missing.as_deref().unwrap();
        assert!(
            missing.contains("of host memory per node with DeepSpeed's 1.5 buffer allowance"),
            "{missing}"
        );
        assert!(missing.contains(&format!("{name} has")), "{missing}");
    }
    // The same offload for an 8B model fits a p5's 2 TiB, and a g6e.xlarge's 32 GiB
    // does not hold its 8 B x 18 bytes.
    let p = run(
        "Llama-3.1-8B",
        &request(Workload::Training(r.clone()), |c| {
            c.instance_types = vec!["g6e.xlarge".into(), "p5.48xlarge".into()]
        }),
    );
    assert!(row(&p, "p5.48xlarge").fits);
    let g6e = row(&p, "g6e.xlarge");
    assert!(!g6e.fits);
    assert!(
        g6e.missing.as_deref().unwrap().contains("host memory"),
        "{:?}",
        g6e.missing
    );
    // NVMe swap on an instance with EBS storage only.
    r.offload_optimizer = Offload::Nvme;
    r.offload_parameters = Offload::Nvme;
    let p = run(
        "Llama-3.1-8B",
        &request(Workload::Training(r), |c| {
            c.instance_types = vec!["p3.16xlarge".into(), "p4d.24xlarge".into()]
        }),
    );
    let p3 = row(&p, "p3.16xlarge");
    assert!(
        p3.missing
            .as_deref()
            .unwrap_or("")
            .contains("local NVMe per node; p3.16xlarge has none (EBS storage only)"),
        "{:?}",
        p3.missing
    );
    assert!(row(&p, "p4d.24xlarge").fits);
}

#[test]
fn non_cuda_accelerators_only_when_named_and_custom_gpus_priced_per_gpu() {
    let base = Workload::Inference(serving(1, 4096));
    let all = run("Qwen3-0.6B", &request(base.clone(), |_| {}));
    assert!(all.candidates.iter().all(|c| !c.gpu.starts_with("AWS")));
    let named = run(
        "Qwen3-0.6B",
        &request(base.clone(), |c| {
            c.gpus = vec!["AWS Inferentia2 (per chip)".into()]
        }),
    );
    assert!(named.candidates.iter().all(|c| c.gpu.starts_with("AWS")));
    assert!(named.candidates[0]
        .notes
        .iter()
        .any(|n| n.code == WarningCode::OtherServingStack && n.message.contains("Neuron")));

    let mut req = request(base, |c| c.gpus = vec!["lab-gpu".into()]);
    req.custom_gpus = vec![CustomGpu {
        name: "lab-gpu".into(),
        memory: Bytes(24 << 30),
        usd_per_hour: Some(0.5),
        bandwidth_gbps: None,
    }];
    let custom = plan(&model("Qwen3-0.6B"), &req, Catalog::embedded()).unwrap();
    let c = &custom.candidates[0];
    assert_eq!(
        (c.instance.as_deref(), c.gpu_count, c.usd_per_hour),
        (None, 1, Some(0.5))
    );
    assert_eq!(c.usd_per_month(), Some(0.5 * HOURS_PER_MONTH));
}

#[test]
fn invalid_workloads_are_field_errors() {
    let mut r = serving(1, 4096);
    r.kv_cache_precision = Some(Precision::Int4);
    let err = plan(
        &RegistryEntry::lookup("Qwen3-0.6B").unwrap().model,
        &request(Workload::Inference(r), |_| {}),
        Catalog::embedded(),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("kv_cache_precision"), "{err}");
}

/// A plan for a traffic of `input`/`output` mean tokens at `concurrency` clients, over
/// `instances`, with optional TTFT and TPOT targets (seconds).
fn traffic_plan(
    name: &str,
    instances: &[&str],
    (input, output, concurrency): (u64, u64, u64),
    targets: (Option<f64>, Option<f64>),
) -> Plan {
    let mut workload = serving(1, longest(input));
    workload.max_new_tokens = longest(output);
    workload.precision = Some(Precision::Bfloat16);
    let mut req = request(Workload::Inference(workload), |c| {
        c.instance_types = instances.iter().map(|i| i.to_string()).collect()
    });
    req.traffic = Some(PlanTraffic {
        input_tokens: input,
        output_tokens: output,
        demand: Some(Demand::Concurrency(concurrency)),
        ttft_target: targets.0,
        tpot_target: targets.1,
        expert_parallel: false,
    });
    run(name, &req)
}

fn served(c: &Candidate) -> &CandidateServing {
    match &c.serving {
        Some(Ok(s)) => s,
        other => panic!("{:?} serves nothing: {other:?}", c.instance),
    }
}

#[test]
fn a_traffic_plan_states_speed_and_cost_and_ranks_by_the_months_spend() {
    // The case: Llama-3.1-70B in bf16, 8k prompts and 1k outputs, 20 clients.
    let p = traffic_plan(
        "Llama-3.1-70B-Instruct",
        &["g6e.48xlarge", "p5.48xlarge"],
        (8192, 1024, 20),
        (None, None),
    );
    let mut spends = Vec::new();
    for c in p.candidates.iter().filter(|c| c.fits) {
        let s = served(c);
        let perf = &s.performance;
        assert!(
            perf.ttft_seconds > 0.0 && perf.tpot_seconds > 0.0,
            "{perf:?}"
        );
        // A request lasts its first token and ~1023 more (mean e2e against medians).
        let e2e = perf.ttft_seconds + perf.tpot_seconds * 1023.0;
        assert!(
            (perf.e2e_seconds / e2e - 1.0).abs() < 0.1,
            "{} vs {e2e}",
            perf.e2e_seconds
        );
        // The clients split evenly over every replica of every instance.
        let copies = s.instances * s.replicas;
        assert_eq!(s.load, Demand::Concurrency(20u64.div_ceil(copies)));
        // A million output tokens cost the instances' hour over the hour's tokens.
        let hour = c.usd_per_hour.unwrap() * s.instances as f64;
        let million = s.usd_per_million_output_tokens.unwrap();
        assert!((million - hour / (s.output_tokens_per_s * 3600.0) * 1e6).abs() < 1e-9 * million);
        assert_eq!(s.usd_per_month_for_demand, Some(hour * HOURS_PER_MONTH));
        spends.push(s.usd_per_month_for_demand.unwrap());
    }
    assert_eq!(spends.len(), 2, "both instances hold the model");
    assert!(
        spends.windows(2).all(|w| w[0] <= w[1]),
        "ranked by the month's spend: {spends:?}"
    );
    // p5's HBM3 (3.35 TB/s a GPU) decodes faster than g6e's GDDR6 (0.86 TB/s): a token
    // comes sooner on it.
    let tpot = |i: &str| served(row(&p, i)).performance.tpot_seconds;
    assert!(tpot("p5.48xlarge") * 2.0 < tpot("g6e.48xlarge"));
}

#[test]
fn latency_targets_bound_the_load_and_say_what_they_miss() {
    let loose = traffic_plan("Qwen3-8B", &["p5.48xlarge"], (1024, 256, 256), (None, None));
    let free = served(&loose.candidates[0]);
    // A TPOT target of twice the single-request TPOT lets fewer requests share a replica.
    let one = traffic_plan("Qwen3-8B", &["p5.48xlarge"], (1024, 256, 1), (None, None));
    let alone = served(&one.candidates[0]).performance.tpot_seconds;
    let tight = traffic_plan(
        "Qwen3-8B",
        &["p5.48xlarge"],
        (1024, 256, 256),
        (None, Some(alone * 2.0)),
    );
    let bounded = served(&tight.candidates[0]);
    assert!(bounded.meets_targets);
    assert!(bounded.performance.tpot_seconds <= alone * 2.0);
    assert!(
        bounded.best_load < free.best_load,
        "{} vs {}",
        bounded.best_load,
        free.best_load
    );
    assert!(bounded.instances >= free.instances);
    // The load is the most within the target: one more request per replica misses it.
    let c = &tight.candidates[0];
    let Estimate::Inference(e) = &c.estimate else {
        panic!("an inference estimate")
    };
    let catalog = Catalog::embedded();
    let replica = Serving {
        model: &model("Qwen3-8B"),
        estimate: e,
        gpu: catalog.gpu(&c.gpu).unwrap(),
        link: catalog
            .instances
            .iter()
            .find(|i| i.name == "p5.48xlarge")
            .and_then(|i| i.interconnect.as_ref()),
        tensor_parallel: tensor(c).0,
        expert_parallel: false,
    };
    let traffic = |clients| Traffic {
        input_tokens: 1024,
        output_tokens: 256,
        demand: Demand::Concurrency(clients),
    };
    let at = |clients| {
        predict(&replica, &traffic(clients), catalog)
            .unwrap()
            .tpot_seconds
    };
    assert!(at(bounded.best_load) <= alone * 2.0);
    assert!(
        at(bounded.best_load + 1) > alone * 2.0,
        "{} is not the most",
        bounded.best_load
    );
    // A target below what one request gets misses at every split, and says by how much.
    let impossible = traffic_plan(
        "Qwen3-8B",
        &["p5.48xlarge"],
        (1024, 256, 8),
        (Some(1e-4), None),
    );
    let c = &impossible.candidates[0];
    assert!(!c.fits);
    let missing = c.missing.as_deref().unwrap();
    assert!(
        missing.contains("TTFT") && missing.contains("target 0.1 ms"),
        "{missing}"
    );
}

#[test]
fn a_split_the_weight_kernels_refuse_is_skipped_and_said() {
    // Qwen3-235B-A22B-FP8's experts are 1536 wide: 192 a GPU over eight, not whole
    // 128x128 FP8 blocks. vLLM refuses TP 8 as such; on eight 40 GB A100s TP 4 does
    // not hold the weights, so the plan offers TP 8 with expert parallelism, which
    // keeps each expert whole on one GPU.
    let p = run(
        "Qwen/Qwen3-235B-A22B-FP8",
        &request(Workload::Inference(serving(1, 4096)), |c| {
            c.instance_types = vec!["p4d.24xlarge".into()]
        }),
    );
    let c = row(&p, "p4d.24xlarge");
    assert_eq!(tensor(c), (8, 1));
    assert!(
        matches!(
            c.parallelism,
            Parallelism::Tensor {
                expert_parallel: true,
                ..
            }
        ),
        "{:?}",
        c.parallelism
    );
    assert!(c.fits, "{:?}", c.missing);
    let note = c
        .notes
        .iter()
        .find(|n| n.code == WarningCode::TensorParallelRefused)
        .expect("the skipped degree is said");
    assert!(
        note.message.contains("tensor parallel 8 skipped"),
        "{}",
        note.message
    );
    assert!(note.message.contains("192 wide"), "{}", note.message);
    assert!(note.message.contains("expert parallel"), "{}", note.message);
    assert!(
        note.message
            .ends_with("tried with expert parallelism instead"),
        "{}",
        note.message
    );
    // A dense model is never offered expert parallelism.
    let dense = run(
        "Llama-3.1-8B",
        &request(Workload::Inference(serving(1, 4096)), |c| {
            c.instance_types = vec!["p4d.24xlarge".into()]
        }),
    );
    assert!(matches!(
        row(&dense, "p4d.24xlarge").parallelism,
        Parallelism::Tensor {
            expert_parallel: false,
            ..
        }
    ));
    // On eight H200s a smaller degree holds it.
    let p = run(
        "Qwen/Qwen3-235B-A22B-FP8",
        &request(Workload::Inference(serving(1, 4096)), |c| {
            c.instance_types = vec!["p5en.48xlarge".into()]
        }),
    );
    let c = row(&p, "p5en.48xlarge");
    assert!(c.fits && tensor(c).0 < 8, "{:?}", tensor(c));
}

#[test]
fn training_that_one_node_cannot_hold_spans_the_fewest_nodes_that_do() {
    // A Llama-3.1-405B full fine-tune, ZeRO-3 with activation checkpointing: some
    // 16 bytes a parameter of state, 6.5 TB. Eight H200s (1.1 TB) cannot hold it; so
    // many of them can.
    let mut r = TrainingRequest::new(1, 2048);
    r.zero_stage = 3;
    r.gradient_checkpointing = true;
    let p = run(
        "Llama-3.1-405B",
        &request(Workload::Training(r.clone()), |c| {
            c.instance_types = vec![
                "p5en.48xlarge".into(),
                "p5.48xlarge".into(),
                "g6e.4xlarge".into(),
            ]
        }),
    );
    let h200 = row(&p, "p5en.48xlarge");
    assert!(h200.fits, "{:?}", h200.missing);
    assert!(h200.nodes > 1 && h200.nodes <= 16, "{}", h200.nodes);
    eprintln!("405B full fine-tune: {} x p5en.48xlarge", h200.nodes);
    assert_eq!(h200.gpu_count, 8 * h200.nodes);
    // Fewer nodes would not hold it: the row is the fewest.
    let fewer = run(
        "Llama-3.1-405B",
        &request(Workload::Training(r.clone()), |c| {
            c.instance_types = vec!["p5en.48xlarge".into()];
            c.max_gpus = Some(8 * h200.nodes / 2);
        }),
    );
    assert!(!row(&fewer, "p5en.48xlarge").fits);
    // Priced as that many instances.
    let one = Catalog::embedded()
        .instances
        .iter()
        .find(|i| i.name == "p5en.48xlarge")
        .unwrap()
        .usd_per_hour
        .unwrap();
    assert!((h200.usd_per_hour.unwrap() - one * h200.nodes as f64).abs() < 1e-6);
    assert!(p.summary().contains("nodes"), "{}", p.summary());
    // H100s (80 GB) need more nodes than H200s (141 GB) for the same step.
    let h100 = row(&p, "p5.48xlarge");
    assert!(h100.fits, "{:?}", h100.missing);
    assert!(
        h100.nodes > h200.nodes && h100.nodes <= 16,
        "{}",
        h100.nodes
    );
    eprintln!("405B full fine-tune: {} x p5.48xlarge", h100.nodes);
    // Accumulating gradients over micro-batches keeps them through each forward pass:
    // then sixteen nodes of H100s fall short, and the row says so at sixteen.
    let mut accumulating = r.clone();
    accumulating.gradient_accumulation_steps = 8;
    let kept = run(
        "Llama-3.1-405B",
        &request(Workload::Training(accumulating), |c| {
            c.instance_types = vec!["p5.48xlarge".into()]
        }),
    );
    let h100 = row(&kept, "p5.48xlarge");
    assert!(!h100.fits);
    assert_eq!(h100.nodes, 16);
    assert!(
        h100.missing.as_deref().unwrap().contains("over 128 GPUs"),
        "{:?}",
        h100.missing
    );
    // An instance without EFA in the catalog is not joined to others.
    assert_eq!(row(&p, "g6e.4xlarge").nodes, 1);
    // DDP keeps a whole replica per GPU: more nodes would not help, and are not offered.
    let mut ddp = TrainingRequest::new(1, 2048);
    ddp.framework = Some(Framework::Transformers);
    let p = run(
        "Llama-3.1-70B",
        &request(Workload::Training(ddp), |c| {
            c.instance_types = vec!["p5.48xlarge".into()]
        }),
    );
    assert_eq!(row(&p, "p5.48xlarge").nodes, 1);
}

#[test]
fn serving_that_one_node_cannot_hold_runs_in_pipeline_stages_across_nodes() {
    // Llama-3.1-405B in bf16: 811 GB of weights, more than eight H100s (640 GB) hold;
    // two p5.48xlarge serve it at TP 8 within a node, one pipeline stage a node.
    let p = run(
        "Llama-3.1-405B",
        &request(Workload::Inference(serving(1, 8192)), |c| {
            c.instance_types = vec!["p5.48xlarge".into(), "p5en.48xlarge".into()]
        }),
    );
    let h100 = row(&p, "p5.48xlarge");
    assert!(h100.fits, "{:?}", h100.missing);
    assert_eq!((h100.nodes, h100.gpu_count), (2, 16));
    // The longest context the two stages hold, at least the 8,192 asked for.
    let longest = h100.max_sequence_length.expect("a longest context");
    assert!(longest >= 8192, "{longest}");
    assert!(matches!(
        h100.parallelism,
        Parallelism::Tensor {
            tensor_parallel: 8,
            pipeline_parallel: 2,
            replicas: 1,
            ..
        }
    ));
    // The row says how the nodes are joined: EFA, with the catalog's bandwidth.
    let joined = h100
        .notes
        .iter()
        .find(|w| w.code == WarningCode::NodesJoined)
        .expect("a nodes_joined note");
    assert!(
        joined
            .message
            .contains("2 p5.48xlarge instances joined over EFA (32 interfaces, 3200 Gbit/s"),
        "{}",
        joined.message
    );
    // Eight H200s (1.1 TB) hold it on one node, and say nothing of nodes.
    let h200 = row(&p, "p5en.48xlarge");
    assert_eq!(h200.nodes, 1);
    assert!(h200
        .notes
        .iter()
        .all(|w| w.code != WarningCode::NodesJoined));
    // DeepSeek-V3 in bf16 (1.34 TB): two nodes of H200s.
    let mut bf16 = serving(1, 8192);
    bf16.precision = Some(Precision::Bfloat16);
    let p = run(
        "DeepSeek-V3",
        &request(Workload::Inference(bf16), |c| {
            c.instance_types = vec!["p5en.48xlarge".into()]
        }),
    );
    let h200 = row(&p, "p5en.48xlarge");
    assert!(h200.fits, "{:?}", h200.missing);
    assert_eq!(h200.nodes, 2);
    // With a traffic the serving model cannot time a pipeline, and the row says so.
    let p = traffic_plan(
        "Llama-3.1-405B",
        &["p5.48xlarge"],
        (1000, 100, 4),
        (None, None),
    );
    let c = row(&p, "p5.48xlarge");
    assert!(!c.fits);
    assert!(
        c.missing.as_deref().unwrap().contains("pipeline stages"),
        "{:?}",
        c.missing
    );
}

#[test]
fn a_training_search_takes_the_first_setting_that_fits_each_candidate() {
    // Llama-3.1-8B, full fine-tune at 4,096 tokens: eight H100s hold it without
    // sharding much, one L40S only with ZeRO-3 and the optimizer on its host.
    let r = TrainingRequest::new(1, 4096);
    let p = run(
        "Llama-3.1-8B",
        &request(Workload::Training(r), |c| {
            c.instance_types = vec!["p5.48xlarge".into(), "g6e.4xlarge".into()];
            c.search = true;
        }),
    );
    let said = |c: &Candidate| {
        c.notes
            .iter()
            .find(|n| n.code == WarningCode::TrainingSettingSearched)
            .map(|n| n.message.clone())
            .expect("the search is said")
    };
    let p5 = row(&p, "p5.48xlarge");
    assert!(p5.fits);
    let Parallelism::Data {
        zero_stage: p5_stage,
        ..
    } = p5.parallelism
    else {
        panic!()
    };
    let g6e = row(&p, "g6e.4xlarge");
    let Parallelism::Data {
        zero_stage: g6e_stage,
        ..
    } = g6e.parallelism
    else {
        panic!()
    };
    assert!(g6e_stage >= p5_stage, "{} vs {}", said(g6e), said(p5));
    assert!(
        said(p5).contains("is the first setting that fits"),
        "{}",
        said(p5)
    );
    // Each setting before the one chosen does not fit that candidate.
    let chosen = SEARCH_ORDER
        .iter()
        .position(|s| {
            said(p5).starts_with(&format!("search: DeepSpeed ZeRO stage {}", s.zero_stage))
        })
        .unwrap();
    for s in &SEARCH_ORDER[..chosen] {
        let mut r = TrainingRequest::new(1, 4096);
        r.framework = Some(Framework::Deepspeed);
        r.zero_stage = s.zero_stage;
        r.gradient_checkpointing = s.gradient_checkpointing;
        // One node, as the search's row (more nodes are tried only when no setting
        // fits one).
        let p = run(
            "Llama-3.1-8B",
            &request(Workload::Training(r), |c| {
                c.instance_types = vec!["p5.48xlarge".into()];
                c.max_gpus = Some(8);
            }),
        );
        assert!(
            !row(&p, "p5.48xlarge").fits,
            "{s:?} fits but was passed over"
        );
    }
    // Without the search the request's own setting (DDP) is kept, and does not fit
    // the L40S.
    let p = run(
        "Llama-3.1-8B",
        &request(Workload::Training(TrainingRequest::new(1, 4096)), |c| {
            c.instance_types = vec!["g6e.4xlarge".into()]
        }),
    );
    assert!(!row(&p, "g6e.4xlarge").fits);
}

#[test]
fn data_parallel_attention_holds_more_latent_caches_than_tensor_parallelism() {
    // DeepSeek-V3 on eight H200s: at TP 8 every GPU keeps the latent cache of every
    // request (MLA has one key/value head); as eight data-parallel ranks sharing the
    // experts, each keeps its own requests' only. Offered only where no degree holds
    // what is asked as such: TP 8 is kept while it holds the requests.
    let run_for = |concurrent: Option<u64>| {
        run(
            "DeepSeek-V3",
            &request(Workload::Inference(serving(1, 8192)), |c| {
                c.instance_types = vec!["p5en.48xlarge".into()];
                c.concurrent_sequences = concurrent;
            }),
        )
    };
    let p = run_for(None);
    let tp8 = row(&p, "p5en.48xlarge");
    assert!(tp8.fits);
    assert_eq!(tensor(tp8), (8, 1));
    let held = tp8.concurrent_sequences.unwrap();
    let p = run_for(Some(2 * held));
    let c = row(&p, "p5en.48xlarge");
    assert!(c.fits, "{:?}", c.missing);
    assert!(
        matches!(
            c.parallelism,
            Parallelism::Tensor {
                data_parallel_attention: true,
                expert_parallel: true,
                pipeline_parallel: 1,
                ..
            }
        ),
        "{:?}",
        c.parallelism
    );
    assert!(c.concurrent_sequences.unwrap() >= 2 * held);
    // Its serving is not timed, and says so.
    assert!(matches!(&c.serving, Some(Err(why)) if why.contains("data-parallel attention")));
}
