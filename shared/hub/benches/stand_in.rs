//! The time of a Hub miss, against the stand-in Hub on loopback (`testkit::hub`): a
//! repository's whole read (config.json, index, two range requests per shard; or, laid
//! out as huggingface.co serves files, one redirected request per shard and the model
//! API's count) with a fresh client and cache each time, and a read the container's
//! cache answers. The
//! real Hub adds its network round trips to the first; the second does not reach it.
//! `cargo bench -p hub`.

use criterion::{criterion_group, criterion_main, Criterion};
use hub::{Endpoint, Hub};
use testkit::hub::{StandInHub, DENSE, MOE, ON_STORAGE_HOST};

fn reads(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stand_in = runtime.block_on(StandInHub::start());
    let endpoint = Endpoint::parse(stand_in.url()).unwrap();
    for (name, repo) in [
        ("dense, 4 shards", DENSE),
        ("moe, 16 shards", MOE),
        ("dense, 4 shards on a storage host", ON_STORAGE_HOST),
    ] {
        c.bench_function(&format!("miss: {name}"), |b| {
            b.iter(|| {
                let hub = Hub::new(endpoint.clone(), None);
                runtime.block_on(hub.repo(repo, "main")).unwrap()
            })
        });
    }
    let warm = Hub::new(endpoint.clone(), None);
    runtime.block_on(warm.repo(DENSE, "main")).unwrap();
    c.bench_function("cached", |b| {
        b.iter(|| runtime.block_on(warm.repo(DENSE, "main")).unwrap())
    });
}

criterion_group!(benches, reads);
criterion_main!(benches);
