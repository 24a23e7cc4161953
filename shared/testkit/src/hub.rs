//! A stand-in Hugging Face Hub: a small HTTP/1.1 server on 127.0.0.1 that serves
//! fixture repositories the way the Hub's `resolve` endpoint does (the file, an
//! `X-Repo-Commit` header, `X-Error-Code` and `X-Error-Message` on refusals, byte
//! ranges, large files redirected to a storage host) and its model API's
//! `safetensors` count, so the Hub client and every endpoint that takes a model are
//! tested without the internet. Point
//! `HF_ENDPOINT` at [`StandInHub::url`]. `cargo run -p testkit --bin stand-in-hub`
//! serves the same repositories for a local run.
//!
//! The repositories' configs are the published configs of their architectures; their
//! safetensors files hold headers only (every tensor with its dtype, shape and byte
//! range, as the checkpoint lays them out), which is all a range request for the
//! header reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The commit every fixture repository is at.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A dense model: Qwen2-7B-Instruct's architecture, bf16, in 4 shards.
pub const DENSE: &str = "Qwen/Qwen2-7B-Instruct";
/// A mixture of experts: Qwen3-Coder-30B-A3B-Instruct's architecture, bf16, 16 shards.
pub const MOE: &str = "Qwen/Qwen3-Coder-30B-A3B-Instruct";
/// An AWQ checkpoint: Llama-3-70B-Instruct's architecture, 4-bit, group 128, 9 shards.
pub const AWQ: &str = "TechxGenus/Meta-Llama-3-70B-Instruct-AWQ";
/// A block-wise FP8 checkpoint whose `modules_to_not_convert` keeps the output layer,
/// the norms and the routers in bf16: the MoE above in FP8.
pub const FP8: &str = "Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8";
/// A gated repository: the dense model's files, which the Hub serves only to a
/// request carrying [`GATED_TOKEN`] (to any other, 401 with `X-Error-Code: GatedRepo`).
pub const GATED: &str = "stand-in/gated-model";
/// The token that opens [`GATED`].
pub const GATED_TOKEN: &str = "hf_stand_in_token";
/// A repository with weights but no config.json.
pub const NO_CONFIG: &str = "stand-in/no-config";
/// A repository with only PyTorch `.bin` weights (no safetensors).
pub const BIN_ONLY: &str = "stand-in/bin-weights";
/// A repository that never answers within the client's time limit.
pub const SLOW: &str = "stand-in/slow-model";
/// A repository whose config.json is larger than the client reads.
pub const HUGE: &str = "stand-in/huge-config";
/// A repository whose config.json is not JSON.
pub const MALFORMED: &str = "stand-in/malformed-config";
/// A repository whose config.json gives a key twice.
pub const DUPLICATE_KEY: &str = "stand-in/duplicate-key";
/// A repository the Hub redirects to another host.
pub const ELSEWHERE: &str = "stand-in/moved-elsewhere";
/// A repository that does not exist (the Hub answers 401 `RepoNotFound`).
pub const MISSING: &str = "stand-in/no-such-model";
/// A renamed repository: the Hub redirects it, on its own host, to [`DENSE`].
pub const RENAMED: &str = "stand-in/old-name";
/// The dense model laid out as huggingface.co serves it: config.json and the index
/// from the endpoint, each safetensors file a redirect (with `X-Repo-Commit`) to a
/// storage host, and the count of its values from the model API.
pub const ON_STORAGE_HOST: &str = "stand-in/files-on-storage-host";
/// Llama-3-70B-Instruct's architecture in bf16 in 70 shards: more than the client
/// reads the headers of (as DeepSeek-V3's 163 and Llama-3.1-405B's 191 are).
pub const MANY_SHARDS: &str = "stand-in/many-shards";
/// The FP8 checkpoint laid out as huggingface.co serves it: the Hub's count has no
/// names to tell its weights from its scales.
pub const FP8_ON_STORAGE_HOST: &str = "stand-in/fp8-on-storage-host";
/// [`GATED`] laid out as huggingface.co serves it: the model API opens with the token.
pub const GATED_ON_STORAGE_HOST: &str = "stand-in/gated-on-storage-host";
/// [`ON_STORAGE_HOST`] without `X-Repo-Commit`, so every later file and the model
/// API are read at the revision asked for.
pub const NO_COMMIT: &str = "stand-in/no-commit-header";
/// A renamed repository that redirects, on the Hub's own host, to [`ON_STORAGE_HOST`].
pub const RENAMED_ON_STORAGE_HOST: &str = "stand-in/old-storage-name";
/// [`ON_STORAGE_HOST`] whose model API answers 503.
pub const API_BUSY: &str = "stand-in/api-busy";
/// [`ON_STORAGE_HOST`] whose model API answers with more than the client reads.
pub const API_OVERSIZED: &str = "stand-in/api-oversized";
/// [`ON_STORAGE_HOST`] whose model API gives no `safetensors` count.
pub const API_NO_COUNT: &str = "stand-in/api-no-count";
/// A repository the Hub has disabled (403 with [`hub::DISABLED_MESSAGE`]).
pub const DISABLED: &str = "stand-in/disabled-model";
/// The storage host the files of repositories laid out as huggingface.co serves them
/// redirect to.
pub const STORAGE_HOST: &str = "http://storage.invalid";
/// A pull-request revision the fixture repositories have (`refs/pr/1`).
pub const PR_REVISION: &str = "refs/pr/1";

