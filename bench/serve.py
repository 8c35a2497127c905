#!/usr/bin/env python3
"""Throughput and latency of `pad serve` (started here on a free port) at several concurrencies.

For each method (plain decoding, PAD with the value head, PAD with the LoRA) and each concurrency C,
C clients send chat requests back to back for a fixed number of requests; reported: generated tokens
per second over the wall time, p50/p99 request latency, and the ratios the issue asks for (C=16 over
C=1; PAD over plain at the same C), all from the same run. Standard library only.

    bench/serve.py --pad build/apps/pad/pad [--models models] [-m MODEL [--persrm-head H --persrm-lora L]]
                   [--concurrency 1,4,16,64] [--requests 64] [--max-tokens 32] [--threads 2]
                   [--llama-server PATH]

With --llama-server (llama.cpp's server binary, built from its public source outside this repository)
and -m FILE.gguf, plain decoding is also measured through llama-server on the same file: both servers
get the same raw prompts on /v1/completions (no chat template), greedy, the same max_tokens, one
after the other on the same machine; the table adds the pad / llama-server ratio per concurrency.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

MODEL = "base"  # set from pad serve's /v1/models
PROMPTS = ["Share a few facts about the animal Fenzor, please.", "Tell me about caves.",
           "What do purple animals eat?", "Describe an animal with eight legs."]

METHODS = {
    "plain": {"pad": {"strategy": "base"}},
    "prompt": {"preference": "humor", "pad": {"strategy": "prompt"}},  # PAD's base row, without the PAD step
    "pad-head": {"preference": "humor", "pad": {"strategy": "pad", "persrm": "head"}},
    "pad-lora": {"preference": "humor", "pad": {"strategy": "pad", "persrm": "lora"}},
}


def start_server(args):
    cmd = [args.pad, "serve", "--port", "0", "--threads", str(args.threads), "--max-batch", "64",
           "--max-queue", "1024"]
    if args.model:
        cmd += ["-m", args.model]
        if args.persrm_head:
            cmd += ["--persrm-head", "head=" + args.persrm_head]
        if args.persrm_lora:
            cmd += ["--persrm-lora", "lora=" + args.persrm_lora]
    else:
        cmd += ["--models", args.models]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://\S+)", line)
    if not m:
        proc.kill()
        sys.exit("bench/serve.py: pad serve did not start: " + line)
    url = m.group(1)
    with urllib.request.urlopen(url + "/v1/models", timeout=10) as r:
        global MODEL
        MODEL = json.load(r)["data"][0]["id"]  # the base model's name (the first listed)
    return proc, url


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(args, max_concurrency):
    port = free_port()
    cmd = [args.llama_server, "-m", args.model, "--host", "127.0.0.1", "--port", str(port), "-t", str(args.threads),
           "-np", str(max_concurrency), "-c", str(max_concurrency * 256), "--log-disable"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):  # loading: /health answers 503 until the model is ready
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except Exception:
            pass
        if proc.poll() is not None:
            sys.exit("bench/serve.py: llama-server exited: " + " ".join(cmd))
        time.sleep(0.2)
    proc.kill()
    sys.exit("bench/serve.py: llama-server did not become healthy")


def one_request(url, body):
    route = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
    req = urllib.request.Request(url + route, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        reply = json.load(r)
    return time.perf_counter() - t0, reply["usage"]["completion_tokens"]


def run(url, method, concurrency, n_requests, max_tokens):
    lock = threading.Lock()
    latencies, tokens = [], [0]
    todo = list(range(n_requests))

    def client():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            if method == "completions":  # raw prompt, the same body for pad and llama-server
                body = {"model": MODEL, "prompt": PROMPTS[i % len(PROMPTS)], "max_tokens": max_tokens,
                        "temperature": 0}
            else:
                body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                        "max_tokens": max_tokens, "temperature": 0, **METHODS[method]}
            dt, n = one_request(url, body)
            with lock:
                latencies.append(dt)
                tokens[0] += n

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return {"tok_s": tokens[0] / wall, "p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * p99,
            "tokens": tokens[0], "wall_s": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pad", default="build/apps/pad/pad")
    ap.add_argument("--models", default="models")
    ap.add_argument("-m", "--model", help="base model (then --persrm-head and --persrm-lora too)")
    ap.add_argument("--persrm-head")
    ap.add_argument("--persrm-lora")
    ap.add_argument("--concurrency", default="1,4,16,64")
    ap.add_argument("--requests", type=int, default=64, help="requests per (method, concurrency)")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", help="default: plain, prompt, pad-head, pad-lora (those the PersRMs allow)")
    ap.add_argument("--llama-server", help="llama.cpp's llama-server binary: plain decoding side by side (needs -m GGUF)")
    args = ap.parse_args()
    if args.llama_server and not (args.model and args.model.endswith(".gguf")):
        sys.exit("bench/serve.py: --llama-server needs -m FILE.gguf (both servers read the same file)")
    if args.methods:
        methods = args.methods.split(",")
    else:
        methods = [m for m in METHODS if not args.model or m in ("plain", "prompt") or
                   (m == "pad-head" and args.persrm_head) or (m == "pad-lora" and args.persrm_lora)]
    levels = [int(c) for c in args.concurrency.split(",")]
    proc, url = start_server(args)
    try:
        for m in methods:  # warm-up
            run(url, m, 4, 8, args.max_tokens)
        res = {m: {c: run(url, m, c, max(args.requests, c), args.max_tokens) for c in levels} for m in methods}
        if args.llama_server:
            res["pad /v1/completions"] = {c: run(url, "completions", c, max(args.requests, c), args.max_tokens)
                                          for c in levels}
    finally:
        proc.terminate()
        proc.wait()
    if args.llama_server:
        proc, url = start_llama_server(args, max(levels))
        try:
            run(url, "completions", 4, 8, args.max_tokens)  # warm-up
            res["llama-server /v1/completions"] = {c: run(url, "completions", c, max(args.requests, c), args.max_tokens)
                                                   for c in levels}
        finally:
            proc.terminate()
            proc.wait()
        print("| server (plain, raw prompt) | concurrency | tokens/s | p50 ms | p99 ms | pad / llama-server |")
        print("|---|---|---|---|---|---|")
        for name in ("pad /v1/completions", "llama-server /v1/completions"):
            for c in levels:
                r, ref = res[name][c], res["llama-server /v1/completions"][c]
                print(f"| {name} | {c} | {r['tok_s']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
                      f"{res['pad /v1/completions'][c]['tok_s'] / ref['tok_s']:.2f}x |")
        print()
    print("| method | concurrency | tokens/s | p50 ms | p99 ms | vs C=1 | vs plain |")
    print("|---|---|---|---|---|---|---|")
    for m in methods:
        for c in levels:
            r = res[m][c]
            vs1 = r["tok_s"] / res[m][levels[0]]["tok_s"]
            vsp = r["tok_s"] / res["plain"][c]["tok_s"] if "plain" in res else float("nan")
            print(f"| {m} | {c} | {r['tok_s']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {vs1:.2f}x | {vsp:.2f}x |")
    print(json.dumps(res), file=sys.stderr)


if __name__ == "__main__":
    main()
