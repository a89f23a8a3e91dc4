"""The bundled model in PyTorch: a qwen2moe-architecture MoE transformer.

Forward pass (what a GGUF runtime does for general.architecture = qwen2moe):
  x = token_embd[ids]
  per layer:
    h = rmsnorm(x) * attn_norm
    q,k,v = h Wq^T + bq, h Wk^T + bk, h Wv^T + bv      (GQA: n_head_kv <= n_head)
    rope NEOX (rotate pairs (i, i + head_dim/2)), causal softmax(q k^T / sqrt(head_dim)) v
    x = x + attn Wo^T                                  (no bias on Wo)
    h = rmsnorm(x) * ffn_norm
    p = softmax(h Wr^T)  over n_expert; top-k of p, weights NOT renormalised
    moe = sum_k p_k * down_e(silu(gate_e h) * up_e h)
        + sigmoid(h . w_shexp_gate) * down_s(silu(gate_s h) * up_s h)
    x = x + moe
  logits = (rmsnorm(x) * output_norm) output^T
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 4096
    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 8
    n_head_kv: int = 4
    n_expert: int = 16
    n_expert_used: int = 2
    n_ff_exp: int = 256
    n_ff_shexp: int = 384
    n_ctx: int = 256
    rope_base: float = 10000.0
    eps: float = 1e-6
    tie_embeddings: bool = True  # trained tied; the GGUF stores output.weight explicitly

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_neox(x, pos, base):
    """x: (B, H, T, D); pos: (T,). Rotates pairs (i, i + D/2) by pos * base^(-2i/D)."""
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d // 2, dtype=torch.float32) * 2.0 / d)
    ang = pos.float()[:, None] * inv[None, :]  # (T, D/2)
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        hd = c.n_embd // c.n_head
        self.hd = hd
        self.wq = nn.Linear(c.n_embd, c.n_head * hd, bias=True)
        self.wk = nn.Linear(c.n_embd, c.n_head_kv * hd, bias=True)
        self.wv = nn.Linear(c.n_embd, c.n_head_kv * hd, bias=True)
        self.wo = nn.Linear(c.n_head * hd, c.n_embd, bias=False)

    def forward(self, x, pos, mask):
        B, T, _ = x.shape
        c = self.c
        q = self.wq(x).view(B, T, c.n_head, self.hd).transpose(1, 2)
        k = self.wk(x).view(B, T, c.n_head_kv, self.hd).transpose(1, 2)
        v = self.wv(x).view(B, T, c.n_head_kv, self.hd).transpose(1, 2)
        q = rope_neox(q, pos, c.rope_base)
        k = rope_neox(k, pos, c.rope_base)
        rep = c.n_head // c.n_head_kv  # query head h uses kv head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, c.n_head * self.hd)
        return self.wo(y)


class MoE(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        E, F_, D = c.n_expert, c.n_ff_exp, c.n_embd
        self.router = nn.Linear(D, E, bias=False)          # ffn_gate_inp  (E, D)
        self.w_gate = nn.Parameter(torch.empty(E, F_, D))  # ffn_gate_exps (E, n_ff_exp, D)
        self.w_up = nn.Parameter(torch.empty(E, F_, D))    # ffn_up_exps   (E, n_ff_exp, D)
        self.w_down = nn.Parameter(torch.empty(E, D, F_))  # ffn_down_exps (E, D, n_ff_exp)
        self.sh_gate_inp = nn.Linear(D, 1, bias=False)     # ffn_gate_inp_shexp (1, D)
        self.sh_gate = nn.Linear(D, c.n_ff_shexp, bias=False)
        self.sh_up = nn.Linear(D, c.n_ff_shexp, bias=False)
        self.sh_down = nn.Linear(c.n_ff_shexp, D, bias=False)

    def forward(self, x):
        """x: (N, D). Returns (out, aux) with aux = dict of router statistics/losses."""
        c = self.c
        N, D = x.shape
        logits = self.router(x)                     # (N, E)
        probs = logits.float().softmax(-1)
        topw, topi = probs.topk(c.n_expert_used, dim=-1)  # no renormalisation (norm_topk_prob = false)
        # batched experts: sort the N*k assignments by expert, one matmul chain per expert
        flat_e = topi.reshape(-1)
        order = torch.argsort(flat_e)
        tok = order // c.n_expert_used
        counts = torch.bincount(flat_e, minlength=c.n_expert)
        xs = x.index_select(0, tok)
        outs = []
        for e, xe in enumerate(torch.split(xs, counts.tolist())):
            if xe.shape[0] == 0:
                continue
            h = F.silu(xe @ self.w_gate[e].t()) * (xe @ self.w_up[e].t())
            outs.append(h @ self.w_down[e].t())
        ys = torch.cat(outs, 0) * topw.reshape(-1).index_select(0, order)[:, None]
        out = torch.zeros_like(x).index_add_(0, tok, ys)
        # shared expert, gated by sigmoid(x . w)
        sh = self.sh_down(F.silu(self.sh_gate(x)) * self.sh_up(x))
        out = out + torch.sigmoid(self.sh_gate_inp(x)) * sh
        # Switch-style balance loss: E * sum_e f_e * P_e (f over all k choices)
        f = counts.float() / (N * c.n_expert_used)
        P = probs.mean(0)
        aux = {
            "balance": c.n_expert * (f * P).sum(),
            "z": torch.logsumexp(logits.float(), -1).pow(2).mean(),
            "topi": topi.detach(),
            "probs": probs.detach(),
        }
        return out, aux


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.attn_norm = RMSNorm(c.n_embd, c.eps)
        self.attn = Attention(c)
        self.ffn_norm = RMSNorm(c.n_embd, c.eps)
        self.moe = MoE(c)

    def forward(self, x, pos, mask):
        x = x + self.attn(self.attn_norm(x), pos, mask)
        B, T, D = x.shape
        m, aux = self.moe(self.ffn_norm(x).reshape(B * T, D))
        return x + m.view(B, T, D), aux


class MoEModel(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.tok_embd = nn.Embedding(c.vocab, c.n_embd)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        self.out_norm = RMSNorm(c.n_embd, c.eps)
        self.output = nn.Linear(c.n_embd, c.vocab, bias=False)
        if c.tie_embeddings:
            self.output.weight = self.tok_embd.weight
        self.reset_parameters()

    def reset_parameters(self):
        std = 0.02
        proj_std = std / math.sqrt(2 * self.c.n_layer)
        for name, p in self.named_parameters():
            if p.dim() == 1:
                if name.endswith("norm.weight"):
                    nn.init.ones_(p)
                else:
                    nn.init.zeros_(p)  # attention biases
            elif name.endswith(("wo.weight", "w_down", "sh_down.weight")):
                nn.init.normal_(p, 0.0, proj_std)
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):
        """ids: (B, T) -> logits (B, T, vocab), list of per-layer router aux."""
        B, T = ids.shape
        pos = torch.arange(T)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        x = self.tok_embd(ids)
        auxes = []
        for blk in self.blocks:
            x, aux = blk(x, pos, mask)
            auxes.append(aux)
        return self.output(self.out_norm(x)), auxes


def count_params(model: MoEModel):
    c = model.c
    total = sum(p.numel() for p in model.parameters())
    if c.tie_embeddings:
        total_gguf = total + c.vocab * c.n_embd  # output.weight stored separately
    else:
        total_gguf = total
    per_expert = 3 * c.n_embd * c.n_ff_exp
    inactive = c.n_layer * (c.n_expert - c.n_expert_used) * per_expert
    # active per token: everything but unused experts; the embedding lookup is a row read, count it
    # as the lm head's matrix once (tied) and the embedding row is not a matmul
    return {"trainable": total, "gguf_total": total_gguf,
            "active_per_token": total_gguf - inactive - c.vocab * c.n_embd,
            "per_expert": per_expert}
