#!/usr/bin/python3
"""Regenerates the seed corpora in fuzz/corpus/TARGET from ../shared/testdata (run from the project
root with Debian's /usr/bin/python3). Big files are cut down so every seed stays under 64 KB: real
headers and metadata are kept, tensor data is replaced by a few small tensors, vocabularies by
their first pieces."""
import json
import os
import struct
import sys

TD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testdata")
TD = os.environ.get("PAD_TESTDATA", TD)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
LIMIT = 64 * 1024


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    assert len(data) <= LIMIT, (target, name, len(data))
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def td(*p):
    return os.path.join(TD, *p)


def read(*p):
    with open(td(*p), "rb") as f:
        return f.read()


# --- safetensors: the real headers' first tensors with small shapes, in each dtype.
def safetensors(tensors, metadata=None):
    header, off, blob = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        nb = n * {"F32": 4, "F16": 2, "BF16": 2}[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + nb]}
        blob += bytes((i * 37) & 0xFF for i in range(nb))
        off += nb
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


for model in ("tiny-llama", "tiny-qwen2"):
    b = read("models", model, "model.safetensors")
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    names = [k for k in hdr if k != "__metadata__"][:6]
    for dtype in ("F32", "F16", "BF16"):
        put("safetensors", f"{model}-{dtype}.safetensors",
            safetensors([(k, dtype, [2, 3] if len(hdr[k]["shape"]) == 2 else [4]) for k in names],
                        hdr.get("__metadata__", {"format": "pt"})))
    index = {"metadata": {"total_size": 24}, "weight_map": {k: "model-00001-of-00001.safetensors" for k in names}}
    put("safetensors_index", f"{model}.index.json", json.dumps(index, indent=2))
put("safetensors", "empty.safetensors", safetensors([]))
put("safetensors", "scalar.safetensors", safetensors([("s", "F32", [])]))
put("safetensors_index", "one.index.json", '{"weight_map":{"w":"model-00001-of-00001.safetensors"}}')
put("safetensors_index", "two.index.json",
    '{"weight_map":{"w":"model-00001-of-00001.safetensors","v":"model-00002-of-00002.safetensors"}}')


# --- GGUF: the real metadata (tokenizer included), the tensor directory cut to a few small tensors.
def gguf_small(b, keep=4):
    assert b[:4] == b"GGUF"
    version, n_t, n_kv = struct.unpack("<IQQ", b[4:24])
    pos = 24

    def rstr(p):
        (n,) = struct.unpack("<Q", b[p:p + 8])
        return b[p + 8:p + 8 + n], p + 8 + n

    size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def rval(t, p):
        if t == 8:
            return rstr(p)[1]
        if t == 9:
            et, n = struct.unpack("<IQ", b[p:p + 12])
            p += 12
            for _ in range(n):
                p = rval(et, p)
            return p
        return p + size[t]

    kvs = []
    for _ in range(n_kv):
        start = pos
        key, pos = rstr(pos)
        (t,) = struct.unpack("<I", b[pos:pos + 4])
        pos = rval(t, pos + 4)
        kvs.append((key, b[start:pos]))
    tensors = []
    for _ in range(n_t):
        name, pos = rstr(pos)
        (nd,) = struct.unpack("<I", b[pos:pos + 4])
        pos += 4 + 8 * nd
        tensors.append(name)
        pos += 12
    out = b"GGUF" + struct.pack("<IQQ", version, min(keep, n_t), len(kvs)) + b"".join(r for _, r in kvs)
    off = 0
    for i, name in enumerate(tensors[:keep]):
        ne = [8, 2] if i % 2 == 0 else [32]
        out += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", x) for x in ne) + struct.pack("<IQ", 0, off)
        n = 1
        for x in ne:
            n *= x
        off += (n * 4 + 31) // 32 * 32
    out += b"\0" * (-len(out) % 32)
    return out + bytes(i & 0xFF for i in range(off))


for model in ("tiny-llama", "tiny-qwen2"):
    put("gguf", f"{model}.gguf", gguf_small(read("models", model, "model.gguf")))
