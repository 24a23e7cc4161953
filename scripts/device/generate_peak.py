"""Peak GPU memory of transformers' generate() on random-weight registry models (no
download: the configs come from shared/calculator/data/models.json), bf16, SDPA
attention. Prints one JSON line per setting: torch.cuda.max_memory_allocated (which
excludes the CUDA context) and the sizes of the weights and the KV cache."""
import json
import sys
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

registry = {m["name"]: m for m in json.load(open("shared/calculator/data/models.json"))["models"]}
settings = [("Qwen3-0.6B", 1, 4096, 0), ("Qwen3-0.6B", 2, 4096, 16), ("Qwen3-0.6B", 8, 1024, 16),
            ("Qwen3-4B", 1, 8192, 16)]
for name, batch, prompt, new in settings:
    entry = registry[name]
    cfg = AutoConfig.for_model(**entry["config"])
    torch.cuda.empty_cache()
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()
    weights = torch.cuda.memory_allocated()
    ids = torch.randint(0, cfg.vocab_size, (batch, prompt), device="cuda")
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        if new == 0:
            model(ids, use_cache=True, logits_to_keep=1)
        else:
            model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=False)
    peak = torch.cuda.max_memory_allocated()
    print(json.dumps({"model": name, "batch": batch, "prompt": prompt, "new": new,
                      "weights_bytes": weights, "peak_bytes": peak,
                      "torch": torch.__version__, "transformers": transformers.__version__}))
    sys.stdout.flush()
    del model
