//! The GPU and instance catalog: GPUs with the memory their driver reports, AWS GPU
//! instances with on-demand prices, and the date and region of those prices. Embedded
//! at build time from `data/catalog.json` and parsed once per process.

use std::sync::LazyLock;

use crate::typed::{self, Matched};
use calculator::{Bytes, Choice};
use serde::Deserialize;

/// Bytes in one MiB, the unit drivers report memory in.
const MIB: u64 = 1 << 20;

/// The software stack an accelerator runs: vLLM's CUDA kernels, its ROCm port, or
/// AWS Neuron (a different engine altogether).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// NVIDIA GPUs.
    Cuda,
    /// AMD Instinct GPUs.
    Rocm,
    /// AWS Inferentia and Trainium.
    Neuron,
}

impl Choice for Platform {
    const ALL: &'static [Platform] = &[Platform::Cuda, Platform::Rocm, Platform::Neuron];

    fn name(self) -> &'static str {
        match self {
            Platform::Cuda => "cuda",
            Platform::Rocm => "rocm",
            Platform::Neuron => "neuron",
        }
    }
}

/// A CUDA compute capability (`major.minor`), which decides the kernels a GPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComputeCapability(pub u8, pub u8);

impl ComputeCapability {
    /// Parses `"8.9"`.
    pub fn parse(text: &str) -> Option<ComputeCapability> {
        let (major, minor) = text.split_once('.')?;
        Some(ComputeCapability(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Where a GPU's usable memory figure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemorySource {
    /// `nvidia-smi`'s total (what `torch.cuda.mem_get_info` reports), ECC as shipped.
    NvidiaSmi,
    /// `nvidia-smi`'s total with ECC off: the only driver figure the catalog has.
    NvidiaSmiEccOff,
    /// `rocm-smi`'s usable VRAM.
    RocmSmi,
    /// The vendor's figure, stated in binary units (no driver figure known).
    VendorStated,
    /// Given in the request (a custom GPU).
    Request,
}

impl MemorySource {
    /// How the answer names the source.
    pub fn describe(self) -> &'static str {
        match self {
            MemorySource::NvidiaSmi => "nvidia-smi total",
            MemorySource::NvidiaSmiEccOff => "nvidia-smi total with ECC off (ECC on leaves less)",
            MemorySource::RocmSmi => "rocm-smi usable VRAM",
            MemorySource::VendorStated => "vendor-stated capacity (no driver figure known)",
            MemorySource::Request => "given in the request",
        }
    }
}

/// One accelerator model.
#[derive(Clone, Debug, PartialEq)]
pub struct Gpu {
    /// Name as the catalog spells it (`NVIDIA A100 80GB`).
    pub name: String,
    /// The software stack it runs.
    pub platform: Platform,
    /// The vendor's capacity as marketed (`80 GB HBM2e`), for display.
    pub memory_vendor_stated: Option<String>,
    /// Memory one device offers, in bytes, and where that figure comes from; `None`
    /// when the catalog has no figure it can plan with.
    pub usable_memory: Option<(Bytes, MemorySource)>,
    /// The total CUDA reports (`cudaMemGetInfo`, deviceQuery's `totalGlobalMem`), in
    /// bytes, where a source gives it: what PyTorch, and so vLLM's budget, counts from.
    /// A little below the driver's total (79.21 against 79.65 GiB on an H100 SXM).
    pub cuda_total: Option<Bytes>,
    /// Memory bandwidth, GB/s.
    pub bandwidth_gbps: Option<f64>,
    /// Dense bfloat16 throughput, TFLOP/s.
    pub bf16_dense_tflops: Option<f64>,
    /// Dense float16 throughput, TFLOP/s (listed for GPUs without bfloat16).
    pub fp16_dense_tflops: Option<f64>,
    /// Dense fp8 tensor throughput, TFLOP/s; `None` without fp8 tensor cores (or no
    /// cited figure).
    pub fp8_dense_tflops: Option<f64>,
    /// Dense fp4 tensor throughput, TFLOP/s (Blackwell).
    pub fp4_dense_tflops: Option<f64>,
    /// Dense int8 tensor throughput, TOP/s.
    pub int8_dense_tops: Option<f64>,
    /// Whether the tensor cores compute in fp8 (Ada, Hopper, Blackwell).
    pub fp8_supported: bool,
    /// CUDA compute capability (NVIDIA only).
    pub compute_capability: Option<ComputeCapability>,
    /// Catalog fields its sources could not confirm.
    pub unverified: Vec<String>,
    /// Whether the request defined it.
    pub custom: bool,
}

/// How the GPUs of an instance reach each other.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// One GPU: no GPU-to-GPU traffic.
    None,
    /// NVLink through NVSwitch chips: every pair at the full link rate.
    Nvswitch,
    /// NVLink point to point, without a switch (V100 hybrid cube-mesh).
    Nvlink,
    /// PCIe only.
    Pcie,
    /// AWS NeuronLink between Neuron chips.
    Neuronlink,
}

/// The GPU-to-GPU link of an instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Interconnect {
    /// Its kind.
    pub kind: LinkKind,
    /// Bandwidth one GPU sends at, GB/s (decimal) a direction; `None` when no source
    /// gives it.
    pub gbps_per_direction: Option<f64>,
    /// vLLM's small-message all-reduce latency by tensor-parallel degree, microseconds
    /// (measured; absent where no measurement is cited).
    pub allreduce_us: Vec<(u64, f64)>,
}

