#!/usr/bin/python3
"""Exports the trained checkpoint (work/ckpt.pt) and tokenizer to a qwen2moe GGUF.

Standard llama.cpp key and tensor names, so other GGUF runtimes load the file unchanged.
Matrices are F16; 1-D tensors (norms, biases, shared-expert gate) and the router are F32.
"""
import argparse
import os
import sys

import numpy as np
import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gguf import (GGML_F16, GGML_F32, T_ARRAY, T_BOOL, T_FLOAT32, T_INT32, T_STRING,  # noqa: E402
                  T_UINT32, Reader, Val, write_gguf)
from model import Config  # noqa: E402

ARCH = "qwen2moe"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
# llama.cpp token types
TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE = 1, 2, 3, 4, 5, 6
IM_START_ID, IM_END_ID = 3, 4


def tokenizer_kvs(sp):
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(TT_UNKNOWN)
        elif sp.is_control(i) or i in (IM_START_ID, IM_END_ID):
            types.append(TT_CONTROL)
        elif sp.is_byte(i):
            types.append(TT_BYTE)
        else:
            types.append(TT_NORMAL)
    assert tokens[IM_START_ID] == "<|im_start|>" and tokens[IM_END_ID] == "<|im_end|>"
    assert sp.bos_id() == 1 and sp.eos_id() == 2 and sp.unk_id() == 0
    return [
        ("tokenizer.ggml.model", Val(T_STRING, "llama")),
        ("tokenizer.ggml.tokens", Val(T_ARRAY, tokens, T_STRING)),
        ("tokenizer.ggml.scores", Val(T_ARRAY, scores, T_FLOAT32)),
        ("tokenizer.ggml.token_type", Val(T_ARRAY, types, T_INT32)),
        ("tokenizer.ggml.bos_token_id", Val(T_UINT32, sp.bos_id())),
        ("tokenizer.ggml.eos_token_id", Val(T_UINT32, sp.eos_id())),
        ("tokenizer.ggml.eot_token_id", Val(T_UINT32, IM_END_ID)),
        ("tokenizer.ggml.unknown_token_id", Val(T_UINT32, sp.unk_id())),
        ("tokenizer.ggml.padding_token_id", Val(T_UINT32, sp.unk_id())),
        ("tokenizer.ggml.add_bos_token", Val(T_BOOL, True)),
        ("tokenizer.ggml.add_eos_token", Val(T_BOOL, False)),
        ("tokenizer.ggml.add_space_prefix", Val(T_BOOL, False)),
        ("tokenizer.chat_template", Val(T_STRING, CHAT_TEMPLATE)),
    ]


