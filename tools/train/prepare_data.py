#!/usr/bin/python3
"""Builds the training corpus of the bundled model from Debian package files only.

Sources: KJV bible (bible-kjv-text), English fortunes (fortunes), German/Spanish/Italian
fortunes (fortunes-de/-es/-it), C/C++ headers from /usr/include (of libc6-dev, linux-libc-dev,
libstdc++-12-dev, libvulkan-dev), plus ChatML examples derived from them. Splits documents into train/held-out
deterministically and writes work/{train,heldout}.jsonl, work/spm_input.txt and the
manifest (work/ and the committed tools/train/data_manifest.json).
"""
import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kjv import read_bible  # noqa: E402

IM_START, IM_END = "<|im_start|>", "<|im_end|>"


def chat(user, assistant):
    return f"{IM_START}user\n{user}{IM_END}\n{IM_START}assistant\n{assistant}{IM_END}\n"


def pkg_version(pkg):
    return subprocess.check_output(
        ["dpkg-query", "-W", "-f=${Version}", pkg], text=True).strip()


def pkg_files(pkg):
    out = subprocess.check_output(["dpkg", "-L", pkg], text=True).split("\n")
    return [f for f in out if f and os.path.isfile(f) and not os.path.islink(f)]


def read_text(path):
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8"), len(raw)
    except UnicodeDecodeError:
        return raw.decode("latin-1"), len(raw)


