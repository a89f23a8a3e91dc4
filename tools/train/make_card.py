#!/usr/bin/python3
"""Writes assets/MODEL_CARD.md from measured files only: data_manifest.json,
work/train_log.csv, work/train_done.json, work/eval.json and reference_outputs.json."""
import argparse
import csv
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def fmt_int(n):
    return f"{n:,}".replace(",", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "assets", "MODEL_CARD.md"))
    ap.add_argument("--loss-rows", type=int, default=16)
    args = ap.parse_args()
    man = json.load(open(os.path.join(HERE, "data_manifest.json")))
    ev = json.load(open(os.path.join(args.work, "eval.json")))
    done = json.load(open(os.path.join(args.work, "train_done.json")))
    log = list(csv.DictReader(open(os.path.join(args.work, "train_log.csv"))))
    c = ev["config"]
    p = ev["params"]
    a = done["args"]
    L = []
    w = L.append
    w("# moescope-tiny: model card\n")
    w("`assets/moescope-tiny.gguf` is the small Mixture-of-Experts language model bundled with moescope, "
      "trained from scratch on this project's machines by `tools/train/` (see its README to reproduce) "
      "from text shipped in Debian packages. It exists so that the app works without a download and its "
      "routing and cache views show learned routing. It is a toy: expect KJV-flavoured English, "
      "fortune-cookie style text in four languages and C-header-looking code, not facts.\n")
    w(f"File: GGUF v3, `general.architecture = qwen2moe`, {fmt_int(ev['gguf_bytes'])} bytes "
      f"({ev['gguf_bytes'] / 2**20:.1f} MiB); F16 matrices, F32 norms/biases/router/shared-expert gate.\n")

    w("## Data\n")
    code = man["sources"]["code"]
    text_pkgs = ["bible-kjv-text", "fortunes", "fortunes-de", "fortunes-es", "fortunes-it"]
    w("Only files installed by Debian packages (versions as installed, from `dpkg-query`):\n")
    w("| package | version | used for |\n| --- | --- | --- |")
    for k in text_pkgs:
        w(f"| {k} | {man['packages'][k]} | {'English prose' if k.startswith('bible') else 'fortunes'} |")
    for k, n in sorted(code["packages"].items(), key=lambda x: -x[1]):
        w(f"| {k} | {man['packages'][k]} | {n} C/C++ headers under /usr/include |")
    w("")
    w("| source | origin | train docs | train bytes | held-out docs | held-out bytes | share of training sequences |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    mix = done["mix"]
    for src in ["bible", "fortunes_en", "fortunes_de", "fortunes_es", "fortunes_it", "code", "chat"]:
        s = man["sources"][src]
        origin = {"bible": "bible-kjv-text /usr/lib/bible.data, one document per chapter",
                  "code": f"{s.get('files', 0)} headers under /usr/include "
                          f"(first {s.get('max_bytes_per_file', 0)} bytes each)",
                  "chat": "ChatML examples derived from the train split"}.get(src, s.get("package", ""))
        w(f"| {src} | {origin} | {fmt_int(s['train_docs'])} | {fmt_int(s['train_bytes'])} | "
          f"{fmt_int(s['heldout_docs'])} | {fmt_int(s['heldout_bytes'])} | {mix[src]:.2f} |")
    w("")
    w(f"Held-out split: {man['heldout_fraction_by_document'] * 100:.0f}% of documents, chosen by "
      f"`{man['heldout_rule']}` with seed {man['seed']}; chat examples of the held-out split are derived "
      "from held-out documents only. Chat tasks: " + "; ".join(man["chat_tasks"]) + ". "
      "The full manifest (files per source, header-owning packages) is `tools/train/data_manifest.json`.\n")

    w("## Tokenizer\n")
    w(f"SentencePiece BPE, {c['vocab']} pieces, byte fallback (256 `<0xXX>` pieces), digits split, "
      "identity normalisation, whitespace kept (`allow_whitespace_only_pieces`), **no dummy prefix** "
      "(`tokenizer.ggml.add_space_prefix = false`). Stored the standard way (`tokenizer.ggml.model = llama`, "
      "tokens/scores/token_type). Ids: 0 `<unk>`, 1 `<s>` = BOS, 2 `</s>` = EOS, 3 `<|im_start|>`, "
      "4 `<|im_end|>` (both CONTROL; `tokenizer.ggml.eot_token_id = 4`). `add_bos_token = true`: every "
      "training document is `<s> text </s>`, so prompts start with BOS. Chat template: ChatML "
      "(`<|im_start|>role\\ncontent<|im_end|>\\n`, generation prompt `<|im_start|>assistant\\n`), "
      "no default system message.\n")

    w("## Architecture\n")
    hd = c["n_embd"] // c["n_head"]
    w("| hyper-parameter | GGUF key (`qwen2moe.`) | value |\n| --- | --- | ---: |")
    for name, key, val in [
        ("layers", "block_count", c["n_layer"]), ("embedding", "embedding_length", c["n_embd"]),
        ("attention heads", "attention.head_count", c["n_head"]),
        ("KV heads (GQA)", "attention.head_count_kv", c["n_head_kv"]), ("head dim", "-", hd),
        ("context", "context_length", c["n_ctx"]), ("routed experts", "expert_count", c["n_expert"]),
        ("experts per token (top-k)", "expert_used_count", c["n_expert_used"]),
        ("expert FFN", "expert_feed_forward_length", c["n_ff_exp"]),
        ("shared expert FFN", "expert_shared_feed_forward_length", c["n_ff_shexp"]),
        ("vocabulary", "-", c["vocab"]), ("RoPE base", "rope.freq_base", c["rope_base"]),
        ("RMSNorm eps", "attention.layer_norm_rms_epsilon", c["eps"])]:
        w(f"| {name} | {key} | {val} |")
    w("")
    w("Forward pass, exactly as trained (the engine must match it):\n")
    w("- pre-norm RMSNorm (`x / sqrt(mean(x^2) + eps) * w`), eps = 1e-6, before attention, before the MoE and at the output;")
    w("- q, k, v projections **with bias**, output projection without bias; GQA: query head h reads KV head "
      f"h / {c['n_head'] // c['n_head_kv']};")
    w("- RoPE **NEOX** ordering (rotate pairs (i, i + head_dim/2), angle pos * base^(-2i/head_dim)), applied to q and k, "
      "positions from 0; no q/k weight permutation;")
    w("- causal softmax attention scaled by 1/sqrt(head_dim);")
    w("- router: `p = softmax(W_gate_inp h)` over all experts, top-k by p, expert outputs weighted by p "
      "**without renormalising** the k weights (qwen2moe `norm_topk_prob = false`);")
    w("- experts and shared expert are SwiGLU: `down(silu(gate h) * up h)`;")
    w("- shared expert output is multiplied by `sigmoid(ffn_gate_inp_shexp . h)` (a scalar per token) and added to the routed sum;")
    w("- the output head `output.weight` is a separate tensor in the GGUF (it was tied to `token_embd.weight` in training, "
      "so both hold the same values).\n")
    w("## Parameters\n")
    w(f"- stored in the GGUF: {fmt_int(p['gguf_total'])} (token_embd and output counted separately); "
      f"distinct trained parameters: {fmt_int(p['gguf_total'] - c['vocab'] * c['n_embd'])} "
      "(embedding and output head tied in training);")
    w(f"- one expert: {fmt_int(p['per_expert'])} (3 x {c['n_embd']} x {c['n_ff_exp']});")
    w(f"- active per token: {fmt_int(p['active_per_token'])} = everything except the "
      f"{c['n_expert'] - c['n_expert_used']} unused experts per layer and the embedding table "
      "(a row lookup); the output head is counted.\n")

    w("## Training\n")
    w(f"- {fmt_int(done['steps'])} steps, {fmt_int(done['tokens'])} tokens "
      f"(batch {a['batch']} x {c['n_ctx']} tokens), wall time {done['wall_s'] / 60:.1f} min on one CPU "
      "thread (`torch.set_num_threads(1)`, OpenBLAS) of a 2-core machine shared with compilers;")
    w(f"- AdamW (betas 0.9/0.95, weight decay {a['wd']} on matrices), peak LR {a['lr']}, linear warm-up over "
      f"{a['warmup_frac'] * 100:.0f}% then cosine to {a['min_lr_ratio']} x peak, with progress = "
      f"max(step / max_steps, elapsed / {a['budget_min']:.0f} min); gradient clipping 1.0; float32;")
    w(f"- loss = cross-entropy + {a['balance_coef']} x Switch balance loss (E * sum_e f_e P_e, averaged over "
      f"layers; 1.0 = perfectly balanced) + {a['z_coef']} x router z-loss;")
    w("- training sequences are random windows of the per-source token streams (`<s> doc </s> <s> doc </s> ...`), "
      "the source drawn with the shares in the data table.\n")
    w("Loss curve (mean training loss over the previous logging interval; held-out loss on 4 fixed held-out "
      "batches of the same mix):\n")
    w("| step | tokens | minutes | lr | train loss | balance | held-out loss |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with_eval = [r for r in log if r["heldout_loss"]]
    stride = max(1, len(with_eval) // args.loss_rows)
    rows = with_eval[::stride]
    if with_eval and rows[-1] is not with_eval[-1]:
        rows.append(with_eval[-1])
    if log and log[-1] not in rows:
        rows.append(log[-1])
    for r in rows:
        w(f"| {r['step']} | {fmt_int(int(r['tokens']))} | {float(r['elapsed_s']) / 60:.1f} | {float(r['lr']):.5f} | "
          f"{float(r['loss']):.3f} | {float(r['balance']):.3f} | {r['heldout_loss'] or '-'} |")
    w("")

    w("## Held-out perplexity\n")
    hf, hs = ev["heldout_full"], ev["heldout_sample"]
    w("Measured on the GGUF's weights (F16 matrices as stored), per SentencePiece token, the llama.cpp "
      f"`perplexity` way: tokens = [BOS] + spm(text); chunks of {c['n_ctx']} tokens; the first token of each "
      "chunk replaced by BOS; the second half of each chunk scored. \"All positions\" scores every "
      "position of each chunk instead.\n")
    w("| text | bytes | tokens | chunks | perplexity | all positions |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    w(f"| whole held-out split (pooled over the sources below) | {fmt_int(hf['bytes'])} | {fmt_int(hf['n_tokens'])} | "
      f"{hf['n_chunks']} | **{hf['ppl']:.2f}** | {hf['ppl_all_positions']:.2f} |")
    for src, s in ev["per_source"].items():
        w(f"| held-out {src} | {fmt_int(s['bytes'])} | {fmt_int(s['n_tokens'])} | {s['n_chunks']} | "
          f"{s['ppl']:.2f} | {s['ppl_all_positions']:.2f} |")
    w(f"| `tools/train/heldout.txt` (the engine's test text) | - | {fmt_int(hs['n_tokens'])} | {hs['n_chunks']} | "
      f"**{hs['ppl']:.3f}** | {hs['ppl_all_positions']:.3f} |")
    w("")

    w("## Expert utilisation on held-out text\n")
    w(f"Over {fmt_int(ev['routing_tokens'])} held-out token positions (the whole held-out split, every position of "
      "every chunk). *Mass share*: the expert's share of the summed top-k router weights. *Selected*: share "
      "of tokens for which the expert is among the top-k.\n")
    w("| layer | max mass share | min mass share | experts selected for >= 1% of tokens |\n| ---: | ---: | ---: | ---: |")
    for r in ev["routing"]:
        w(f"| {r['layer']} | {r['max_mass_share'] * 100:.1f}% | {r['min_mass_share'] * 100:.1f}% | "
          f"{r['experts_selected_ge_1pct_tokens']} / {c['n_expert']} ({r['frac_experts_selected_ge_1pct'] * 100:.0f}%) |")
    w("")
    w("Mass share per expert (%), layer x expert:\n")
    w("| layer | " + " | ".join(str(e) for e in range(c["n_expert"])) + " |")
    w("| ---: | " + " | ".join("---:" for _ in range(c["n_expert"])) + " |")
    for r in ev["routing"]:
        w(f"| {r['layer']} | " + " | ".join(f"{x * 100:.1f}" for x in r["mass_share"]) + " |")
    w("")

    w("## Samples\n")
    w("Greedy decoding of the GGUF weights in PyTorch, prompts with BOS, at most 64 tokens, stopped at `</s>` "
      "or `<|im_end|>`:\n")
    for s in ev["samples"]:
        w(f"Prompt `{json.dumps(s['prompt'], ensure_ascii=False)}`:\n")
        w("```text")
        w(s["output"].replace("```", "` ` `"))
        w("```\n")
    w("")
    w("`tools/train/reference_outputs.json` holds token ids, 32 greedy token ids, the first logits and the "
      "held-out perplexity for the engine's golden tests.\n")
    with open(args.out, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
