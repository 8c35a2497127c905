#!/usr/bin/env python3
"""Hugging Face side of `pad bench gpu` (issue 14), run by scripts/gpu-check on a GPU machine.

Same shapes as pad's preset (Llama-3-8B: random bf16 weights built on the GPU), measured here:
  - `generate` (greedy, KV cache) at batch 1/8/64 and prefill tokens/s;
  - the authors' PAD loop: batch 1, no cache, base and PersRM recomputed over the whole sequence
    every step, top-k 10 (their released algorithm).
With --pad-jsonl (pad bench gpu --out PREFIX writes PREFIX.jsonl) it prints pad / HF ratios from the
two runs on this machine. Exits 0 with a note when torch, CUDA or transformers are missing.
"""
import argparse
import json
import sys
import time


def preset(name):
    if name == "llama-3-8b":
        return dict(vocab_size=128256, hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                    num_key_value_heads=8, intermediate_size=14336, rope_theta=500000.0, max_position_embeddings=8192)
    if name == "tiny":
        return dict(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, intermediate_size=172, max_position_embeddings=2048)
    raise SystemExit(f"gpu_hf.py: --preset {name!r} is not known (expected llama-3-8b or tiny)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="llama-3-8b")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--authors-tokens", type=int, default=32, help="steps of the (slow) authors' loop; reported per token")
    ap.add_argument("--pad-jsonl", help="pad bench gpu's PREFIX.jsonl, for the ratios")
    ap.add_argument("--out", help="write the Markdown table here")
    a = ap.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"gpu_hf.py: skipped ({e.name} is not importable)")
        return 0
    if not torch.cuda.is_available():
        print("gpu_hf.py: skipped (no CUDA device)")
        return 0
    torch.manual_seed(1)
    cfg = transformers.LlamaConfig(**preset(a.preset), torch_dtype=torch.bfloat16)
    dev = torch.device("cuda")

    def build():
        with torch.device(dev):
            m = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16)
        return m.eval()

    base = build()
    V = cfg.vocab_size
    sync = torch.cuda.synchronize
    rows = []

    def prompts(b):
        return torch.tensor([[(i * 131 + j * 17 + 3) % V for i in range(a.prompt)] for j in range(b)], device=dev)

    with torch.inference_mode():
        for b in a.batch:
            ids = prompts(b)
            base.generate(ids, max_new_tokens=2, min_new_tokens=2, do_sample=False, pad_token_id=0)  # warm-up
            sync()
            t0 = time.perf_counter()
            out = base.generate(ids, max_new_tokens=a.tokens, min_new_tokens=a.tokens, do_sample=False, pad_token_id=0)
            sync()
            n = (out.shape[1] - a.prompt) * b
            rows.append({"method": "hf generate", "batch": b, "tokens_per_s": n / (time.perf_counter() - t0)})
        ids = torch.tensor([[(i * 131) % V for i in range(a.prefill)]], device=dev)
        best = 0.0
        for _ in range(3):
            sync()
            t0 = time.perf_counter()
            base(ids)
            sync()
            best = max(best, a.prefill / (time.perf_counter() - t0))
        rows.append({"method": "hf prefill", "batch": 1, "tokens_per_s": best})
        persrm = build()
        seq = prompts(1)
        sync()
        t0 = time.perf_counter()
        for _ in range(a.authors_tokens):  # the authors' loop: no cache, both models on the whole sequence
            lb = base(seq, use_cache=False).logits[0, -1].float()
            lp = persrm(seq, use_cache=False).logits[0, -1].float()
            top, cand = lb.topk(10)
            score = top + (torch.log_softmax(lp[cand], 0) - torch.log_softmax(top, 0))
            seq = torch.cat([seq, cand[score.argmax()].view(1, 1)], 1)
        sync()
        rows.append({"method": "authors' loop (HF)", "batch": 1,
                     "tokens_per_s": a.authors_tokens / (time.perf_counter() - t0)})

    lines = [f"# Hugging Face transformers {transformers.__version__}, torch {torch.__version__}, "
             f"{torch.cuda.get_device_name()}: {a.preset} shapes, random bf16 weights", "",
             "| method | batch | tokens/s |", "|---|---:|---:|"]
    lines += [f"| {r['method']} | {r['batch']} | {r['tokens_per_s']:.1f} |" for r in rows]
    if a.pad_jsonl:
        pad = [json.loads(l) for l in open(a.pad_jsonl) if l.strip()]
        get = lambda rs, m, b: next((r["tokens_per_s"] for r in rs if r["method"] == m and r["batch"] == b), None)
        lines += ["", "| ratio (issue 14 target) | value |", "|---|---:|"]
        for b, target in ((1, 1.5), (64, 1.0)):
            p, h = get(pad, "plain", b), get(rows, "hf generate", b)
            if p and h:
                lines.append(f"| pad plain / HF generate, batch {b} (≥ {target}) | {p / h:.2f} |")
        p, h = get(pad, "PAD full", 1), get(rows, "authors' loop (HF)", 1)
        if p and h:
            lines.append(f"| PAD full / authors' loop (HF), batch 1 (≥ 20) | {p / h:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(text)
        import os
        os.replace(a.out + ".tmp", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