/// How long the slow repository keeps a request waiting.
pub const SLOW_DELAY: Duration = Duration::from_secs(30);

/// How a fixture repository's model API answers.
#[derive(Clone, Copy, Default, PartialEq)]
enum Api {
    /// With the repository's `safetensors` count, when it has one.
    #[default]
    Count,
    /// 503, as a busy Hub.
    Busy,
    /// A body larger than [`hub::API_LIMIT`].
    Oversized,
}

/// A fixture repository: its files, the model API's `safetensors` property, and how
/// it is served.
#[derive(Clone, Default)]
struct Repo {
    files: BTreeMap<String, Vec<u8>>,
    count: Option<Value>,
    /// Served only to a request carrying [`GATED_TOKEN`].
    gated: bool,
    /// Safetensors files redirect to [`STORAGE_HOST`], as huggingface.co serves them.
    on_storage_host: bool,
    /// No `X-Repo-Commit` on its answers.
    no_commit: bool,
    api: Api,
}

impl Repo {
    fn on_storage_host(self) -> Repo {
        Repo {
            on_storage_host: true,
            ..self
        }
    }
}

/// How a repository answers.
#[derive(Clone)]
enum Behaviour {
    Files(Repo),
    Disabled,
    Slow,
    Redirect(String),
    /// Moved within the Hub: a relative redirect to another repository's path.
    Renamed(&'static str),
}

/// The running stand-in Hub.
pub struct StandInHub {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl StandInHub {
    /// Starts the server on a free port of 127.0.0.1.
    pub async fn start() -> StandInHub {
        StandInHub::start_on("127.0.0.1:0").await
    }

    /// Starts the server on `address`.
    pub async fn start_on(address: &str) -> StandInHub {
        let listener = TcpListener::bind(address)
            .await
            .expect("bind the stand-in Hub");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let repos = Arc::new(repositories());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let repos = repos.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &repos).await;
                });
            }
        });
        StandInHub { url, task }
    }

    /// `http://127.0.0.1:<port>`: the value for `HF_ENDPOINT`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for StandInHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request and answers it.
async fn serve(mut stream: TcpStream, repos: &BTreeMap<String, Behaviour>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k, v.trim()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let range = header("range").and_then(parse_range);
    let token = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    let reply = answer(&path, range, token, repos).await;
    stream.write_all(&reply).await?;
    stream.shutdown().await
}

