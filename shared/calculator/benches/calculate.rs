//! One inference and one training calculation on a registry model (parsed once, as in
//! a warm Lambda). Run: `cargo bench -p calculator`.

use std::hint::black_box;

use calculator::{
    estimate_inference, estimate_training, InferenceRequest, Method, RegistryEntry, TrainingRequest,
};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let model = &RegistryEntry::lookup("Llama-3.1-8B")
        .expect("registry model")
        .model;
    let mut inference = InferenceRequest::new(4, 4096);
    inference.max_new_tokens = 512;
    let mut training = TrainingRequest::new(4, 4096);
    training.method = Method::Lora;
    training.gradient_checkpointing = true;

    c.bench_function("inference Llama-3.1-8B b4 s4096+512", |b| {
        b.iter(|| estimate_inference(black_box(model), black_box(&inference)))
    });
    c.bench_function("training LoRA Llama-3.1-8B b4 s4096", |b| {
        b.iter(|| estimate_training(black_box(model), black_box(&training)))
    });
    c.bench_function("registry lookup (case-insensitive)", |b| {
        b.iter(|| RegistryEntry::lookup(black_box("meta-llama/llama-3.1-8b")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
