"""Measures what transformers' DeepSeek-V3 attention keeps in its KV cache, on a small
random-weight model (no download): per layer and token, keys of n_h x (d_nope + d_rope)
and values of n_h x d_v, against the compressed latent (r_kv + d_rope) vLLM keeps.
Prints one JSON line. Run on a GPU machine with torch and transformers installed."""
import json
import torch
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

cfg = DeepseekV3Config(
    vocab_size=1000, hidden_size=512, intermediate_size=1024, moe_intermediate_size=128,
    num_hidden_layers=3, num_attention_heads=16, num_key_value_heads=16,
    n_shared_experts=1, n_routed_experts=8, num_experts_per_tok=2, first_k_dense_replace=1,
    kv_lora_rank=64, q_lora_rank=96, qk_rope_head_dim=16, qk_nope_head_dim=32, v_head_dim=32,
    n_group=1, topk_group=1, max_position_embeddings=4096)
model = DeepseekV3ForCausalLM(cfg).to("cuda", torch.bfloat16).eval()
tokens = 257
ids = torch.randint(0, cfg.vocab_size, (2, tokens), device="cuda")
with torch.no_grad():
    out = model(ids, use_cache=True)
cache = out.past_key_values
layers = []
for layer in range(cfg.num_hidden_layers):
    if hasattr(cache, "layers"):
        k, v = cache.layers[layer].keys, cache.layers[layer].values
    else:
        k, v = cache[layer]
    layers.append({"key_shape": list(k.shape), "value_shape": list(v.shape),
                   "bytes": k.numel() * k.element_size() + v.numel() * v.element_size()})
measured = sum(l["bytes"] for l in layers)
per_head = cfg.num_attention_heads * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim)
latent = cfg.kv_lora_rank + cfg.qk_rope_head_dim
print(json.dumps({
    "torch": torch.__version__, "transformers": __import__("transformers").__version__,
    "layers": layers, "measured_bytes": measured,
    "predicted_per_head_bytes": cfg.num_hidden_layers * 2 * tokens * per_head * 2,
    "latent_bytes": cfg.num_hidden_layers * 2 * tokens * latent * 2,
}))