fn parse_range(value: &str) -> Option<(usize, usize)> {
    let (first, last) = value.strip_prefix("bytes=")?.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// An HTTP/1.1 response with `headers` and `body`.
fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn refused(status: &str, code: &str) -> Vec<u8> {
    response(
        status,
        &[("X-Error-Code", code.to_owned())],
        format!("{{\"error\":\"{code}\"}}").as_bytes(),
    )
}

/// The answer to `GET path`: `/{owner}/{name}/resolve/{revision}/{file}`, or the model
/// API's `/api/models/{owner}/{name}/revision/{revision}?expand=safetensors`.
async fn answer(
    path: &str,
    range: Option<(usize, usize)>,
    token: Option<&str>,
    repos: &BTreeMap<String, Behaviour>,
) -> Vec<u8> {
    let (path, api) = match path.strip_prefix("/api/models/") {
        Some(rest) => match rest.split_once('?') {
            Some((p, "expand=safetensors")) => (p, true),
            _ => return refused("400 Bad Request", "BadRequest"),
        },
        None => (path.trim_start_matches('/'), false),
    };
    let parts: Vec<&str> = path.splitn(if api { 4 } else { 5 }, '/').collect();
    let (owner, name, revision, file) = match (api, &parts[..]) {
        (true, [owner, name, "revision", revision]) => (*owner, *name, *revision, ""),
        (false, [owner, name, "resolve", revision, file]) => (*owner, *name, *revision, *file),
        _ => return refused("404 Not Found", "RepoNotFound"),
    };
    let id = format!("{owner}/{name}");
    // A token the Hub does not know is refused as such, whatever the repository.
    if token.is_some_and(|t| t != GATED_TOKEN) {
        return response(
            "401 Unauthorized",
            &[("X-Error-Message", hub::BAD_TOKEN_MESSAGE.to_owned())],
            b"{\"error\":\"invalid credentials\"}",
        );
    }
    let Some(repo) = repos.get(&id) else {
        return refused("401 Unauthorized", "RepoNotFound");
    };
    if revision != "main" && revision != COMMIT && revision != "refs%2Fpr%2F1" {
        return refused("404 Not Found", "RevisionNotFound");
    }
    let repo = match repo {
        Behaviour::Files(repo) => repo,
        Behaviour::Disabled => {
            return response(
                "403 Forbidden",
                &[("X-Error-Message", hub::DISABLED_MESSAGE.to_owned())],
                b"{\"error\":\"disabled\"}",
            )
        }
        Behaviour::Slow => {
            tokio::time::sleep(SLOW_DELAY).await;
            return refused("504 Gateway Timeout", "Timeout");
        }
        Behaviour::Renamed(to) => {
            let to = if api {
                format!("/api/models/{to}/revision/{revision}?expand=safetensors")
            } else {
                format!("/{to}/resolve/{revision}/{file}")
            };
            return response("307 Temporary Redirect", &[("Location", to)], b"");
        }
        Behaviour::Redirect(to) => {
            return response(
                "302 Found",
                &[("Location", format!("{to}/{id}/resolve/{revision}/{file}"))],
                b"",
            );
        }
    };
    if repo.gated && token != Some(GATED_TOKEN) {
        return refused("401 Unauthorized", "GatedRepo");
    }
    if api {
        return api_answer(&id, repo);
    }
    let commit: Vec<(&str, String)> = if repo.no_commit {
        Vec::new()
    } else {
        vec![("X-Repo-Commit", COMMIT.to_owned())]
    };
    let Some(body) = repo.files.get(file) else {
        return refused("404 Not Found", "EntryNotFound");
    };
    if repo.on_storage_host && file.ends_with(".safetensors") {
        // huggingface.co answers a large file's resolve with a redirect to its
        // storage host, with the commit and the file's size beside it.
        let mut headers = commit.clone();
        headers.push(("X-Linked-Size", body.len().to_string()));
        headers.push(("Location", format!("{STORAGE_HOST}/{id}/{file}")));
        return response("302 Found", &headers, b"");
    }
    match range {
        None => response("200 OK", &commit, body),
        Some((first, last)) if first < body.len() && first <= last => {
            let last = last.min(body.len() - 1);
            let mut headers = commit.clone();
            headers.push((
                "Content-Range",
                format!("bytes {first}-{last}/{}", body.len()),
            ));
            response("206 Partial Content", &headers, &body[first..=last])
        }
        Some(_) => response("416 Range Not Satisfiable", &commit, b""),
    }
}

/// The model API's answer for `repo`: its id, and its `safetensors` count when it has
/// one.
fn api_answer(id: &str, repo: &Repo) -> Vec<u8> {
    match repo.api {
        Api::Busy => refused("503 Service Unavailable", "ServiceUnavailable"),
        Api::Oversized => {
            let padding = "x".repeat(hub::API_LIMIT);
            response(
                "200 OK",
                &[],
                &to_json(&json!({"id": id, "cardData": padding})),
            )
        }
        Api::Count => {
            let mut info = json!({"_id": "0".repeat(24), "id": id});
            if let Some(count) = &repo.count {
                info["safetensors"] = count.clone();
            }
            response("200 OK", &[], &to_json(&info))
        }
    }
}

/// Every fixture repository.
fn repositories() -> BTreeMap<String, Behaviour> {
    let mut repos = BTreeMap::new();
    for (id, shards) in [
        (DENSE, 4),
        (MOE, 16),
        (AWQ, 9),
        (FP8, 16),
        (MANY_SHARDS, 70),
    ] {
        let (config, quant) = fixture(id);
        repos.insert(
            id.to_owned(),
            Behaviour::Files(checkpoint(&config, quant, shards)),
        );
    }
    let dense = || checkpoint(&dense_config(), Quant::None, 4);
    let on_storage_host = |repo: Repo| Behaviour::Files(repo.on_storage_host());
    for (id, repo) in [
        (ON_STORAGE_HOST, dense()),
        (
            FP8_ON_STORAGE_HOST,
            checkpoint(&fp8_config(), Quant::Fp8, 16),
        ),
        (
            GATED_ON_STORAGE_HOST,
            Repo {
                gated: true,
                ..dense()
            },
        ),
        (
            NO_COMMIT,
            Repo {
                no_commit: true,
                ..dense()
            },
        ),
        (
            API_BUSY,
            Repo {
                api: Api::Busy,
                ..dense()
            },
        ),
        (
            API_OVERSIZED,
            Repo {
                api: Api::Oversized,
                ..dense()
            },
        ),
        (
            API_NO_COUNT,
            Repo {
                count: None,
                ..dense()
            },
        ),
    ] {
        repos.insert(id.to_owned(), on_storage_host(repo));
    }
    repos.insert(
        GATED.to_owned(),
        Behaviour::Files(Repo {
            gated: true,
            ..dense()
        }),
    );
    repos.insert(DISABLED.to_owned(), Behaviour::Disabled);
    repos.insert(
        RENAMED_ON_STORAGE_HOST.to_owned(),
        Behaviour::Renamed(ON_STORAGE_HOST),
    );
    let mut files = |id: &str, files: BTreeMap<String, Vec<u8>>| {
        let repo = Repo {
            files,
            ..Repo::default()
        };
        repos.insert(id.to_owned(), Behaviour::Files(repo));
    };
    let mut no_config = checkpoint(&dense_config(), Quant::None, 1).files;
    no_config.remove("config.json");
    files(NO_CONFIG, no_config);
    files(
        BIN_ONLY,
        BTreeMap::from([
            ("config.json".to_owned(), to_json(&dense_config())),
            ("pytorch_model.bin".to_owned(), b"not read".to_vec()),
        ]),
    );
    let mut huge = dense_config();
    huge["padding"] = json!("x".repeat(hub::CONFIG_LIMIT + 1));
    files(
        HUGE,
        BTreeMap::from([("config.json".to_owned(), to_json(&huge))]),
    );
    files(
        MALFORMED,
        BTreeMap::from([(
            "config.json".to_owned(),
            b"{\"model_type\": \"llama\",".to_vec(),
        )]),
    );
    files(
        DUPLICATE_KEY,
        BTreeMap::from([(
            "config.json".to_owned(),
            b"{\"model_type\": \"llama\", \"hidden_size\": 4096, \"hidden_size\": 8192}".to_vec(),
        )]),
    );
    repos.insert(SLOW.to_owned(), Behaviour::Slow);
    repos.insert(RENAMED.to_owned(), Behaviour::Renamed(DENSE));
    repos.insert(
        ELSEWHERE.to_owned(),
        Behaviour::Redirect("http://elsewhere.invalid".to_owned()),
    );
    repos
}

fn to_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

/// Qwen2-7B-Instruct's config.json (the architecture of Qwen2.5-7B-Instruct).
pub fn dense_config() -> Value {
    json!({
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "vocab_size": 152064,
        "tie_word_embeddings": false,
        "max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
        "use_sliding_window": false,
        "torch_dtype": "bfloat16"
    })
}

/// Qwen3-Coder-30B-A3B-Instruct's config.json (Qwen3-30B-A3B's architecture).
pub fn moe_config() -> Value {
    json!({
        "architectures": ["Qwen3MoeForCausalLM"],
        "model_type": "qwen3_moe",
        "hidden_size": 2048,
        "intermediate_size": 6144,
        "num_hidden_layers": 48,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "head_dim": 128,
        "vocab_size": 151936,
        "tie_word_embeddings": false,
        "max_position_embeddings": 262144,
        "attention_bias": false,
        "num_experts": 128,
        "num_experts_per_tok": 8,
        "moe_intermediate_size": 768,
        "decoder_sparse_step": 1,
        "mlp_only_layers": [],
        "norm_topk_prob": true,
        "torch_dtype": "bfloat16"
    })
}

/// Meta-Llama-3-70B-Instruct's config.json with AutoAWQ's `quantization_config`.
pub fn awq_config() -> Value {
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 8192,
        "intermediate_size": 28672,
        "num_hidden_layers": 80,
        "num_attention_heads": 64,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "tie_word_embeddings": false,
        "max_position_embeddings": 8192,
        "rope_theta": 500000.0,
        "torch_dtype": "float16",
        "quantization_config": {
            "quant_method": "awq",
            "bits": 4,
            "group_size": 128,
            "zero_point": true,
            "version": "gemm"
        }
    })
}