/// One AWS instance type with GPUs.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Instance type (`p4de.24xlarge`).
    pub name: String,
    /// The GPU, as the catalog spells it.
    pub gpu: String,
    /// GPUs (or accelerator chips) in the instance.
    pub gpu_count: u64,
    /// Virtual CPUs.
    pub vcpus: Option<u64>,
    /// On-demand price, USD per hour, Linux; `None` when unknown.
    pub usd_per_hour: Option<f64>,
    /// How its GPUs are linked; `None` when the catalog does not say.
    pub interconnect: Option<Interconnect>,
    /// Host memory (RAM), bytes; `None` when the catalog does not say.
    pub host_memory: Option<Bytes>,
    /// Local NVMe instance storage, bytes (decimal gigabytes as AWS states them); 0
    /// for EBS-only types, `None` when the catalog does not say.
    pub local_nvme: Option<Bytes>,
    /// Elastic Fabric Adapter interfaces, the inter-node network that training over
    /// several nodes needs; `None` when the catalog does not say.
    pub efa_interfaces: Option<u64>,
    /// Baseline network bandwidth, Gbit/s (AWS's figure as karpenter transcribes it;
    /// small types burst above it); on instances with EFA, the bandwidth inter-node
    /// traffic (several-node training, pipeline stages) shares. `None` when the catalog
    /// does not say.
    pub network_gbps: Option<f64>,
}

/// The catalog, with the date and region of its prices.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// Every accelerator.
    pub gpus: Vec<Gpu>,
    /// Every instance type.
    pub instances: Vec<Instance>,
    /// The date the prices were read (`YYYY-MM-DD`).
    pub prices_as_of: String,
    /// The AWS region of the prices.
    pub region: String,
    /// Where the prices come from, for answers.
    pub price_source: String,
    /// Each source of the prices in force, with the instance types it prices: the
    /// embedded catalog's alone, until a price list replaces some.
    pub price_sources: Vec<PriceSource>,
}

/// One source of instance prices: its date and region, and the instance types whose
/// prices in force come from it.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceSource {
    /// Where the prices come from (`embedded catalog`, `s3://bucket/prices.json`).
    pub source: String,
    /// Their date, as the source gives it.
    pub as_of: String,
    /// Their AWS region, as the source gives it.
    pub region: String,
    /// The instance types it prices, by their catalog names.
    pub instances: Vec<String>,
}

#[derive(Deserialize)]
struct RawCatalog {
    prices_as_of: String,
    region: String,
    gpus: Vec<RawGpu>,
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
struct RawGpu {
    name: String,
    platform: Platform,
    memory_vendor_stated: Option<String>,
    nvidia_smi_total_mib: Option<u64>,
    nvidia_smi_total_mib_ecc_off: Option<u64>,
    usable_mib: Option<u64>,
    cuda_total_bytes: Option<u64>,
    mem_bandwidth_gbps: Option<f64>,
    bf16_dense_tflops: Option<f64>,
    fp16_dense_tflops: Option<f64>,
    fp8_dense_tflops: Option<f64>,
    fp4_dense_tflops: Option<f64>,
    int8_dense_tops: Option<f64>,
    #[serde(default)]
    fp8_supported: bool,
    compute_capability: Option<String>,
    #[serde(default)]
    unverified: Vec<String>,
}

#[derive(Deserialize)]
struct RawInstance {
    instance: String,
    gpu: String,
    gpu_count: u64,
    vcpus: Option<u64>,
    on_demand_usd_per_hour: Option<f64>,
    interconnect: Option<RawInterconnect>,
    host_memory_gib: Option<u64>,
    local_nvme_gb: Option<u64>,
    efa_interfaces: Option<u64>,
    network_gbps: Option<f64>,
}

#[derive(Deserialize)]
struct RawInterconnect {
    kind: LinkKind,
    gbps_per_direction: Option<f64>,
    #[serde(default)]
    allreduce_us: std::collections::BTreeMap<String, f64>,
}

impl RawInterconnect {
    fn into_interconnect(self) -> Interconnect {
        Interconnect {
            kind: self.kind,
            gbps_per_direction: self.gbps_per_direction,
            allreduce_us: self
                .allreduce_us
                .into_iter()
                .filter_map(|(tp, us)| tp.parse().ok().map(|tp| (tp, us)))
                .collect(),
        }
    }
}

/// A capacity the vendor states in binary units (`32 GiB HBM`), in bytes.
fn stated_gib(stated: &str) -> Option<Bytes> {
    let mut words = stated.split_whitespace();
    let amount: u64 = words.next()?.parse().ok()?;
    (words.next()? == "GiB").then_some(Bytes(amount << 30))
}

impl RawGpu {
    fn usable_memory(&self) -> Option<(Bytes, MemorySource)> {
        let mib = |m: u64| Bytes(m * MIB);
        if let Some(m) = self.nvidia_smi_total_mib {
            Some((mib(m), MemorySource::NvidiaSmi))
        } else if let Some(m) = self.nvidia_smi_total_mib_ecc_off {
            Some((mib(m), MemorySource::NvidiaSmiEccOff))
        } else if let Some(m) = self.usable_mib {
            Some((mib(m), MemorySource::RocmSmi))
        } else {
            let stated = self.memory_vendor_stated.as_deref()?;
            stated_gib(stated).map(|b| (b, MemorySource::VendorStated))
        }
    }

