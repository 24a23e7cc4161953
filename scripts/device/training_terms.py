"""Training terms measured on a GPU (methodology §7): the optimizer step's temporaries of
torch's AdamW implementations (fused, foreach, forloop), the bf16 weight copies torch's
autocast keeps for backward, and the loss buffers per logit of the cross-entropy
variants. Prints one JSON line per measurement; bytes from torch.cuda memory stats
(which exclude the CUDA context)."""
import json
import torch
import torch.nn.functional as F

MiB = 1 << 20
dev = "cuda"


def emit(**row):
    row["torch"] = torch.__version__
    print(json.dumps(row), flush=True)


def adamw_step(impl, dtype):
    # Eight 4096x4096 matrices and one 32768x4096 one (the largest tensor).
    shapes = [(4096, 4096)] * 8 + [(32768, 4096)]
    params = [torch.nn.Parameter(torch.randn(s, device=dev, dtype=dtype)) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    flags = {"fused": dict(fused=True), "foreach": dict(foreach=True), "forloop": dict(foreach=False, fused=False)}[impl]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, **flags)
    opt.step()  # creates the state
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    opt.step()
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    n = sum(p.numel() for p in params)
    largest = max(p.numel() for p in params)
    emit(what="adamw_step_workspace", impl=impl, dtype=str(dtype), params=n, largest=largest,
         bytes=extra, bytes_per_param=extra / n, per_largest_value=extra / largest)
    del opt, params
    torch.cuda.empty_cache()


def autocast_cache():
    layers = torch.nn.Sequential(*[torch.nn.Linear(4096, 4096, bias=False) for _ in range(8)]).to(dev)
    x = torch.randn(1, 4096, device=dev, requires_grad=True)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = layers(x)
    after_forward = torch.cuda.memory_allocated() - base
    y.float().sum().backward()
    n = sum(p.numel() for p in layers.parameters())
    emit(what="autocast_weight_copies_kept_for_backward", params=n, bytes=after_forward,
         bytes_per_param=after_forward / n)
    del layers, x, y
    torch.cuda.empty_cache()


def transformers_loss(logits, labels):
    # transformers' ForCausalLMLoss: upcast, shift the labels, cross-entropy (mean).
    logits = logits.float()
    labels = F.pad(labels, (0, 1), value=-100)[..., 1:].contiguous()
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)


def no_upcast_loss(logits, labels):
    shift = logits[..., :-1, :].contiguous()
    return F.cross_entropy(shift.view(-1, shift.shape[-1]), labels[..., 1:].reshape(-1))


def chunked_loss(logits, labels, chunks=8):
    # torchtune's CEWithChunkedOutputLoss shape: upcast and cross-entropy per chunk.
    total = 0
    for lg, lb in zip(logits.chunk(chunks, dim=1), labels.chunk(chunks, dim=1)):
        total = total + F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), lb.reshape(-1), reduction="sum")
    return total / labels.numel()


def loss_peak(name, fn, tokens=4096, vocab=151936):
    logits = torch.randn(1, tokens, vocab, device=dev, dtype=torch.bfloat16, requires_grad=True)
    labels = torch.randint(0, vocab, (1, tokens), device=dev)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    loss = fn(logits, labels)
    forward_peak = torch.cuda.max_memory_allocated() - base
    kept = torch.cuda.memory_allocated() - base
    loss.backward()
    peak = torch.cuda.max_memory_allocated() - base
    n = tokens * vocab
    emit(what="loss_buffers", loss=name, logits=n, forward_peak_per_logit=forward_peak / n,
         kept_for_backward_per_logit=kept / n, peak_per_logit=peak / n,
         note="bytes beyond the bf16 logits themselves (2 per logit, held by the caller)")
    del logits, labels, loss
    torch.cuda.empty_cache()


for impl in ["fused", "foreach", "forloop"]:
    for dtype in [torch.float32, torch.bfloat16]:
        adamw_step(impl, dtype)
autocast_cache()
for name, fn in [("standard", transformers_loss), ("no_upcast", no_upcast_loss), ("chunked8", chunked_loss)]:
    loss_peak(name, fn)