/// Meta-Llama-3-70B-Instruct's config.json: the AWQ checkpoint's architecture in bf16.
pub fn llama_70b_config() -> Value {
    let mut config = awq_config();
    config
        .as_object_mut()
        .unwrap()
        .remove("quantization_config");
    config["torch_dtype"] = json!("bfloat16");
    config
}

/// The MoE's config.json with a block-wise FP8 `quantization_config` that keeps the
/// output layer, every norm and every router in bf16.
pub fn fp8_config() -> Value {
    let mut config = moe_config();
    let layers = config["num_hidden_layers"].as_u64().unwrap();
    let mut keep = vec!["lm_head".to_owned()];
    for i in 0..layers {
        for m in ["input_layernorm", "mlp.gate", "post_attention_layernorm"] {
            keep.push(format!("model.layers.{i}.{m}"));
        }
    }
    config["quantization_config"] = json!({
        "activation_scheme": "dynamic",
        "fmt": "e4m3",
        "quant_method": "fp8",
        "weight_block_size": [128, 128],
        "modules_to_not_convert": keep
    });
    config
}

/// How a checkpoint stores its decoder layers' linear weights.
#[derive(Clone, Copy, PartialEq)]
enum Quant {
    None,
    /// AutoAWQ GEMM: `qweight` and `qzeros` of packed int32 (8 weights each) and fp16
    /// `scales`, per group of 128 inputs.
    Awq,
    /// Block-wise FP8: `weight` in F8_E4M3 and one fp32 `weight_scale_inv` per 128x128
    /// block.
    Fp8,
}