# ---------------------------------------------------------------- bible
def bible_docs():
    """One document per chapter: verses one per line, references stripped."""
    text = read_bible().decode("latin-1")
    chapters = {}
    order = []
    for line in text.split("\n")[1:]:
        m = re.match(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$", line)
        if not m:
            continue
        key = (m.group(1), int(m.group(2)))
        if key not in chapters:
            chapters[key] = []
            order.append(key)
        chapters[key].append(m.group(4).strip())
    docs = [{"src": "bible", "id": f"{b}{c}", "text": "\n".join(chapters[(b, c)]) + "\n",
             "verses": chapters[(b, c)]} for (b, c) in order]
    return docs, os.path.getsize("/usr/lib/bible.data"), len(text.encode("latin-1"))


# ---------------------------------------------------------------- fortunes
def fortune_docs(pkg, src):
    docs, raw_bytes, nfiles = [], 0, 0
    for f in sorted(pkg_files(pkg)):
        if "/games/fortunes" not in f or f.endswith(".dat") or f.endswith(".u8"):
            continue
        base = os.path.basename(f)
        if "art" in base.split(".")[0].split("-"):  # ascii-art / art: pictures, not text
            continue
        text, n = read_text(f)
        raw_bytes += n
        nfiles += 1
        for i, fort in enumerate(re.split(r"\n%\n", text)):
            fort = fort.strip("\n%")
            if len(fort.strip()) < 10:
                continue
            docs.append({"src": src, "id": f"{base}#{i}", "text": fort.rstrip() + "\n"})
    return docs, raw_bytes, nfiles


# ---------------------------------------------------------------- headers
LICENSE_RE = re.compile(r"^\s*/\*.*?\*/\s*", re.S)


def header_docs(rng, budget_bytes, max_file_bytes, packages):
    """Random headers (seeded) from the listed packages' files under /usr/include."""
    paths = []
    owner = {}
    for pkg in packages:
        try:
            files = pkg_files(pkg)
        except subprocess.CalledProcessError:
            continue  # not installed here
        for p in files:
            f = os.path.basename(p)
            if not p.startswith("/usr/include/"):
                continue
            if f.endswith((".h", ".hpp", ".hh", ".hxx")) or "/c++/" in p and "." not in f:
                paths.append(p)
                owner[p] = pkg
    paths.sort()
    rng.shuffle(paths)
    docs, used, pkgs = [], 0, {}
    for p in paths:
        if used >= budget_bytes:
            break
        pkg = owner[p]
        text, _ = read_text(p)
        m = LICENSE_RE.match(text)
        if m and len(m.group(0)) > 300 and re.search(r"(?i)licen[cs]e|copyright", m.group(0)):
            text = text[m.end():]  # drop the leading licence banner
        text = text[:max_file_bytes]
        if len(text) < 200:
            continue
        if len(text) == max_file_bytes:
            text = text[:text.rfind("\n") + 1]
        docs.append({"src": "code", "id": p, "text": text, "pkg": pkg})
        used += len(text.encode("utf-8"))
        pkgs[pkg] = pkgs.get(pkg, 0) + 1
    return docs, used, pkgs


# ---------------------------------------------------------------- chat examples
DECL_RE = re.compile(
    r"^[ \t]*(?:extern\s+|static\s+|inline\s+|__inline\s+|const\s+|unsigned\s+|struct\s+)*"
    r"[A-Za-z_][\w:<>]*[\s\*&]+(?:[A-Za-z_]\w*[\s\*&]+)*?\(?\*?\s*([A-Za-z_]\w*)\s*\([^;{}]*\)"
    r"[^;{}()]*(?:\([^;{}]*\))?\s*;", re.M)
KEYWORDS = {"if", "while", "for", "return", "sizeof", "switch", "defined", "typedef", "else"}


def declared_functions(snippet):
    code = re.sub(r"/\*.*?\*/", " ", snippet, flags=re.S)
    code = re.sub(r"//[^\n]*", "", code)
    code = "\n".join(l for l in code.split("\n") if not l.lstrip().startswith("#"))
    names = []
    for m in DECL_RE.finditer(code):
        n = m.group(1)
        if n not in KEYWORDS and not n.startswith("__") and n not in names:
            names.append(n)
    return names


def defined_macros(snippet):
    names = []
    for m in re.finditer(r"^\s*#\s*define\s+([A-Za-z_]\w*)", snippet, re.M):
        if m.group(1) not in names and not m.group(1).startswith("_"):
            names.append(m.group(1))
    return names


def join_names(names):
    names = [f"{n}" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


FORTUNE_ASK = {
    "fortunes_en": ["Tell me a fortune.", "Give me a fortune cookie.", "Say something wise."],
    "fortunes_de": ["Erzähl mir einen Spruch.", "Sag mir etwas Lustiges."],
    "fortunes_es": ["Dime un refrán.", "Cuéntame algo."],
    "fortunes_it": ["Dimmi una frase.", "Raccontami qualcosa."],
}


def chat_docs(docs, rng, scale):
    out = []
    bible = [d for d in docs if d["src"] == "bible"]
    verses = [(v, d["verses"][i + 1] if i + 1 < len(d["verses"]) else None)
              for d in bible for i, v in enumerate(d["verses"])]
    rng.shuffle(verses)
    n_complete = int(6000 * scale)
    n_next = int(2000 * scale)
    for v, _ in verses[:n_complete]:
        w = v.split(" ")
        if len(w) < 8:
            continue
        cut = len(w) // 2
        out.append(chat("Complete this verse: " + " ".join(w[:cut]), " ".join(w[cut:])))
    for v, nxt in verses[n_complete:n_complete + n_next]:
        if nxt:
            out.append(chat("What is the next verse after this one?\n" + v, nxt))
    # headers: snippets of 10-30 lines that declare functions (or define macros)
    code = [d for d in docs if d["src"] == "code"]
    n_code = int(3000 * scale)
    tries = 0
    made = 0
    while made < n_code and tries < n_code * 20 and code:
        tries += 1
        d = rng.choice(code)
        lines = d["text"].split("\n")
        if len(lines) < 12:
            continue
        start = rng.randrange(0, max(1, len(lines) - 10))
        snippet = "\n".join(lines[start:start + rng.randint(10, 30)]).strip("\n")
        if len(snippet) > 900 or len(snippet) < 80:
            continue
        fns = declared_functions(snippet)
        if fns:
            ans = ("It declares the function " if len(fns) == 1 else
                   "It declares the functions ") + join_names(fns[:12]) + "."
        else:
            macros = defined_macros(snippet)
            if not macros:
                continue
            ans = ("It defines the macro " if len(macros) == 1 else
                   "It defines the macros ") + join_names(macros[:12]) + "."
        out.append(chat("What does this header declare?\n" + snippet, ans))
        made += 1
    # fortunes
    for src, asks in FORTUNE_ASK.items():
        pool = [d["text"].strip() for d in docs if d["src"] == src and len(d["text"]) < 300]
        rng.shuffle(pool)
        for t in pool[:int((1500 if src == "fortunes_en" else 700) * scale)]:
            out.append(chat(rng.choice(asks), t))
    rng.shuffle(out)
    return [{"src": "chat", "id": hashlib.sha1(t.encode()).hexdigest()[:12], "text": t}
            for t in out]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "work"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--heldout", type=float, default=0.02)
    ap.add_argument("--code-bytes", type=int, default=5_000_000)
    ap.add_argument("--code-file-bytes", type=int, default=12_000)
    ap.add_argument("--code-packages", default="libc6-dev,linux-libc-dev,libstdc++-12-dev,libvulkan-dev",
                    help="Debian packages whose /usr/include headers are used (skipped if not installed)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)

    packages = {}
    sources = {}
    docs, raw, used = bible_docs()
    packages["bible-kjv-text"] = pkg_version("bible-kjv-text")
    sources["bible"] = {"package": "bible-kjv-text", "files": ["/usr/lib/bible.data"],
                        "file_bytes": raw, "text_bytes": used}
    all_docs = list(docs)
    for pkg, src in [("fortunes", "fortunes_en"), ("fortunes-de", "fortunes_de"),
                     ("fortunes-es", "fortunes_es"), ("fortunes-it", "fortunes_it")]:
        d, raw, nfiles = fortune_docs(pkg, src)
        packages[pkg] = pkg_version(pkg)
        sources[src] = {"package": pkg, "files": nfiles, "file_bytes": raw}
        all_docs += d
    d, used, owners = header_docs(rng, args.code_bytes, args.code_file_bytes,
                                  args.code_packages.split(","))
    for p in owners:
        packages[p] = pkg_version(p)
    sources["code"] = {"packages": owners, "files": len(d), "max_bytes_per_file": args.code_file_bytes,
                       "note": "seeded random headers under /usr/include from the listed packages; leading licence banner dropped"}
    all_docs += d

    # held-out split by document, deterministic
    def is_heldout(doc):
        h = hashlib.sha1(f"{args.seed}:{doc['src']}:{doc['id']}".encode()).digest()
        return int.from_bytes(h[:4], "big") / 2**32 < args.heldout

    train = [x for x in all_docs if not is_heldout(x)]
    held = [x for x in all_docs if is_heldout(x)]
    train += chat_docs(train, random.Random(args.seed + 1), 1.0)
    held += chat_docs(held, random.Random(args.seed + 2), args.heldout)

    for name, ds in [("train", train), ("heldout", held)]:
        with open(os.path.join(args.out, f"{name}.jsonl"), "w") as f:
            for x in ds:
                f.write(json.dumps({"src": x["src"], "id": x["id"], "text": x["text"]},
                                   ensure_ascii=False) + "\n")
    # sentencepiece input: the training documents, one line per text line
    with open(os.path.join(args.out, "spm_input.txt"), "w") as f:
        for x in train:
            for line in x["text"].split("\n"):
                if line.strip():
                    f.write(line[:4000] + "\n")

    stats = {}
    for name, ds in [("train", train), ("heldout", held)]:
        for x in ds:
            s = stats.setdefault(x["src"], {"train_docs": 0, "train_bytes": 0,
                                            "heldout_docs": 0, "heldout_bytes": 0})
            s[f"{name}_docs"] += 1
            s[f"{name}_bytes"] += len(x["text"].encode("utf-8"))
    for src, s in stats.items():
        sources.setdefault(src, {}).update(s)
    manifest = {
        "seed": args.seed,
        "heldout_fraction_by_document": args.heldout,
        "heldout_rule": "sha1(f'{seed}:{src}:{doc_id}')[:4] as big-endian uint32 / 2^32 < fraction",
        "packages": dict(sorted(packages.items())),
        "sources": sources,
        "chat_format": "ChatML: <|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n...<|im_end|>\\n",
        "chat_tasks": ["Complete this verse: <first half> -> second half",
                       "What is the next verse after this one? -> next verse",
                       "What does this header declare? <10-30 lines> -> function (or macro) names",
                       "Tell me a fortune. (and de/es/it variants) -> a fortune"],
    }
    for path in [os.path.join(args.out, "data_manifest.json"), os.path.join(HERE, "data_manifest.json")]:
        with open(path, "w") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
            f.write("\n")
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