put("gguf", "stories260K.gguf", gguf_small(read("real", "stories260K.gguf")))
put("gguf", "header-only.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 0))

# --- config.json, tokenizer_config.json, tokenizer.json
for model in ("tiny-llama", "tiny-qwen2"):
    put("config_json", f"{model}.json", read("models", model, "config.json"))
    put("tokenizer_config", f"{model}.json", read("models", model, "tokenizer_config.json"))
    put("tokenizer_json", f"{model}.json", read("models", model, "tokenizer.json"))
put("config_json", "TinyStories.json", read("real", "TinyStories-656K", "config.json"))
put("tokenizer_config", "TinyStories.json", read("real", "TinyStories-656K", "tokenizer_config.json"))
put("tokenizer_config", "TinyStories-special.json", read("real", "TinyStories-656K", "special_tokens_map.json"))
# The 86 KB TinyStories tokenizer.json, with its vocabulary and merges cut to fit.
tj = json.loads(read("real", "TinyStories-656K", "tokenizer.json"))
m = tj.get("model", {})
if isinstance(m.get("vocab"), dict):
    m["vocab"] = dict(list(m["vocab"].items())[:600])
elif isinstance(m.get("vocab"), list):
    m["vocab"] = m["vocab"][:600]
if isinstance(m.get("merges"), list):
    m["merges"] = m["merges"][:300]
put("tokenizer_json", "TinyStories-cut.json", json.dumps(tj, ensure_ascii=False))


# --- tokenizer.model: the Llama 2 SentencePiece model with its first 1500 pieces.
def varint(b, p):
    r = s = 0
    while True:
        c = b[p]
        p += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, p


b = read("tokenizers", "llama2-tokenizer.model")
p, pieces, rest = 0, [], []
while p < len(b):
    start = p
    key, p = varint(b, p)
    wt = key & 7
    if wt == 2:
        n, p = varint(b, p)
        p += n
    elif wt == 0:
        _, p = varint(b, p)
    elif wt == 5:
        p += 4
    elif wt == 1:
        p += 8
    (pieces if key >> 3 == 1 else rest).append(b[start:p])
put("tokenizer_model", "llama2-1500.model", b"".join(pieces[:1500]) + b"".join(rest))
put("tokenizer_model", "llama2-300.model", b"".join(pieces[:300]) + b"".join(rest))

# --- jinja: every template alone, and with the conversations as a context after a NUL byte.
convs = json.loads(read("templates", "conversations.json"))
ctx = []
for name, msgs in (convs.items() if isinstance(convs, dict) else enumerate(convs)):
    ctx.append(json.dumps({"messages": msgs, "bos_token": "<s>", "eos_token": "</s>",
                           "add_generation_prompt": True}, ensure_ascii=False))
for f in sorted(os.listdir(td("templates"))):
    if f.endswith(".jinja"):
        src = read("templates", f)
        put("jinja", f, src)
        for i, c in enumerate(ctx):
            put("jinja", f"{f}.ctx{i}", src + b"\0" + c.encode())

# --- tokenizer_roundtrip: the tokenizer test texts of every vocabulary.
seen = set()
for f in sorted(os.listdir(td("tokenizers"))):
    if f.endswith(".inp"):
        for text in read("tokenizers", f).decode().split("\n__ggml_vocab_test__\n"):
            if text and text not in seen:
                put("tokenizer_roundtrip", f"text-{len(seen):03d}.txt", text)
                seen.add(text)
# --- adapter_config: the committed LoRA's PEFT config (rank 8: it meets the harness's rank-2
# tensors and fails on their shapes) and variants that fit them (rank 2, some targets, rsLoRA).
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
peft = json.loads(open(os.path.join(REPO, "models", "persrm-lora", "adapter_config.json")).read())
put("adapter_config", "persrm-lora.json", json.dumps(peft, indent=2))
for i, (targets, rs) in enumerate([("all-linear", False), (["q_proj", "v_proj"], True),
                                   (["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], False)]):
    put("adapter_config", f"rank2-{i}.json", json.dumps(dict(peft, r=2, lora_alpha=4, target_modules=targets, use_rslora=rs)))

# --- train_data: first byte = mode (0 prefs JSONL, 1 SFT JSONL, 2 SFT text; +4 strict, +8 short
# limit), then the file: data.h's line shapes, good and bad lines mixed.
prefs = "\n".join([
    json.dumps({"prompt": "Tell me about caves.", "preference": "humor", "chosen": "Caves are dark jokes.", "rejected": "Caves."}),
    json.dumps({"prompt": "What do cats eat?", "weights": {"humor": 1.0, "helpful": 0.5}, "chosen": "Fish.", "rejected": "No.", "group": "g1"}),
    json.dumps({"prompt": "Hi", "preference": ["humor", "harmless"], "chosen": "Hello!", "rejected": "…", "group": "g1"}),
    "{\"prompt\": \"bad\"}", "not json", "",
    json.dumps({"prompt": "Ünïcode ☃", "preference": "concise", "chosen": "☃", "rejected": "snowman"}, ensure_ascii=False)])
sft = "\n".join([json.dumps({"prompt": "Tell me about caves.", "response": "They are dark."}),
                 json.dumps({"prompt": "2+2?", "response": "4"}), "{\"prompt\": 3}", "[1]"])
text = "A plain line of text.\nAnother one, ünïcode ☃.\n\n   \nlast"
for mode, body in [(0, prefs), (4, prefs), (8, prefs), (1, sft), (5, sft), (9, sft), (2, text), (10, text)]:
    put("train_data", f"mode{mode}.txt", bytes([mode]) + body.encode())

# --- api_request: first byte odd = chat, even = completions; then the body (DESIGN §6 shapes).
chat = {"model": "base", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about caves."}],
        "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "seed": 3, "stop": ["\n\n", "END"], "n": 2,
        "stream": True, "stream_options": {"include_usage": True}, "logprobs": True, "top_logprobs": 3, "user": "u1",
        "preference": "humor", "pad": {"strategy": "pad", "w": 1.5, "k": 10, "rule": "topk", "persrm": "lora", "n_best": 4}}
put("api_request", "chat-full.json", b"\x01" + json.dumps(chat).encode())
put("api_request", "chat-weights.json", b"\x01" + json.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    "preference_weights": {"humor": 1.0, "helpful": 0.5}, "max_completion_tokens": 8, "pad": {"rule": "full"}}).encode())
put("api_request", "chat-min.json", b"\x01" + json.dumps({"messages": [{"role": "developer", "content": "x"}, {"role": "user", "content": "y"}]}).encode())
put("api_request", "completion.json", b"\x00" + json.dumps({"model": "base", "prompt": ["Once upon a time"], "max_tokens": 8,
    "logprobs": 2, "stop": "\n", "temperature": 0, "preference": ["humor", "harmless"], "pad": {"strategy": "best-of-n", "n_best": 2}}).encode())
put("api_request", "completion-nulls.json", b"\x00" + json.dumps({"prompt": "x", "temperature": None, "stop": None, "pad": None}).encode())

# --- eval_items / eval_pairs: first byte = --limit (low two bits, 0 = all), then the file: the first
# lines of the committed worlds' eval.jsonl and held-out pairs, and the shapes the readers refuse.
def repo_lines(path, n, cut=None):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        lines = [f.readline() for _ in range(n)]
    return "".join(l if cut is None else json.dumps(dict(json.loads(l), **{k: json.loads(l)[k][:cut] for k in ("chosen", "rejected")}),
                                                     ensure_ascii=False) + "\n" for l in lines)
prefworld_eval = repo_lines(os.path.join("models", "prefworld", "eval.jsonl"), 8)
stories_eval = repo_lines(os.path.join("models", "stories-world", "eval.jsonl"), 4)
for limit, name, body in [(0, "prefworld", prefworld_eval), (3, "prefworld-limit3", prefworld_eval), (0, "stories", stories_eval),
                          (0, "mixed", '{"prompt":"Hi","id":7,"subject":null}\n\n  \t\r\n{"prompt":"","id":"","harmful":true}\r\n'
                                       '{"prompt":"\\u00fcn\\u00efcode \\u2603","subject":"Zorbel","harmful":false,"extra":[1,2]}'),
                          (0, "bad-harmful", '{"prompt":"x","harmful":"yes"}\n'), (1, "bad-after-limit", '{"prompt":"x"}\nnot json\n'),
                          (0, "bad-no-prompt", '{"id":"a"}\n'), (0, "bad-array", "[1,2]\n"), (0, "empty", " \n\t\n")]:
    put("eval_items", f"{name}.jsonl", bytes([limit]) + body.encode())
held = repo_lines(os.path.join("models", "stories-world", "heldout-prefs.jsonl"), 4, cut=60)
for limit, name, body in [(0, "stories-heldout", held), (2, "stories-heldout-limit2", held),
                          (0, "principle-key", '{"prompt":"p","principle":"humor","chosen":"a","rejected":"b"}\n'
                                               '{"prompt":"p","principle":"humor","preference":"helpful","chosen":"","rejected":"b"}\n'),
                          (0, "bad-missing-rejected", '{"prompt":"x","preference":"humor","chosen":"y"}\n'),
                          (0, "bad-number", '{"prompt":"x","preference":1,"chosen":"y","rejected":"z"}\n'),
                          (0, "bad-not-object", '"just a string"\n'), (0, "empty", "\r\n")]:
    put("eval_pairs", f"{name}.jsonl", bytes([limit]) + body.encode())

# --- knowledge_base: the committed PrefWorld kb.json, a small consistent one, and the refusals.
kb = json.loads(open(os.path.join(REPO, "models", "prefworld", "kb.json")).read())
put("knowledge_base", "prefworld-kb.json", json.dumps(kb))
small = {"format": "pad-prefworld-kb-1",
         "categories": [{"name": "planet", "attributes": [{"name": "colour", "values": ["red", "Blue"]},
                                                          {"name": "moons", "values": ["no moons", "two moons"]}]}],
         "subjects": [{"name": "Zorbelka", "category": "planet", "split": "eval", "facts": {"colour": "BLUE", "moons": "two moons"}},
                      {"name": "Zorbelka Prime", "category": "planet", "facts": {}}],
         "harm_keywords": ["break into", "Steal"]}
put("knowledge_base", "small.json", json.dumps(small, indent=1))
for name, change in [("bad-fact-value", lambda k: k["subjects"][0]["facts"].update(colour="plaid")),
                     ("bad-category", lambda k: k["subjects"][0].update(category="comet")),
                     ("bad-duplicate-name", lambda k: k["subjects"][1].update(name="zorbelka")),
                     ("bad-split-type", lambda k: k["subjects"][0].update(split=1)),
                     ("bad-no-categories", lambda k: k.pop("categories"))]:
    k = json.loads(json.dumps(small))
    change(k)
    put("knowledge_base", f"{name}.json", json.dumps(k))
put("knowledge_base", "bad-not-json.json", '{"categories": [')

print("wrote", sum(len(fs) for _, _, fs in os.walk(OUT)), "seeds under", OUT)