/// One stored tensor: name, dtype, shape.
type Tensor = (String, &'static str, Vec<u64>);

fn dim(config: &Value, key: &str) -> u64 {
    config[key].as_u64().unwrap_or_else(|| panic!("{key}"))
}

/// A linear layer `[out, in]` under `quant`, with its bias when `bias`.
fn linear(
    out: &mut Vec<Tensor>,
    name: &str,
    rows: u64,
    cols: u64,
    quant: Quant,
    dtype: &'static str,
) {
    match quant {
        Quant::None => out.push((format!("{name}.weight"), dtype, vec![rows, cols])),
        Quant::Awq => {
            out.push((format!("{name}.qweight"), "I32", vec![cols, rows / 8]));
            out.push((format!("{name}.qzeros"), "I32", vec![cols / 128, rows / 8]));
            out.push((format!("{name}.scales"), "F16", vec![cols / 128, rows]));
        }
        Quant::Fp8 => {
            out.push((format!("{name}.weight"), "F8_E4M3", vec![rows, cols]));
            out.push((
                format!("{name}.weight_scale_inv"),
                "F32",
                vec![rows.div_ceil(128), cols.div_ceil(128)],
            ));
        }
    }
}

/// Every tensor of a llama-lineage checkpoint (llama, qwen2, qwen3, qwen3_moe), in
/// transformers' names, layer by layer.
fn tensors(config: &Value, quant: Quant) -> Vec<Vec<Tensor>> {
    let t = if config["torch_dtype"] == "float16" {
        "F16"
    } else {
        "BF16"
    };
    let (h, v, layers) = (
        dim(config, "hidden_size"),
        dim(config, "vocab_size"),
        dim(config, "num_hidden_layers"),
    );
    let heads = dim(config, "num_attention_heads");
    let kv = dim(config, "num_key_value_heads");
    let hd = config["head_dim"].as_u64().unwrap_or(h / heads);
    let qwen3 = config["model_type"].as_str().unwrap().starts_with("qwen3");
    let bias = config["model_type"] == "qwen2";
    let mut all = vec![vec![(
        "model.embed_tokens.weight".to_owned(),
        t,
        vec![v, h],
    )]];
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        let mut l = vec![
            (format!("{p}.input_layernorm.weight"), t, vec![h]),
            (format!("{p}.post_attention_layernorm.weight"), t, vec![h]),
        ];
        for (m, rows, cols) in [
            ("q_proj", heads * hd, h),
            ("k_proj", kv * hd, h),
            ("v_proj", kv * hd, h),
            ("o_proj", h, heads * hd),
        ] {
            linear(&mut l, &format!("{p}.self_attn.{m}"), rows, cols, quant, t);
            if bias && m != "o_proj" {
                l.push((format!("{p}.self_attn.{m}.bias"), t, vec![rows]));
            }
        }
        if qwen3 {
            l.push((format!("{p}.self_attn.q_norm.weight"), t, vec![hd]));
            l.push((format!("{p}.self_attn.k_norm.weight"), t, vec![hd]));
        }
        let mlp = |l: &mut Vec<Tensor>, prefix: &str, i: u64| {
            linear(l, &format!("{prefix}.gate_proj"), i, h, quant, t);
            linear(l, &format!("{prefix}.up_proj"), i, h, quant, t);
            linear(l, &format!("{prefix}.down_proj"), h, i, quant, t);
        };
        match config["num_experts"].as_u64() {
            Some(e) => {
                l.push((format!("{p}.mlp.gate.weight"), t, vec![e, h]));
                for x in 0..e {
                    mlp(
                        &mut l,
                        &format!("{p}.mlp.experts.{x}"),
                        dim(config, "moe_intermediate_size"),
                    );
                }
            }
            None => mlp(
                &mut l,
                &format!("{p}.mlp"),
                dim(config, "intermediate_size"),
            ),
        }
        all.push(l);
    }
    let mut last = vec![("model.norm.weight".to_owned(), t, vec![h])];
    if config["tie_word_embeddings"] != true {
        last.push(("lm_head.weight".to_owned(), t, vec![v, h]));
    }
    all.push(last);
    all
}

