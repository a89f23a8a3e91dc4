#!/usr/bin/python3
"""Re-reads a GGUF with the independent reader, prints its header, keys and tensor table,
checks structure (version, counts, 32-byte aligned offsets, bounds, no overlap, expected
qwen2moe names and shapes), and runs a plain-numpy forward pass straight from the GGUF
tensors (GGUF ne order, no PyTorch) to compare with reference_outputs.json.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gguf import GGML_F16, Reader  # noqa: E402

TYPE_NAME = {0: "F32", 1: "F16"}


def expected_ne(kv):
    a = kv["general.architecture"]
    D, L = kv[f"{a}.embedding_length"], kv[f"{a}.block_count"]
    H, Hkv = kv[f"{a}.attention.head_count"], kv[f"{a}.attention.head_count_kv"]
    E, Fe, Fs = kv[f"{a}.expert_count"], kv[f"{a}.expert_feed_forward_length"], \
        kv[f"{a}.expert_shared_feed_forward_length"]
    V = len(kv["tokenizer.ggml.tokens"])
    hd = D // H
    ne = {"token_embd.weight": [D, V], "output_norm.weight": [D], "output.weight": [D, V]}
    for i in range(L):
        b = f"blk.{i}."
        ne.update({b + "attn_norm.weight": [D], b + "attn_q.weight": [D, H * hd],
                   b + "attn_q.bias": [H * hd], b + "attn_k.weight": [D, Hkv * hd],
                   b + "attn_k.bias": [Hkv * hd], b + "attn_v.weight": [D, Hkv * hd],
                   b + "attn_v.bias": [Hkv * hd], b + "attn_output.weight": [H * hd, D],
                   b + "ffn_norm.weight": [D], b + "ffn_gate_inp.weight": [D, E],
                   b + "ffn_gate_exps.weight": [D, Fe, E], b + "ffn_up_exps.weight": [D, Fe, E],
                   b + "ffn_down_exps.weight": [Fe, D, E], b + "ffn_gate_inp_shexp.weight": [D],
                   b + "ffn_gate_shexp.weight": [D, Fs], b + "ffn_up_shexp.weight": [D, Fs],
                   b + "ffn_down_shexp.weight": [Fs, D]})
    return ne


def np_forward(r, ids):
    """Independent numpy forward over a whole prompt; returns logits (T, V)."""
    kv = r.kv
    a = kv["general.architecture"]
    T = lambda n: np.asarray(r.tensors[n], dtype=np.float32)  # noqa: E731
    D, L = kv[f"{a}.embedding_length"], kv[f"{a}.block_count"]
    H, Hkv = kv[f"{a}.attention.head_count"], kv[f"{a}.attention.head_count_kv"]
    k_used, eps, base = kv[f"{a}.expert_used_count"], kv[f"{a}.attention.layer_norm_rms_epsilon"], \
        kv[f"{a}.rope.freq_base"]
    hd = D // H
    n = len(ids)

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x):  # x: (n, heads, hd), NEOX: pairs (i, i + hd/2)
        half = hd // 2
        theta = base ** (-np.arange(half) * 2.0 / hd)
        ang = np.arange(n)[:, None] * theta[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., :half], x[..., half:]
        return np.concatenate([x0 * c - x1 * s, x1 * c + x0 * s], -1)

    silu = lambda v: v / (1 + np.exp(-v))  # noqa: E731
    x = T("token_embd.weight")[ids]  # rows of the (V, D) array
    for i in range(L):
        b = f"blk.{i}."
        h = rms(x, T(b + "attn_norm.weight"))
        q = (h @ T(b + "attn_q.weight").T + T(b + "attn_q.bias")).reshape(n, H, hd)
        k = (h @ T(b + "attn_k.weight").T + T(b + "attn_k.bias")).reshape(n, Hkv, hd)
        v = (h @ T(b + "attn_v.weight").T + T(b + "attn_v.bias")).reshape(n, Hkv, hd)
        q, k = rope(q), rope(k)
        att_out = np.zeros((n, H, hd), dtype=np.float32)
        for hh in range(H):
            kh = hh // (H // Hkv)
            s = q[:, hh] @ k[:, kh].T / np.sqrt(hd)
            s = s + np.triu(np.full((n, n), -np.inf), 1)
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            att_out[:, hh] = p @ v[:, kh]
        x = x + att_out.reshape(n, H * hd) @ T(b + "attn_output.weight").T
        h = rms(x, T(b + "ffn_norm.weight"))
        logits = h @ T(b + "ffn_gate_inp.weight").T
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        gate, up, down = T(b + "ffn_gate_exps.weight"), T(b + "ffn_up_exps.weight"), \
            T(b + "ffn_down_exps.weight")
        moe = np.zeros_like(x)
        for t in range(n):
            for e in np.argsort(-probs[t], kind="stable")[:k_used]:
                y = silu(gate[e] @ h[t]) * (up[e] @ h[t])
                moe[t] += probs[t, e] * (down[e] @ y)  # weight not renormalised
        sh = T(b + "ffn_down_shexp.weight") @ (silu(T(b + "ffn_gate_shexp.weight") @ h.T)
                                               * (T(b + "ffn_up_shexp.weight") @ h.T))
        g = 1 / (1 + np.exp(-(h @ T(b + "ffn_gate_inp_shexp.weight"))))
        x = x + moe + g[:, None] * sh.T
    return rms(x, T("output_norm.weight")) @ T("output.weight").T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf", nargs="?", default=os.path.join(HERE, "..", "..", "assets", "moescope-tiny.gguf"))
    ap.add_argument("--ref", default=os.path.join(HERE, "reference_outputs.json"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    r = Reader(args.gguf)
    print(f"GGUF v{r.version}: {len(r.kv)} kv, {len(r.infos)} tensors, alignment {r.alignment}, "
          f"header {r.header_end} B, data at {r.data_start}, file {len(r.buf)} B")
    assert r.version == 3 and r.data_start % r.alignment == 0
    if not args.quiet:
        for k, v in r.kv.items():
            s = f"[{len(v)} items] {v[:6]}..." if isinstance(v, list) else repr(v)
            print(f"  {k} = {s[:110]}")
    want = expected_ne(r.kv)
    assert set(want) == set(r.tensors), set(want) ^ set(r.tensors)
    for t in r.infos:
        assert t["ne"] == want[t["name"]], (t["name"], t["ne"], want[t["name"]])
        assert t["offset"] % r.alignment == 0
        if not args.quiet:
            print(f"  {t['name']:32s} {TYPE_NAME[t['type']]:4s} ne={t['ne']} off={t['offset']}")
    n_f16 = sum(1 for t in r.infos if t["type"] == GGML_F16)
    print(f"structure OK ({n_f16} F16 tensors, {len(r.infos) - n_f16} F32)")
    if os.path.exists(args.ref):
        ref = json.load(open(args.ref))
        p = ref["prompts"][0]
        logits = np_forward(r, p["prompt_ids"])
        first8 = logits[-1, :8]
        print("numpy first8:", np.round(first8, 4).tolist())
        print("ref   first8:", p["first8_logits_last_prompt_position"])
        err = np.abs(first8 - np.array(p["first8_logits_last_prompt_position"])).max()
        print(f"max |diff| {err:.2e}; numpy argmax {int(logits[-1].argmax())}, ref "
              f"{p['argmax_last_prompt_position']}")
        assert err < 1e-2 and int(logits[-1].argmax()) == p["argmax_last_prompt_position"]
        print("numpy forward matches the reference")


if __name__ == "__main__":
    main()