    fn into_gpu(self) -> Gpu {
        Gpu {
            usable_memory: self.usable_memory(),
            cuda_total: self.cuda_total_bytes.map(Bytes),
            name: self.name,
            platform: self.platform,
            memory_vendor_stated: self.memory_vendor_stated,
            bandwidth_gbps: self.mem_bandwidth_gbps,
            bf16_dense_tflops: self.bf16_dense_tflops,
            fp16_dense_tflops: self.fp16_dense_tflops,
            fp8_dense_tflops: self.fp8_dense_tflops,
            fp4_dense_tflops: self.fp4_dense_tflops,
            int8_dense_tops: self.int8_dense_tops,
            fp8_supported: self.fp8_supported,
            compute_capability: self
                .compute_capability
                .as_deref()
                .and_then(ComputeCapability::parse),
            unverified: self.unverified,
            custom: false,
        }
    }
}

const CATALOG_JSON: &str = include_str!("../data/catalog.json");

static EMBEDDED: LazyLock<Catalog> = LazyLock::new(|| {
    // Part of the build; `shared/planner/tests/catalog.rs` parses it in the test suite.
    let raw: RawCatalog =
        serde_json::from_str(CATALOG_JSON).expect("data/catalog.json is a valid catalog");
    let priced = raw
        .instances
        .iter()
        .filter(|i| i.on_demand_usd_per_hour.is_some())
        .map(|i| i.instance.clone())
        .collect();
    Catalog {
        gpus: raw.gpus.into_iter().map(RawGpu::into_gpu).collect(),
        instances: raw
            .instances
            .into_iter()
            .map(|i| Instance {
                name: i.instance,
                gpu: i.gpu,
                gpu_count: i.gpu_count,
                vcpus: i.vcpus,
                usd_per_hour: i.on_demand_usd_per_hour,
                interconnect: i.interconnect.map(RawInterconnect::into_interconnect),
                host_memory: i.host_memory_gib.map(|g| Bytes(g << 30)),
                local_nvme: i.local_nvme_gb.map(|g| Bytes(g * 1_000_000_000)),
                efa_interfaces: i.efa_interfaces,
                network_gbps: i.network_gbps,
            })
            .collect(),
        price_sources: vec![PriceSource {
            source: EMBEDDED_PRICES.into(),
            as_of: raw.prices_as_of.clone(),
            region: raw.region.clone(),
            instances: priced,
        }],
        prices_as_of: raw.prices_as_of,
        region: raw.region,
        price_source: EMBEDDED_PRICES.into(),
    }
});

/// How answers name the catalog's own prices.
pub const EMBEDDED_PRICES: &str = "embedded catalog";

/// First compute capability with bfloat16 tensor cores (Ampere).
const BF16_TENSOR_CORES: ComputeCapability = ComputeCapability(8, 0);

impl Gpu {
    /// The total a vLLM start-up on this GPU budgets from: CUDA's where the catalog has
    /// it, else the usable memory.
    pub fn vllm_total(&self) -> Option<Bytes> {
        self.cuda_total
            .or_else(|| self.usable_memory.map(|(bytes, _)| bytes))
    }