/// Bytes per value of a stored dtype.
fn dtype_bytes(dtype: &str) -> u64 {
    match dtype {
        "F32" | "I32" => 4,
        "F16" | "BF16" => 2,
        _ => 1,
    }
}

/// A safetensors file's header bytes (length and JSON; no tensor data) for `tensors`,
/// and the bytes of data it describes.
fn safetensors_header(tensors: &[Tensor]) -> (Vec<u8>, u64) {
    let mut map = serde_json::Map::new();
    map.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let bytes = shape.iter().product::<u64>() * dtype_bytes(dtype);
        map.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let header = serde_json::to_vec(&Value::Object(map)).unwrap();
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&header);
    (file, offset)
}

/// A repository's files: config.json and the checkpoint in `shards` files (with an
/// index when more than one), layers spread evenly; and the model API's count of the
/// values, by dtype.
fn checkpoint(config: &Value, quant: Quant, shards: usize) -> Repo {
    let groups = tensors(config, quant);
    let mut files = BTreeMap::from([("config.json".to_owned(), to_json(config))]);
    let mut weight_map = serde_json::Map::new();
    let mut total = 0;
    let bounds = |k: usize| k * groups.len() / shards;
    for k in 0..shards {
        let chunk = &groups[bounds(k)..bounds(k + 1)];
        let name = if shards == 1 {
            "model.safetensors".to_owned()
        } else {
            format!("model-{:05}-of-{:05}.safetensors", k + 1, shards)
        };
        let flat: Vec<Tensor> = chunk.iter().flatten().cloned().collect();
        for (tensor, _, _) in &flat {
            weight_map.insert(tensor.clone(), json!(name));
        }
        let (file, bytes) = safetensors_header(&flat);
        total += bytes;
        files.insert(name, file);
    }
    if shards > 1 {
        files.insert(
            "model.safetensors.index.json".into(),
            to_json(&json!({"metadata": {"total_size": total}, "weight_map": weight_map})),
        );
    }
    let by_dtype = values_by_dtype(&groups);
    let count = json!({"parameters": by_dtype, "total": by_dtype.values().sum::<u64>()});
    Repo {
        files,
        count: Some(count),
        ..Repo::default()
    }
}

