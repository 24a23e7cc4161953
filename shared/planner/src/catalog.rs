//! The GPU and instance catalog: GPUs with the memory their driver reports, AWS GPU
//! instances with on-demand prices, and the date and region of those prices. Embedded
//! at build time from `data/catalog.json` and parsed once per process.

use std::sync::LazyLock;

use calculator::{Bytes, CalcError};
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

impl Platform {
    /// `cuda`, `rocm` or `neuron`.
    pub fn name(self) -> &'static str {
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
    /// Memory bandwidth, GB/s.
    pub bandwidth_gbps: Option<f64>,
    /// Dense bfloat16 throughput, TFLOP/s.
    pub bf16_dense_tflops: Option<f64>,
    /// Dense float16 throughput, TFLOP/s (listed for GPUs without bfloat16).
    pub fp16_dense_tflops: Option<f64>,
    /// Whether the tensor cores compute in bfloat16 (false for Volta and Turing).
    pub bf16_supported: bool,
    /// Whether the tensor cores compute in fp8 (Ada, Hopper, Blackwell).
    pub fp8_supported: bool,
    /// CUDA compute capability (NVIDIA only).
    pub compute_capability: Option<ComputeCapability>,
    /// Catalog fields its sources could not confirm.
    pub unverified: Vec<String>,
    /// Whether the request defined it.
    pub custom: bool,
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
    mem_bandwidth_gbps: Option<f64>,
    bf16_dense_tflops: Option<f64>,
    fp16_dense_tflops: Option<f64>,
    bf16_supported: Option<bool>,
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
            name: self.name,
            platform: self.platform,
            memory_vendor_stated: self.memory_vendor_stated,
            bandwidth_gbps: self.mem_bandwidth_gbps,
            bf16_dense_tflops: self.bf16_dense_tflops,
            fp16_dense_tflops: self.fp16_dense_tflops,
            bf16_supported: self.bf16_supported.unwrap_or(true),
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
    // Part of the build; `embedded_catalog_is_consistent` parses it in the test suite.
    let raw: RawCatalog =
        serde_json::from_str(CATALOG_JSON).expect("data/catalog.json is a valid catalog");
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
            })
            .collect(),
        prices_as_of: raw.prices_as_of,
        region: raw.region,
        price_source: "embedded catalog".into(),
    }
});

impl Catalog {
    /// The catalog built into this binary.
    pub fn embedded() -> &'static Catalog {
        &EMBEDDED
    }

    /// The GPU of that name (case-insensitive).
    pub fn gpu(&self, name: &str) -> Option<&Gpu> {
        let name = name.trim();
        self.gpus.iter().find(|g| g.name.eq_ignore_ascii_case(name))
    }

    /// The instance type of that name (case-insensitive).
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        let name = name.trim();
        self.instances
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    /// The instances that carry the GPU `gpu`.
    pub fn instances_of<'a>(&'a self, gpu: &'a str) -> impl Iterator<Item = &'a Instance> + 'a {
        self.instances.iter().filter(move |i| i.gpu == gpu)
    }

    /// The catalog with the prices of `list` replacing those of the same instances, and
    /// its date, region and source.
    pub fn with_prices(&self, list: &PriceList) -> Catalog {
        let mut out = self.clone();
        for (name, price) in &list.prices {
            if let Some(i) = out
                .instances
                .iter_mut()
                .find(|i| i.name.eq_ignore_ascii_case(name))
            {
                i.usd_per_hour = Some(*price);
            }
        }
        // A list that prices every priced instance replaces the date; a partial one
        // leaves the others at theirs, and the source says which is which.
        let covered = |i: &Instance| {
            list.prices
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(&i.name))
        };
        let missing = self
            .instances
            .iter()
            .filter(|i| i.usd_per_hour.is_some() && !covered(i))
            .count();
        if missing == 0 {
            out.prices_as_of.clone_from(&list.as_of);
            out.region.clone_from(&list.region);
            out.price_source.clone_from(&list.source);
        } else {
            out.price_source = format!(
                "{} (as of {}) for {} of the instance types; {} (as of {}) for the other {missing}",
                list.source,
                list.as_of,
                list.prices.len(),
                self.price_source,
                self.prices_as_of
            );
        }
        out
    }
}

/// Largest accepted price, USD per hour: far above any instance sold (the dearest in
/// the catalog is about 114), low enough that no monthly sum can overflow.
pub const MAX_USD_PER_HOUR: f64 = 1e6;

/// Prices that replace the catalog's, in the catalog's own shape:
/// `{"prices_as_of": "...", "region": "...", "instances": [{"instance": "...",
/// "on_demand_usd_per_hour": 1.0}]}`.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceList {
    /// The date of the prices.
    pub as_of: String,
    /// Their region.
    pub region: String,
    /// `(instance type, USD per hour)`.
    pub prices: Vec<(String, f64)>,
    /// Where they come from, for answers (`s3://bucket/prices.json`).
    pub source: String,
}

