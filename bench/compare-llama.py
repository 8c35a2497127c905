#!/usr/bin/env python3
"""pad against llama.cpp on the same GGUF files, same thread count, one run: decode at batch 1,
4 and 16 (after a 32-token prompt), prefill of 128 tokens, and the ratios pad / llama.cpp.

    bench/compare-llama.py --pad build/apps/pad/pad --llama-bin DIR --threads 2 FILE.gguf ...

DIR holds llama.cpp's llama-bench and llama-batched-bench, built from its public source outside this
repository. Without --llama-bin the llama.cpp columns show the reference figures measured on the
2-core development machine (issue 10), marked as such."""
import argparse, json, os, re, subprocess, sys

# Reference figures (tokens/s) from issue 10, 2 threads on the 2-core development machine, for the
# ~98M model (pad create-model --preset 98m): decode batch 1, prefill 128, batched 1/4/16 sequences.
REFERENCE = {
    "f32": {"tg": 94.5, "pp": 690}, "bf16": {"tg": 159, "pp": 1375},
    "q8_0": {"tg": 245, "pp": 1059}, "q4_k_m": {"tg": 324, "pp": 644},
    "batched": {1: 79, 4: 225, 16: 405},
}

def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}")
    return p.stdout

def pad_numbers(pad, path, threads):
    out = run([pad, "bench", "runtime", "-m", path, "--threads", str(threads), "--steps", "32", "--no-baseline"])
    decode = {int(m.group(1)): float(m.group(2)) for m in
              re.finditer(r"^\| pad kernels \| (\d+) \| [\d.]+ \| ([\d.]+) \|", out, re.M)}
    prefill = float(re.search(r"^prefill: (\d+) tokens/s", out, re.M).group(1))
    profile = re.search(r"products take (\d+)%", out).group(1)
    rss = re.search(r"resident at the end: (\d+) MB", out).group(1)
    return decode, prefill, profile, rss

def llama_numbers(bin_dir, path, threads):
    out = run([os.path.join(bin_dir, "llama-bench"), "-m", path, "-t", str(threads), "-p", "128", "-n", "64",
               "-r", "3", "-o", "json"])
    rows = json.loads(out[out.index("["):])
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] > 0)
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0)
    out = run([os.path.join(bin_dir, "llama-batched-bench"), "-m", path, "-t", str(threads), "-c", "4096",
               "-b", "2048", "-ub", "512", "-npp", "32", "-ntg", "32", "-npl", "1,4,16"])
    batched = {}
    for line in out.splitlines():  # | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | ...
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and cells[2].isdigit():
            batched[int(cells[2])] = float(cells[7])
    return tg, pp, batched

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pad", required=True)
    ap.add_argument("--llama-bin", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    measured = bool(a.llama_bin) and os.path.exists(os.path.join(a.llama_bin, "llama-bench"))
    src = "measured in this run" if measured else "reference figures of issue 10 (llama.cpp not given)"
    print(f"# pad vs llama.cpp, {a.threads} threads; llama.cpp: {src}\n")
    print("| file | pad decode b1 | llama.cpp | ratio | pad prefill 128 | llama.cpp | ratio | pad b4 | pad b16 | llama.cpp b16 | ratio b16 | products % | pad RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in a.files:
        decode, prefill, profile, rss = pad_numbers(a.pad, path, a.threads)
        if measured:
            tg, pp, batched = llama_numbers(a.llama_bin, path, a.threads)
        else:
            key = next((k for k in ("q4_k_m", "q8_0", "bf16", "f32") if k in os.path.basename(path).lower()), "f32")
            tg, pp, batched = REFERENCE[key]["tg"], REFERENCE[key]["pp"], REFERENCE["batched"]
        b16 = batched.get(16, float("nan"))
        print(f"| {os.path.basename(path)} | {decode[1]:.1f} | {tg:.1f} | {decode[1] / tg:.2f} | {prefill:.0f} | {pp:.0f} | "
              f"{prefill / pp:.2f} | {decode[4]:.1f} | {decode[16]:.1f} | {b16:.1f} | {decode[16] / b16:.2f} | {profile} | {rss} |",
              flush=True)

if __name__ == "__main__":
    main()