def model_tensors(sd, c: Config):
    """(name, array, type) in GGUF order; numpy shapes are the reverse of GGUF ne."""
    f = lambda k: sd[k].detach().float().numpy()  # noqa: E731
    out = [("token_embd.weight", f("tok_embd.weight"), GGML_F16)]             # (vocab, n_embd)
    for i in range(c.n_layer):
        p, b = f"blocks.{i}.", f"blk.{i}."
        out += [
            (b + "attn_norm.weight", f(p + "attn_norm.weight"), GGML_F32),       # (n_embd,)
            (b + "attn_q.weight", f(p + "attn.wq.weight"), GGML_F16),            # (n_head*hd, n_embd)
            (b + "attn_q.bias", f(p + "attn.wq.bias"), GGML_F32),
            (b + "attn_k.weight", f(p + "attn.wk.weight"), GGML_F16),            # (n_head_kv*hd, n_embd)
            (b + "attn_k.bias", f(p + "attn.wk.bias"), GGML_F32),
            (b + "attn_v.weight", f(p + "attn.wv.weight"), GGML_F16),
            (b + "attn_v.bias", f(p + "attn.wv.bias"), GGML_F32),
            (b + "attn_output.weight", f(p + "attn.wo.weight"), GGML_F16),       # (n_embd, n_head*hd)
            (b + "ffn_norm.weight", f(p + "ffn_norm.weight"), GGML_F32),
            (b + "ffn_gate_inp.weight", f(p + "moe.router.weight"), GGML_F32),   # (n_expert, n_embd)
            (b + "ffn_gate_exps.weight", f(p + "moe.w_gate"), GGML_F16),         # (n_expert, n_ff_exp, n_embd)
            (b + "ffn_up_exps.weight", f(p + "moe.w_up"), GGML_F16),             # (n_expert, n_ff_exp, n_embd)
            (b + "ffn_down_exps.weight", f(p + "moe.w_down"), GGML_F16),         # (n_expert, n_embd, n_ff_exp)
            (b + "ffn_gate_inp_shexp.weight", f(p + "moe.sh_gate_inp.weight").reshape(-1), GGML_F32),  # (n_embd,)
            (b + "ffn_gate_shexp.weight", f(p + "moe.sh_gate.weight"), GGML_F16),  # (n_ff_shexp, n_embd)
            (b + "ffn_up_shexp.weight", f(p + "moe.sh_up.weight"), GGML_F16),      # (n_ff_shexp, n_embd)
            (b + "ffn_down_shexp.weight", f(p + "moe.sh_down.weight"), GGML_F16),  # (n_embd, n_ff_shexp)
        ]
    out += [("output_norm.weight", f("out_norm.weight"), GGML_F32),
            ("output.weight", f("output.weight"), GGML_F16)]                     # (vocab, n_embd)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "assets", "moescope-tiny.gguf"))
    args = ap.parse_args()
    ck = torch.load(args.ckpt or os.path.join(args.work, "ckpt.pt"), map_location="cpu")
    c = Config(**ck["config"])
    sd = ck["model"]
    if "output.weight" not in sd:
        sd["output.weight"] = sd["tok_embd.weight"]
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    assert sp.get_piece_size() == c.vocab

    kvs = [
        ("general.architecture", Val(T_STRING, ARCH)),
        ("general.name", Val(T_STRING, "moescope-tiny")),
        ("general.description", Val(T_STRING,
            "Tiny qwen2moe trained by moescope tools/train on Debian package text; see assets/MODEL_CARD.md")),
        ("general.alignment", Val(T_UINT32, 32)),
        ("general.file_type", Val(T_UINT32, 1)),  # mostly F16
        (f"{ARCH}.context_length", Val(T_UINT32, c.n_ctx)),
        (f"{ARCH}.embedding_length", Val(T_UINT32, c.n_embd)),
        (f"{ARCH}.block_count", Val(T_UINT32, c.n_layer)),
        (f"{ARCH}.feed_forward_length", Val(T_UINT32, c.n_ff_shexp)),
        (f"{ARCH}.attention.head_count", Val(T_UINT32, c.n_head)),
        (f"{ARCH}.attention.head_count_kv", Val(T_UINT32, c.n_head_kv)),
        (f"{ARCH}.rope.freq_base", Val(T_FLOAT32, c.rope_base)),
        (f"{ARCH}.attention.layer_norm_rms_epsilon", Val(T_FLOAT32, c.eps)),
        (f"{ARCH}.expert_count", Val(T_UINT32, c.n_expert)),
        (f"{ARCH}.expert_used_count", Val(T_UINT32, c.n_expert_used)),
        (f"{ARCH}.expert_feed_forward_length", Val(T_UINT32, c.n_ff_exp)),
        (f"{ARCH}.expert_shared_feed_forward_length", Val(T_UINT32, c.n_ff_shexp)),
        (f"{ARCH}.vocab_size", Val(T_UINT32, c.vocab)),
    ] + tokenizer_kvs(sp)
    tensors = model_tensors(sd, c)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_gguf(args.out, kvs, tensors, alignment=32)

    # re-read with the independent reader and compare
    r = Reader(args.out)
    assert r.version == 3 and len(r.kv) == len(kvs) and len(r.infos) == len(tensors)
    for name, arr, gtype in tensors:
        got = r.tensors[name]
        assert got.shape == arr.shape, (name, got.shape, arr.shape)
        want = arr.astype(np.float16 if gtype == GGML_F16 else np.float32)
        assert np.array_equal(got, want), name
    size = os.path.getsize(args.out)
    print(f"wrote {args.out}: {size} bytes ({size / 2**20:.2f} MiB), {len(tensors)} tensors, "
          f"{len(kvs)} kv, step {ck['step']}")
    assert size < 40 * 2**20


if __name__ == "__main__":
    main()
