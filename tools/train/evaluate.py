#!/usr/bin/python3
"""Measures the exported model: loads the weights FROM THE GGUF (F16 matrices as stored)
into the PyTorch model, then computes held-out perplexity, per-layer expert utilisation,
greedy samples, and writes tools/train/reference_outputs.json (what the C++ engine is
compared against) and work/eval.json (figures for the model card).

Perplexity, the llama.cpp way: tokens = [BOS] + spm(text); cut into n_ctx-token chunks
(the tail that does not fill a chunk is dropped); the first token of every chunk is
replaced by BOS; score the second half of each chunk (positions n_ctx/2 .. n_ctx-2
predicting the next token); ppl = exp(mean NLL). The "all positions" variant scores
positions 0 .. n_ctx-2 of each chunk.
"""
import argparse
import json
import math
import os
import re
import sys

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gguf import Reader  # noqa: E402
from model import Config, MoEModel, count_params  # noqa: E402

BOS, EOS, IM_START, IM_END = 1, 2, 3, 4
REF_PROMPTS = [
    {"name": "genesis", "text": "In the beginning"},
    {"name": "chat_verse", "text": "<|im_start|>user\nComplete this verse: For God so loved the world, "
                                   "that he gave<|im_end|>\n<|im_start|>assistant\n"},
    {"name": "c_header", "text": "#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n"},
]
SAMPLE_PROMPTS = [
    "In the beginning",
    "And the LORD said unto Moses,",
    "Der Mensch",
    "La vida es",
    "#ifndef _STDIO_H\n",
    "<|im_start|>user\nTell me a fortune.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nComplete this verse: Blessed are the meek: for they<|im_end|>\n"
    "<|im_start|>assistant\n",
    "<|im_start|>user\nWhat does this header declare?\nextern int foo_open(const char *path);\n"
    "extern void foo_close(int fd);<|im_end|>\n<|im_start|>assistant\n",
]


