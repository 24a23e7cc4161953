//! The catalog's facts pinned as their sources state them (`data/catalog.json` cites
//! each): changing a GPU's memory, bandwidth or compute capability, the month the
//! prices are quoted for, or the number of instances fails here, not only where a plan
//! happens to notice.

use calculator::{Bytes, Choice};
use planner::{
    cents, usd_per_month, Catalog, ComputeCapability, MemorySource, Platform, HOURS_PER_MONTH,
};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// `(GPU, usable memory in bytes, its source, bandwidth GB/s, compute capability)`:
/// nvidia-smi's total in MiB, rocm-smi's usable VRAM, or the vendor's binary capacity.
/// A GPU's name, usable memory in bytes, its source, bandwidth GB/s and compute
/// capability.
type Facts = (
    &'static str,
    Option<u64>,
    Option<MemorySource>,
    Option<f64>,
    Option<(u8, u8)>,
);

const GPUS: [Facts; 25] = [
    (
        "NVIDIA B200",
        Some(183_359 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(8000.0),
        Some((10, 0)),
    ),
    (
        "NVIDIA H200 SXM 141GB",
        Some(143_771 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(4800.0),
        Some((9, 0)),
    ),
    (
        "NVIDIA H100 SXM 80GB",
        Some(81_559 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(3350.0),
        Some((9, 0)),
    ),
    (
        "NVIDIA H100 PCIe 80GB",
        Some(81_559 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(2000.0),
        Some((9, 0)),
    ),
    (
        "NVIDIA H100 NVL 94GB",
        Some(95_830 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(3900.0),
        Some((9, 0)),
    ),
    (
        "NVIDIA GH200 96GB",
        Some(97_871 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(4000.0),
        Some((9, 0)),
    ),
    (
        "NVIDIA A100 80GB",
        Some(81_920 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(2039.0),
        Some((8, 0)),
    ),
    (
        "NVIDIA A100 40GB",
        Some(40_960 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(1555.0),
        Some((8, 0)),
    ),
    (
        "NVIDIA L40S 48GB",
        Some(46_068 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(864.0),
        Some((8, 9)),
    ),
    (
        "NVIDIA L40 48GB",
        Some(46_068 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(864.0),
        Some((8, 9)),
    ),
    (
        "NVIDIA L4 24GB",
        Some(23_034 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(300.0),
        Some((8, 9)),
    ),
    (
        "NVIDIA A10G 24GB",
        Some(23_028 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(600.0),
        Some((8, 6)),
    ),
    (
        "NVIDIA A10 24GB",
        Some(23_028 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(600.0),
        Some((8, 6)),
    ),
    (
        "NVIDIA T4 16GB",
        Some(15_360 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(300.0),
        Some((7, 5)),
    ),
    (
        "NVIDIA V100 16GB",
        Some(16_384 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(900.0),
        Some((7, 0)),
    ),
    (
        "NVIDIA V100 32GB",
        Some(32_768 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(900.0),
        Some((7, 0)),
    ),
    (
        "NVIDIA GeForce RTX 4090",
        Some(24_564 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(1008.0),
        Some((8, 9)),
    ),
    (
        "NVIDIA GeForce RTX 5090",
        Some(32_607 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(1792.0),
        Some((12, 0)),
    ),
    (
        "NVIDIA GeForce RTX 3090",
        Some(24_576 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(936.0),
        Some((8, 6)),
    ),
    (
        "NVIDIA RTX A6000",
        Some(46_068 * MIB),
        Some(MemorySource::NvidiaSmi),
        Some(768.0),
        Some((8, 6)),
    ),
    (
        "NVIDIA RTX 6000 Ada",
        Some(49_140 * MIB),
        Some(MemorySource::NvidiaSmiEccOff),
        Some(960.0),
        Some((8, 9)),
    ),
    (
        "AMD Instinct MI300X",
        Some(196_288 * MIB),
        Some(MemorySource::RocmSmi),
        Some(5300.0),
        None,
    ),
    ("AMD Instinct MI325X", None, None, Some(6000.0), None),
    (
        "AWS Inferentia2 (per chip)",
        Some(32 * GIB),
        Some(MemorySource::VendorStated),
        None,
        None,
    ),
    (
        "AWS Trainium (per chip)",
        Some(32 * GIB),
        Some(MemorySource::VendorStated),
        None,
        None,
    ),
];

#[test]
fn every_gpu_as_its_sources_state_it() {
    let catalog = Catalog::embedded();
    assert_eq!(catalog.gpus.len(), GPUS.len());
    for (name, memory, source, bandwidth, cc) in GPUS {
        let gpu = catalog
            .gpu(name)
            .unwrap_or_else(|| panic!("{name} not in the catalog"));
        assert_eq!(
            gpu.usable_memory,
            memory.zip(source).map(|(m, s)| (Bytes(m), s)),
            "{name}: memory"
        );
        assert_eq!(gpu.bandwidth_gbps, bandwidth, "{name}: bandwidth");
        assert_eq!(
            gpu.compute_capability,
            cc.map(|(major, minor)| ComputeCapability(major, minor)),
            "{name}: compute capability"
        );
        // CUDA GPUs compute in bfloat16 from Ampere (8.0); the others all do.
        let bf16 = cc.is_none_or(|(major, _)| major >= 8);
        assert_eq!(gpu.computes_bf16(), bf16, "{name}: bfloat16");
        // fp8 tensor cores from Ada (8.9) on CUDA.
        if gpu.platform == Platform::Cuda {
            let fp8 = cc.is_some_and(|c| c >= (8, 9));
            assert_eq!(gpu.fp8_supported, fp8, "{name}: fp8");
        }
    }
}

#[test]
fn prices_are_quoted_for_a_730_hour_month_to_the_cent() {
    // AWS's convention: 365 days × 24 hours / 12 months.
    assert_eq!(HOURS_PER_MONTH, 730.0);
    assert_eq!(usd_per_month(1.0), 730.0);
    assert_eq!(usd_per_month(0.526), 383.98);
    assert_eq!(cents(0.125), 0.13);
}

#[test]
fn every_instance_carries_a_catalog_gpu_with_a_price() {
    let catalog = Catalog::embedded();
    assert_eq!(catalog.instances.len(), 27);
    for i in &catalog.instances {
        let gpu = catalog
            .gpu(&i.gpu)
            .unwrap_or_else(|| panic!("{}: unknown GPU", i.name));
        assert!(i.gpu_count >= 1 && i.usd_per_hour.is_some(), "{}", i.name);
        assert!(gpu.usable_memory.is_some(), "{}", gpu.name);
    }
    assert_eq!(
        Platform::names(),
        ["cuda", "rocm", "neuron"],
        "the platforms the catalog names"
    );
}

/// A GPU and its dense bf16, fp8, fp4 and int8 figures.
type Pin = (
    &'static str,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

#[test]
fn dense_tensor_throughput_by_dtype_as_sourced() {
    let catalog = Catalog::embedded();
    // (GPU, bf16, fp8, fp4, int8), TFLOP/s (TOP/s for int8) without sparsity.
    let pins: [Pin; 5] = [
        (
            "NVIDIA B200",
            Some(2250.0),
            Some(4500.0),
            Some(9000.0),
            Some(4500.0),
        ),
        (
            "NVIDIA H100 SXM 80GB",
            Some(989.0),
            Some(1979.0),
            None,
            Some(1979.0),
        ),
        (
            "NVIDIA L40S 48GB",
            Some(362.0),
            Some(733.0),
            None,
            Some(733.0),
        ),
        ("NVIDIA A100 80GB", Some(312.0), None, None, Some(624.0)),
        (
            "AMD Instinct MI300X",
            Some(1300.0),
            Some(2610.0),
            None,
            Some(2600.0),
        ),
    ];
    for (name, bf16, fp8, fp4, int8) in pins {
        let g = catalog.gpu(name).unwrap();
        assert_eq!(
            (
                g.bf16_dense_tflops,
                g.fp8_dense_tflops,
                g.fp4_dense_tflops,
                g.int8_dense_tops
            ),
            (bf16, fp8, fp4, int8),
            "{name}"
        );
    }
    for g in &catalog.gpus {
        // fp4 tensor cores from Blackwell (10.0) only; fp8 figures only where fp8 runs.
        if g.fp4_dense_tflops.is_some() {
            assert!(
                g.compute_capability
                    .is_some_and(|c| c >= ComputeCapability(10, 0)),
                "{}",
                g.name
            );
        }
        if g.fp8_dense_tflops.is_some() {
            assert!(g.fp8_supported, "{}", g.name);
        }
    }
}

#[test]
fn every_multi_gpu_instance_states_its_link() {
    use planner::LinkKind;
    let catalog = Catalog::embedded();
    let link = |name: &str| {
        catalog
            .instances
            .iter()
            .find(|i| i.name == name)
            .unwrap()
            .interconnect
            .clone()
            .unwrap()
    };
    assert_eq!(
        (
            link("p6-b200.48xlarge").kind,
            link("p6-b200.48xlarge").gbps_per_direction
        ),
        (LinkKind::Nvswitch, Some(900.0))
    );
    assert_eq!(
        (
            link("p5.48xlarge").kind,
            link("p5.48xlarge").gbps_per_direction
        ),
        (LinkKind::Nvswitch, Some(450.0))
    );
    assert_eq!(
        (
            link("p4d.24xlarge").kind,
            link("p4d.24xlarge").gbps_per_direction
        ),
        (LinkKind::Nvswitch, Some(300.0))
    );
    assert_eq!(
        (
            link("g6e.12xlarge").kind,
            link("g6e.12xlarge").gbps_per_direction
        ),
        (LinkKind::Pcie, Some(32.0))
    );
    assert_eq!(
        link("p5.48xlarge").allreduce_us,
        vec![(2, 4.29), (4, 4.59), (8, 4.71)]
    );
    for i in &catalog.instances {
        let l = i
            .interconnect
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no interconnect", i.name));
        assert_eq!(l.kind == LinkKind::None, i.gpu_count == 1, "{}", i.name);
        // Every GPU-to-GPU link of a CUDA instance has a bandwidth.
        if matches!(
            l.kind,
            LinkKind::Nvswitch | LinkKind::Nvlink | LinkKind::Pcie
        ) {
            assert!(l.gbps_per_direction.is_some(), "{}", i.name);
        }
    }
}
