#!/usr/bin/python3
"""Trains the bundled MoE on the prepared corpus, within a wall-clock budget, on one thread.

The learning-rate schedule follows progress = max(step / max_steps, elapsed / budget), so a
run finishes on time whatever the machine load; checkpoints (model + optimiser) are written
every --ckpt-min minutes to work/ckpt.pt, so a stopped run still exports a usable model.
Logs one CSV row every --log-every steps to work/train_log.csv.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import Config, MoEModel, count_params  # noqa: E402

BOS, EOS = 1, 2
# share of training sequences drawn from each source
MIX = {"bible": 0.30, "fortunes_en": 0.16, "fortunes_de": 0.07, "fortunes_es": 0.04,
       "fortunes_it": 0.05, "code": 0.20, "chat": 0.18}


def load_streams(work, split):
    """Token stream per source: BOS doc EOS BOS doc EOS ... (cached as .npy)."""
    cache = os.path.join(work, f"tokens_{split}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return {k: z[k] for k in z.files}
    sp = spm.SentencePieceProcessor(model_file=os.path.join(work, "tokenizer.model"))
    texts = {}
    for line in open(os.path.join(work, f"{split}.jsonl")):
        d = json.loads(line)
        texts.setdefault(d["src"], []).append(d["text"])
    streams = {}
    for src, ts in texts.items():
        ids = sp.encode(ts)
        flat = []
        for x in ids:
            flat.append(BOS)
            flat.extend(x)
            flat.append(EOS)
        streams[src] = np.asarray(flat, dtype=np.int16)
    np.savez(cache, **streams)
    return streams


def get_batch(streams, rng, batch, ctx):
    srcs = list(MIX.keys())
    w = np.array([MIX[s] for s in srcs])
    picks = rng.choice(len(srcs), size=batch, p=w / w.sum())
    rows = []
    for p in picks:
        s = streams[srcs[p]]
        i = rng.integers(0, len(s) - ctx - 1)
        rows.append(s[i:i + ctx + 1].astype(np.int64))
    t = torch.from_numpy(np.stack(rows))
    return t[:, :-1], t[:, 1:]


def lr_at(progress, base, warm_frac, min_ratio):
    if progress < warm_frac:
        return base * progress / warm_frac
    p = (progress - warm_frac) / max(1e-9, 1 - warm_frac)
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def save_ckpt(path, model, opt, step, tokens, elapsed, args):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "tokens": tokens, "elapsed": elapsed, "config": model.c.to_dict(),
                "args": vars(args)}, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--budget-min", type=float, default=100.0)
    ap.add_argument("--max-steps", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup-frac", type=float, default=0.03)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--balance-coef", type=float, default=0.01)
    ap.add_argument("--z-coef", type=float, default=1e-3)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--ckpt-min", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--bench", type=int, default=0, help="time N steps and exit")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)

    c = Config()
    model = MoEModel(c)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    print("params", count_params(model), flush=True)

    streams = load_streams(args.work, "train")
    held = load_streams(args.work, "heldout")
    print({k: len(v) for k, v in streams.items()}, flush=True)
    erng = np.random.default_rng(999)
    eval_batches = [get_batch(held, erng, args.batch, c.n_ctx) for _ in range(4)]

    ckpt_path = os.path.join(args.work, "ckpt.pt")
    log_path = os.path.join(args.work, "train_log.csv")
    step, tokens, elapsed0 = 0, 0, 0.0
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, tokens, elapsed0 = ck["step"], ck["tokens"], ck["elapsed"]
        rng = np.random.default_rng(args.seed + step)
        print("resumed at step", step, flush=True)
    else:
        with open(log_path, "w") as f:
            f.write("step,tokens,elapsed_s,lr,loss,balance,z,heldout_loss\n")

    budget = args.budget_min * 60
    t0 = time.time() - elapsed0
    last_ckpt = time.time()
    acc = {"loss": 0.0, "bal": 0.0, "z": 0.0, "n": 0}
    model.train()
    while True:
        elapsed = time.time() - t0
        progress = max(step / args.max_steps, elapsed / budget)
        if progress >= 1.0 or (args.bench and step >= args.bench):
            break
        lr = lr_at(progress, args.lr, args.warmup_frac, args.min_lr_ratio)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = get_batch(streams, rng, args.batch, c.n_ctx)
        logits, auxes = model(x)
        loss = F.cross_entropy(logits.view(-1, c.vocab), y.reshape(-1))
        bal = sum(a["balance"] for a in auxes) / c.n_layer
        z = sum(a["z"] for a in auxes) / c.n_layer
        total = loss + args.balance_coef * bal + args.z_coef * z
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x.numel()
        acc["loss"] += loss.item()
        acc["bal"] += bal.item()
        acc["z"] += z.item()
        acc["n"] += 1
        if args.bench:
            print(f"step {step} {time.time() - t0:.1f}s loss {loss.item():.3f}", flush=True)
        if step % args.log_every == 0:
            hl = ""
            if step % args.eval_every == 0:
                model.eval()
                with torch.no_grad():
                    ls = [F.cross_entropy(model(ex)[0].view(-1, c.vocab), ey.reshape(-1)).item()
                          for ex, ey in eval_batches]
                model.train()
                hl = f"{sum(ls) / len(ls):.4f}"
            n = acc["n"]
            row = (f"{step},{tokens},{time.time() - t0:.1f},{lr:.6f},{acc['loss'] / n:.4f},"
                   f"{acc['bal'] / n:.4f},{acc['z'] / n:.3f},{hl}")
            with open(log_path, "a") as f:
                f.write(row + "\n")
            print(row, flush=True)
            acc = {"loss": 0.0, "bal": 0.0, "z": 0.0, "n": 0}
        if time.time() - last_ckpt > args.ckpt_min * 60:
            save_ckpt(ckpt_path, model, opt, step, tokens, time.time() - t0, args)
            last_ckpt = time.time()
    if not args.bench:
        save_ckpt(ckpt_path, model, opt, step, tokens, time.time() - t0, args)
        with open(os.path.join(args.work, "train_done.json"), "w") as f:
            json.dump({"steps": step, "tokens": tokens, "wall_s": time.time() - t0,
                       "args": vars(args), "config": c.to_dict(), "mix": MIX}, f, indent=1)
        print("done", step, tokens, time.time() - t0, flush=True)


if __name__ == "__main__":
    main()