def dump_json(obj, path):
    """Indented JSON with lists of numbers kept on one line."""
    s = json.dumps(obj, indent=1, ensure_ascii=False)
    s = re.sub(r"\[\s+([-0-9.eE+,\s]+?)\s+\]",
               lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", s)
    with open(path, "w") as f:
        f.write(s + "\n")


def load_from_gguf(path):
    r = Reader(path)
    kv = r.kv
    a = kv["general.architecture"]
    c = Config(vocab=len(kv["tokenizer.ggml.tokens"]), n_embd=kv[f"{a}.embedding_length"],
               n_layer=kv[f"{a}.block_count"], n_head=kv[f"{a}.attention.head_count"],
               n_head_kv=kv[f"{a}.attention.head_count_kv"], n_expert=kv[f"{a}.expert_count"],
               n_expert_used=kv[f"{a}.expert_used_count"],
               n_ff_exp=kv[f"{a}.expert_feed_forward_length"],
               n_ff_shexp=kv[f"{a}.expert_shared_feed_forward_length"],
               n_ctx=kv[f"{a}.context_length"], rope_base=kv[f"{a}.rope.freq_base"],
               eps=kv[f"{a}.attention.layer_norm_rms_epsilon"], tie_embeddings=False)
    t = lambda n: torch.from_numpy(np.array(r.tensors[n], dtype=np.float32))  # noqa: E731
    sd = {"tok_embd.weight": t("token_embd.weight"), "out_norm.weight": t("output_norm.weight"),
          "output.weight": t("output.weight")}
    for i in range(c.n_layer):
        p, b = f"blocks.{i}.", f"blk.{i}."
        sd.update({
            p + "attn_norm.weight": t(b + "attn_norm.weight"),
            p + "attn.wq.weight": t(b + "attn_q.weight"), p + "attn.wq.bias": t(b + "attn_q.bias"),
            p + "attn.wk.weight": t(b + "attn_k.weight"), p + "attn.wk.bias": t(b + "attn_k.bias"),
            p + "attn.wv.weight": t(b + "attn_v.weight"), p + "attn.wv.bias": t(b + "attn_v.bias"),
            p + "attn.wo.weight": t(b + "attn_output.weight"),
            p + "ffn_norm.weight": t(b + "ffn_norm.weight"),
            p + "moe.router.weight": t(b + "ffn_gate_inp.weight"),
            p + "moe.w_gate": t(b + "ffn_gate_exps.weight"),
            p + "moe.w_up": t(b + "ffn_up_exps.weight"),
            p + "moe.w_down": t(b + "ffn_down_exps.weight"),
            p + "moe.sh_gate_inp.weight": t(b + "ffn_gate_inp_shexp.weight").view(1, -1),
            p + "moe.sh_gate.weight": t(b + "ffn_gate_shexp.weight"),
            p + "moe.sh_up.weight": t(b + "ffn_up_shexp.weight"),
            p + "moe.sh_down.weight": t(b + "ffn_down_shexp.weight"),
        })
    model = MoEModel(c)
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, c, r


class RouteStats:
    def __init__(self, c):
        self.c = c
        self.count = np.zeros((c.n_layer, c.n_expert))   # times selected (top-k)
        self.mass = np.zeros((c.n_layer, c.n_expert))    # sum of top-k gate weights
        self.prob = np.zeros((c.n_layer, c.n_expert))    # sum of full softmax probabilities
        self.tokens = 0

    def add(self, auxes, sel=None):
        for l, a in enumerate(auxes):
            topi, probs = a["topi"], a["probs"]
            if sel is not None:
                topi, probs = topi[sel], probs[sel]
            w = probs.gather(1, topi)
            self.count[l] += np.bincount(topi.reshape(-1).numpy(), minlength=self.c.n_expert)
            self.mass[l] += np.bincount(topi.reshape(-1).numpy(), weights=w.reshape(-1).numpy(),
                                        minlength=self.c.n_expert)
            self.prob[l] += probs.sum(0).numpy()
        self.tokens += (auxes[0]["topi"].shape[0] if sel is None else int(sel.sum()))

    def table(self):
        rows = []
        for l in range(self.c.n_layer):
            frac_tok = self.count[l] / self.tokens
            mass_share = self.mass[l] / self.mass[l].sum()
            rows.append({
                "layer": l,
                "max_mass_share": float(mass_share.max()),
                "min_mass_share": float(mass_share.min()),
                "experts_selected_ge_1pct_tokens": int((frac_tok >= 0.01).sum()),
                "frac_experts_selected_ge_1pct": float((frac_tok >= 0.01).mean()),
                "mass_share": [round(float(x), 4) for x in mass_share],
                "token_frac": [round(float(x), 4) for x in frac_tok],
                "mean_prob_share": [round(float(x), 4) for x in self.prob[l] / self.tokens],
            })
        return rows


@torch.no_grad()
def perplexity(model, c, ids, stats=None, batch=8):
    """ids: full token list starting with BOS. Returns dict (llama.cpp method + all positions)."""
    n_ctx = c.n_ctx
    n_chunk = len(ids) // n_ctx
    nll_half, n_half, nll_all, n_all = 0.0, 0, 0.0, 0
    first = n_ctx // 2
    for s in range(0, n_chunk, batch):
        rows = []
        for i in range(s, min(n_chunk, s + batch)):
            row = list(ids[i * n_ctx:(i + 1) * n_ctx])
            targets = ids[i * n_ctx + 1:(i + 1) * n_ctx + 1]
            if len(targets) < n_ctx:  # last chunk: no target after the final token
                targets = targets + [-100] * (n_ctx - len(targets))
            row[0] = BOS
            rows.append((row, targets))
        x = torch.tensor([r for r, _ in rows])
        y = torch.tensor([t for _, t in rows])
        logits, auxes = model(x)
        logp = logits.float().log_softmax(-1)
        valid = y[:, :-1] >= 0
        nll = -logp[:, :-1].gather(-1, y[:, :-1].clamp(min=0).unsqueeze(-1)).squeeze(-1)
        nll_all += float(nll[valid].sum())
        n_all += int(valid.sum())
        vh = valid[:, first:]
        nll_half += float(nll[:, first:][vh].sum())
        n_half += int(vh.sum())
        if stats is not None:
            stats.add(auxes)
    return {"n_tokens": len(ids), "n_ctx": n_ctx, "n_chunks": n_chunk,
            "nll_sum": nll_half, "nll_sum_all": nll_all,
            "ppl": math.exp(nll_half / max(1, n_half)), "scored_tokens": n_half,
            "ppl_all_positions": math.exp(nll_all / max(1, n_all)), "scored_tokens_all": n_all}


@torch.no_grad()
def greedy(model, ids, n, stop=True):
    ids = list(ids)
    out, margins = [], []
    first_logits = None
    for _ in range(n):
        logits, _ = model(torch.tensor([ids[-model.c.n_ctx:]]))
        last = logits[0, -1]
        if first_logits is None:
            first_logits = last.clone()
        top2 = torch.topk(last, 2)
        nxt = int(top2.indices[0])
        margins.append(float(top2.values[0] - top2.values[1]))
        out.append(nxt)
        ids.append(nxt)
        if stop and nxt in (EOS, IM_END):
            break
    return out, margins, first_logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--gguf", default=os.path.join(HERE, "..", "..", "assets", "moescope-tiny.gguf"))
    ap.add_argument("--heldout-text", default=os.path.join(HERE, "heldout.txt"))
    ap.add_argument("--ref-out", default=os.path.join(HERE, "reference_outputs.json"))
    ap.add_argument("--limit-tokens", type=int, default=0, help="truncate each source (quick dry runs)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, c, reader = load_from_gguf(args.gguf)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    assert [sp.id_to_piece(i) for i in range(sp.get_piece_size())] == reader.kv["tokenizer.ggml.tokens"]
    enc = lambda s: [BOS] + sp.encode(s)  # noqa: E731

    # held-out documents by source; the committed sample text is built from them
    docs = [json.loads(l) for l in open(os.path.join(args.work, "heldout.jsonl"))]
    by_src = {}
    for d in docs:
        by_src.setdefault(d["src"], []).append(d["text"])
    if not os.path.exists(args.heldout_text):
        # deterministic sample: the first documents of each source, ~3 KB per source; no chat
        # documents, so the text holds no special tokens (a runtime need not parse them)
        parts = []
        for src in sorted(by_src):
            if src == "chat":
                continue
            acc = 0
            for t in by_src[src]:
                if acc > 3000:
                    break
                parts.append(t.strip("\n"))
                acc += len(t.encode())
        with open(args.heldout_text, "w") as f:
            f.write("\n\n".join(parts) + "\n")
    sample_text = open(args.heldout_text).read()

    results = {"config": c.to_dict(), "params": count_params(MoEModel(c)),
               "gguf_bytes": os.path.getsize(args.gguf)}
    # held-out perplexity per source (each source's documents joined by blank lines); the
    # whole-split figure pools the per-source NLL sums (exp(total NLL / total scored tokens))
    stats = RouteStats(c)
    results["per_source"] = {}
    for src, ts in sorted(by_src.items()):
        txt = "\n\n".join(t.strip("\n") for t in ts) + "\n"
        ids = enc(txt)[:args.limit_tokens or None]
        results["per_source"][src] = perplexity(model, c, ids, stats)
        results["per_source"][src]["bytes"] = len(txt.encode())
    ps = results["per_source"].values()
    n_h, n_a = sum(p["scored_tokens"] for p in ps), sum(p["scored_tokens_all"] for p in ps)
    results["heldout_full"] = {
        "bytes": sum(p["bytes"] for p in ps), "n_tokens": sum(p["n_tokens"] for p in ps),
        "n_chunks": sum(p["n_chunks"] for p in ps), "scored_tokens": n_h, "scored_tokens_all": n_a,
        "ppl": math.exp(sum(p["nll_sum"] for p in ps) / n_h),
        "ppl_all_positions": math.exp(sum(p["nll_sum_all"] for p in ps) / n_a)}
    results["routing"] = stats.table()
    results["routing_tokens"] = stats.tokens
    sample_ppl = perplexity(model, c, enc(sample_text))
    results["heldout_sample"] = sample_ppl

    # greedy samples
    results["samples"] = []
    for p in SAMPLE_PROMPTS:
        out, _, _ = greedy(model, enc(p), 64)
        results["samples"].append({"prompt": p, "output": sp.decode(out), "ids": out})
        print(repr(p), "->", repr(sp.decode(out)), flush=True)

    # reference outputs for the C++ engine
    ref = {
        "model": "assets/moescope-tiny.gguf",
        "tokenizer": "SentencePiece BPE (tokenizer.ggml.model=llama); prompt ids = [BOS=1] + "
                     "spm.encode(text); <|im_start|>=3 and <|im_end|>=4 are matched as single tokens "
                     "in the text; no space prefix is added (add_space_prefix=false)",
        "greedy": "argmax of the last position's logits, 32 steps, NOT stopped at EOS/<|im_end|>, "
                  "full recompute (window = last n_ctx tokens, never reached here)",
        "weights": "as stored in the GGUF (F16 matrices converted to F32), computed in F32 by PyTorch",
        "prompts": [],
    }
    for i, p in enumerate(REF_PROMPTS):
        ids = enc(p["text"])
        out, margins, first_logits = greedy(model, ids, 32, stop=False)
        e = {"name": p["name"], "text": p["text"], "prompt_ids": ids, "greedy_ids": out,
             "greedy_text": sp.decode(out), "top1_top2_logit_margin": [round(m, 4) for m in margins]}
        if i == 0:
            e["first8_logits_last_prompt_position"] = [round(float(x), 5) for x in first_logits[:8]]
            e["argmax_last_prompt_position"] = int(first_logits.argmax())
        ref["prompts"].append(e)
    ref["perplexity"] = {
        "text_file": "tools/train/heldout.txt",
        "method": "llama.cpp perplexity: tokens=[BOS]+spm(text); chunks of n_ctx=%d; chunk[0]=BOS; "
                  "score positions n_ctx/2..n_ctx-2 of every full chunk; ppl=exp(mean NLL)" % c.n_ctx,
        **sample_ppl,
    }
    dump_json(ref, args.ref_out)
    dump_json(results, os.path.join(args.work, "eval.json"))
    print(json.dumps({k: results[k] for k in ["heldout_full", "heldout_sample", "per_source"]}, indent=1))
    for row in results["routing"]:
        print(row["layer"], round(row["max_mass_share"], 3), row["experts_selected_ge_1pct_tokens"])


if __name__ == "__main__":
    main()