impl PriceList {
    /// Reads a price document. Every instance must be in `catalog`; `source` names the
    /// document in errors and answers. Errors name the field (`instances[2].instance`).
    pub fn parse(text: &str, source: &str, catalog: &Catalog) -> Result<PriceList, CalcError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| CalcError::field(source, format!("is not valid JSON: {e}")))?;
        let text_field = |key: &str| -> Result<String, CalcError> {
            value
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.trim().is_empty() && s.len() <= 64)
                .map(str::to_owned)
                .ok_or_else(|| {
                    CalcError::field(
                        format!("{source}.{key}"),
                        "must be a string of 1 to 64 characters",
                    )
                })
        };
        let as_of = text_field("prices_as_of")?;
        let region = text_field("region")?;
        let rows = value
            .get("instances")
            .and_then(|v| v.as_array())
            .ok_or_else(|| CalcError::field(format!("{source}.instances"), "must be an array"))?;
        let mut prices = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let at = |key: &str| format!("{source}.instances[{i}].{key}");
            let name = row
                .get("instance")
                .and_then(|v| v.as_str())
                .ok_or_else(|| CalcError::field(at("instance"), "must be a string"))?;
            let known = catalog.instance(name).ok_or_else(|| {
                CalcError::field(at("instance"), format!("'{name}' is not in the catalog"))
            })?;
            let price = row
                .get("on_demand_usd_per_hour")
                .and_then(|v| v.as_f64())
                .filter(|p| p.is_finite() && *p >= 0.0 && *p <= MAX_USD_PER_HOUR)
                .ok_or_else(|| {
                    CalcError::field(
                        at("on_demand_usd_per_hour"),
                        format!("must be a number from 0 to {MAX_USD_PER_HOUR}"),
                    )
                })?;
            prices.push((known.name.clone(), price));
        }
        Ok(PriceList {
            as_of,
            region,
            prices,
            source: source.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_is_consistent() {
        let c = Catalog::embedded();
        assert_eq!((c.gpus.len(), c.instances.len()), (25, 27));
        assert_eq!(
            (c.prices_as_of.as_str(), c.region.as_str()),
            ("2026-07-20", "us-east-1")
        );
        for i in &c.instances {
            let gpu = c
                .gpu(&i.gpu)
                .unwrap_or_else(|| panic!("{}: unknown GPU", i.name));
            assert!(i.gpu_count >= 1 && i.usd_per_hour.is_some(), "{}", i.name);
            assert!(
                gpu.usable_memory.is_some(),
                "{} has no memory figure",
                gpu.name
            );
        }
        for g in c.gpus.iter().filter(|g| g.platform == Platform::Cuda) {
            assert!(g.compute_capability.is_some(), "{}", g.name);
            assert!(g.usable_memory.is_some(), "{}", g.name);
        }
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
        let ada = c.gpu("NVIDIA RTX 6000 Ada").unwrap();
        assert_eq!(ada.usable_memory.unwrap().1, MemorySource::NvidiaSmiEccOff);
        let inf2 = c.gpu("AWS Inferentia2 (per chip)").unwrap();
        assert_eq!(
            inf2.usable_memory,
            Some((Bytes(32 << 30), MemorySource::VendorStated))
        );
        assert_eq!(c.gpu("AMD Instinct MI325X").unwrap().usable_memory, None);
        assert!(!c.gpu("NVIDIA T4 16GB").unwrap().bf16_supported);
    }

    #[test]
    fn price_lists_replace_prices_and_date() {
        let c = Catalog::embedded();
        let text = r#"{"prices_as_of": "2026-11-01", "region": "us-east-1",
            "instances": [{"instance": "p5.48xlarge", "on_demand_usd_per_hour": 40.5}]}"#;
        let list = PriceList::parse(text, "prices.json", c).unwrap();
        let updated = c.with_prices(&list);
        assert_eq!(
            updated.instance("p5.48xlarge").unwrap().usd_per_hour,
            Some(40.5)
        );
        assert_eq!(
            updated.instance("p4d.24xlarge").unwrap().usd_per_hour,
            c.instance("p4d.24xlarge").unwrap().usd_per_hour
        );
        // A partial list keeps the catalog's date and says which prices are whose.
        assert_eq!(updated.prices_as_of, "2026-07-20");
        assert_eq!(
            updated.price_source,
            "prices.json (as of 2026-11-01) for 1 of the instance types; embedded catalog (as of 2026-07-20) for the other 26"
        );
        // A full one replaces the date.
        let all: Vec<String> = c
            .instances
            .iter()
            .map(|i| {
                format!(
                    r#"{{"instance": "{}", "on_demand_usd_per_hour": 1}}"#,
                    i.name
                )
            })
            .collect();
        let text = format!(
            r#"{{"prices_as_of": "2026-11-02", "region": "us-east-1", "instances": [{}]}}"#,
            all.join(",")
        );
        let full = c.with_prices(&PriceList::parse(&text, "prices.json", c).unwrap());
        assert_eq!(
            (full.prices_as_of.as_str(), full.price_source.as_str()),
            ("2026-11-02", "prices.json")
        );
    }

    #[test]
    fn bad_price_lists_name_the_field() {
        let c = Catalog::embedded();
        let err = |text: &str| {
            PriceList::parse(text, "prices.json", c)
                .unwrap_err()
                .to_string()
        };
        assert!(err("{").starts_with("prices.json: is not valid JSON"));
        assert!(err(r#"{"region": "x", "instances": []}"#).starts_with("prices.json.prices_as_of"));
        let unknown = r#"{"prices_as_of": "d", "region": "r",
            "instances": [{"instance": "x1.huge", "on_demand_usd_per_hour": 1}]}"#;
        assert!(err(unknown).starts_with("prices.json.instances[0].instance: 'x1.huge'"));
        let negative = r#"{"prices_as_of": "d", "region": "r",
            "instances": [{"instance": "p5.48xlarge", "on_demand_usd_per_hour": -1}]}"#;
        assert!(err(negative).starts_with("prices.json.instances[0].on_demand_usd_per_hour"));
    }
}
