"""What autograd saves for backward in one transformers decoder layer (methodology §7.5),
measured with saved-tensor hooks: bytes per token of the distinct storages a Llama
layer saves, in three settings: a bf16 model (DeepSpeed-style, no autocast), an fp32
model under bf16 autocast (the Trainer's default mixed precision), and PEFT LoRA on
every linear with fp32 adapters under autocast, with and without dropout. Weights,
and autocast's 16-bit copies of weights, are reported apart from activations. Prints
one JSON line per setting."""
import json
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

H, I, HEADS, KV, TOKENS = 512, 1408, 8, 2, 1024
cfg = LlamaConfig(hidden_size=H, intermediate_size=I, num_attention_heads=HEADS,
                  num_key_value_heads=KV, num_hidden_layers=2, vocab_size=1000,
                  attn_implementation="sdpa")


def measure(name, model, autocast, note=""):
    model.train()
    layer = model.model.layers[0]
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    weight_shapes = {tuple(p.shape) for p in model.parameters() if p.dim() == 2}
    dtype = torch.bfloat16 if autocast else next(model.parameters()).dtype
    x = torch.randn(1, TOKENS, H, device="cuda", dtype=next(model.parameters()).dtype, requires_grad=True)
    pos = torch.arange(TOKENS, device="cuda")[None]
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        ptr = s.data_ptr()
        if ptr in weights:
            kind = "weight"
        elif t.dim() == 2 and tuple(t.shape) in weight_shapes:
            kind = "weight_copy"
        else:
            kind = "activation"
        seen[ptr] = (kind, s.nbytes(), str(t.dtype), tuple(t.shape))
        return t

    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        pe = model.model.rotary_emb(x, pos)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = layer(x, position_embeddings=pe, attention_mask=None, position_ids=pos)
    out = out[0] if isinstance(out, tuple) else out
    out.float().sum().backward()
    by_kind = {}
    for kind, nbytes, _, _ in seen.values():
        by_kind[kind] = by_kind.get(kind, 0) + nbytes
    acts = sorted(((v[2], v[3], v[1]) for v in seen.values() if v[0] == "activation"), key=lambda r: -r[2])
    print(json.dumps({"setting": name, "note": note, "tokens": TOKENS, "hidden": H, "intermediate": I,
                      "heads": HEADS, "kv_heads": KV,
                      "activation_bytes_per_token": by_kind.get("activation", 0) / TOKENS,
                      "weight_copy_bytes": by_kind.get("weight_copy", 0),
                      "saved": [f"{d} {list(s)} {b}" for d, s, b in acts],
                      "torch": torch.__version__, "transformers": transformers.__version__}), flush=True)


torch.manual_seed(0)
bf16 = LlamaForCausalLM(cfg).cuda().to(torch.bfloat16)
measure("bf16 model, no autocast, full", bf16, autocast=False)
fp32 = LlamaForCausalLM(cfg).cuda()
measure("fp32 model, bf16 autocast, full", fp32, autocast=True)
try:
    import peft
    for dropout in [0.0, 0.05]:
        base = LlamaForCausalLM(cfg).cuda().to(torch.bfloat16)
        lora = peft.get_peft_model(base, peft.LoraConfig(r=8, target_modules="all-linear", lora_dropout=dropout))
        for n, p in lora.named_parameters():
            if "lora_" in n:
                p.data = p.data.float()
        measure(f"bf16 base, fp32 LoRA all-linear, autocast, dropout {dropout}", lora.base_model.model, autocast=True,
                note=f"peft {peft.__version__}")
except ImportError as e:
    print(json.dumps({"setting": "peft", "skipped": str(e)}))