/// Values stored by dtype, as the Hub's model API counts them.
fn values_by_dtype(groups: &[Vec<Tensor>]) -> BTreeMap<&'static str, u64> {
    let mut by_dtype = BTreeMap::new();
    for (_, dtype, shape) in groups.iter().flatten() {
        *by_dtype.entry(*dtype).or_default() += shape.iter().product::<u64>();
    }
    by_dtype
}

/// The architecture and storage of a fixture repository with a checkpoint.
fn fixture(repo: &str) -> (Value, Quant) {
    match repo {
        DENSE | ON_STORAGE_HOST | GATED_ON_STORAGE_HOST | NO_COMMIT | GATED => {
            (dense_config(), Quant::None)
        }
        MOE => (moe_config(), Quant::None),
        AWQ => (awq_config(), Quant::Awq),
        FP8 | FP8_ON_STORAGE_HOST => (fp8_config(), Quant::Fp8),
        MANY_SHARDS => (llama_70b_config(), Quant::None),
        other => panic!("{other} has no checkpoint"),
    }
}

/// Values the fixture `repo`'s headers hold that are weights: every tensor but the
/// quantization's scales and zero points, AWQ's packed int32 counted as 8 weights.
pub fn weights_in_headers(repo: &str) -> u64 {
    let (config, quant) = fixture(repo);
    tensors(&config, quant)
        .iter()
        .flatten()
        .map(|(name, _, shape)| {
            let n: u64 = shape.iter().product();
            if name.ends_with(".qweight") {
                n * 8
            } else if name.ends_with(".qzeros")
                || name.ends_with(".scales")
                || name.ends_with(".weight_scale_inv")
            {
                0
            } else {
                n
            }
        })
        .sum()
}

/// Values the fixture `repo` stores, every tensor counted as stored: what the model
/// API's `safetensors.total` gives.
pub fn values_stored(repo: &str) -> u64 {
    let (config, quant) = fixture(repo);
    values_by_dtype(&tensors(&config, quant)).values().sum()
}

/// One stand-in Hub for the whole test process, on its own thread and runtime (each
/// `#[tokio::test]` has a runtime of its own, which a server must outlive), with
/// `HF_ENDPOINT` pointing at it. Call before anything reads the Hub: the service reads
/// `HF_ENDPOINT` once per process.
pub fn shared_stand_in() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the stand-in Hub");
            runtime.block_on(async {
                let hub = StandInHub::start().await;
                tx.send(hub.url().to_owned())
                    .expect("the test waits for the URL");
                std::future::pending::<()>().await;
            });
        });
        let url = rx.recv().expect("the stand-in Hub started");
        std::env::set_var(hub::ENDPOINT_VARIABLE, &url);
        url
    })
}