    /// Whether the GPU computes in bfloat16: CUDA GPUs from compute capability 8.0
    /// (Ampere; Volta and Turing have float16 tensor cores only), a CUDA GPU of
    /// unknown generation (a custom one) assumed current, and every ROCm and Neuron
    /// accelerator in the catalog.
    pub fn computes_bf16(&self) -> bool {
        match self.platform {
            Platform::Cuda => self
                .compute_capability
                .is_none_or(|c| c >= BF16_TENSOR_CORES),
            Platform::Rocm | Platform::Neuron => true,
        }
    }
}

impl Catalog {
    /// The catalog built into this binary.
    pub fn embedded() -> &'static Catalog {
        &EMBEDDED
    }

    /// The GPU a name means, as people type it (`typed::find`).
    pub fn gpu(&self, name: &str) -> Option<&Gpu> {
        self.resolve_gpu(name).map(|(g, _)| g)
    }

    /// The GPU a name means and how it was matched: as spelt, or assumed from a short
    /// name (the answer then says which GPU was read).
    pub fn resolve_gpu(&self, name: &str) -> Option<(&Gpu, Matched)> {
        // The catalog's own spelling (every name a plan looks up for its instances)
        // needs no tokens.
        let exact = self
            .gpus
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name.trim()));
        if let Some(gpu) = exact {
            return Some((gpu, Matched::Exactly));
        }
        let (found, how) = typed::find(name, self.gpus.iter().map(|g| g.name.as_str()))?;
        let gpu = self.gpus.iter().find(|g| g.name == found)?;
        Some((gpu, how))
    }

    /// The instance type of that name (case and separators free).
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances
            .iter()
            .find(|i| typed::same_instance(name, &i.name))
    }

    /// The instances that carry the GPU `gpu`.
    pub fn instances_of<'a>(&'a self, gpu: &'a str) -> impl Iterator<Item = &'a Instance> + 'a {
        self.instances.iter().filter(move |i| i.gpu == gpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_has_a_date_and_region() {
        // The date is the prices' (a refresh changes it); it must read as YYYY-MM-DD.
        let c = Catalog::embedded();
        let date = c.prices_as_of.as_bytes();
        assert!(
            date.len() == 10 && date[4] == b'-' && date[7] == b'-',
            "{}",
            c.prices_as_of
        );
        assert_eq!(c.region, "us-east-1");
        for g in c.gpus.iter().filter(|g| g.platform == Platform::Cuda) {
            assert!(g.compute_capability.is_some(), "{}", g.name);
            assert!(g.usable_memory.is_some(), "{}", g.name);
        }
    }

    #[test]
    fn every_instance_has_its_network_bandwidth_and_efa_ones_the_most() {
        // Plans join only instances with EFA; each must say what links the nodes.
        let c = Catalog::embedded();
        for i in &c.instances {
            let gbps = i.network_gbps.unwrap_or_else(|| panic!("{}", i.name));
            assert!(gbps > 0.0, "{}", i.name);
        }
        let gbps = |name: &str| {
            c.instances
                .iter()
                .find(|i| i.name == name)
                .unwrap()
                .network_gbps
        };
        assert_eq!(gbps("p5.48xlarge"), Some(3200.0));
        assert_eq!(gbps("p4d.24xlarge"), Some(400.0));
        assert_eq!(gbps("g6e.xlarge"), Some(2.5));
    }

    #[test]
    fn usable_memory_is_the_drivers_figure() {
        let c = Catalog::embedded();
        let a100 = c.gpu("nvidia a100 80gb").unwrap();
        assert_eq!(
            a100.usable_memory,
            Some((Bytes(81920 * MIB), MemorySource::NvidiaSmi))
        );
        let h100 = c.gpu("NVIDIA H100 SXM 80GB").unwrap();
        assert_eq!(h100.usable_memory.unwrap().0, Bytes(81559 * MIB));
        // vLLM budgets from CUDA's total, 79.21 GiB of the driver's 79.65.
        assert_eq!(h100.vllm_total(), Some(Bytes(85_045_477_376)));
        let a10g = c.gpu("NVIDIA A10G 24GB").unwrap();
        assert_eq!(a10g.vllm_total(), a10g.usable_memory.map(|(b, _)| b));
        let ada = c.gpu("NVIDIA RTX 6000 Ada").unwrap();
        assert_eq!(ada.usable_memory.unwrap().1, MemorySource::NvidiaSmiEccOff);
        let inf2 = c.gpu("AWS Inferentia2 (per chip)").unwrap();
        assert_eq!(
            inf2.usable_memory,
            Some((Bytes(32 << 30), MemorySource::VendorStated))
        );
        assert_eq!(c.gpu("AMD Instinct MI325X").unwrap().usable_memory, None);
        assert!(!c.gpu("NVIDIA T4 16GB").unwrap().computes_bf16());
        assert!(c.gpu("NVIDIA A10G 24GB").unwrap().computes_bf16());
    }
}
