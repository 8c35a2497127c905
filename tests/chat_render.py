#!/usr/bin/python3
"""Reference renderer for pad's Jinja engine: jinja2 set up as Hugging Face's apply_chat_template
sets it up (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, tojson without
ASCII escaping, raise_exception, strftime_now fixed to 26 Jul 2024).

usage: chat_render.py DATA_DIR [OUT_DIR]
  Renders every template named in DATA_DIR/templates.json for every conversation in
  DATA_DIR/conversations.json (with and without the generation prompt), and every case of
  DATA_DIR/engine-cases.json, writing NAME.expected.json and engine-cases.expected.json to OUT_DIR
  (default DATA_DIR). Run with Debian's /usr/bin/python3 (python3-jinja2)."""
import datetime
import json
import os
import sys

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Refusal(Exception):
    pass


def raise_exception(message):
    raise Refusal(message)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.datetime(2024, 7, 26).strftime(fmt)
    return env


def render(env, source, variables):
    try:
        return env.from_string(source).render(**variables)
    except Refusal as e:
        return {"error": str(e), "raised": True}
    except Exception as e:  # a template error: pad must fail too, in its own words
        return {"error": "%s: %s" % (type(e).__name__, e), "raised": False}


def write(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main():
    data = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 else data
    env = make_env()
    templates = json.load(open(os.path.join(data, "templates.json"), encoding="utf-8"))
    conversations = json.load(open(os.path.join(data, "conversations.json"), encoding="utf-8"))
    for name, spec in templates.items():
        source = open(os.path.join(data, name + ".jinja"), encoding="utf-8").read()
        out = {}
        for conv_name, conv in conversations.items():
            for agp in (False, True):
                variables = {"messages": conv["messages"], "add_generation_prompt": agp,
                             "bos_token": spec["bos"], "eos_token": spec["eos"], "date_string": "26 Jul 2024"}
                for key in ("tools", "enable_thinking"):
                    if key in conv:
                        variables[key] = conv[key]
                out[conv_name + ("+generation_prompt" if agp else "")] = render(env, source, variables)
        write(os.path.join(out_dir, name + ".expected.json"), out)
    cases = json.load(open(os.path.join(data, "engine-cases.json"), encoding="utf-8"))
    write(os.path.join(out_dir, "engine-cases.expected.json"),
          {c["name"]: render(env, c["template"], c.get("vars", {})) for c in cases})


if __name__ == "__main__":
    main()
