#!/usr/bin/env bash
# Regenerates the routing-policy table of docs/routing.md: perplexity, mean active experts and
# expert FLOPs share of the model's routing, top-k for k = 1..min(n_expert, max(2k, 8)), top-p for
# several p, and masks of the most- and least-used expert of each layer (found from a trace of
# the same text under the model's routing).
#
#   scripts/routing_table.sh [MODEL.gguf] [TEXT]      (defaults: the bundled model, its held-out text)
#   env: MOESCOPE (binary, default build/moescope), CTX (window, default 64), CHUNKS (windows
#        scored, default 32), BACKEND ("--cpu" or "--device N"; default: the first Vulkan device)
# Prints a Markdown table on stdout; needs python3 for the JSON.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:-$here/assets/moescope-tiny.gguf}"
text="${2:-$here/tools/train/heldout.txt}"
bin="${MOESCOPE:-$here/build/moescope}"
ctx="${CTX:-64}"
chunks="${CHUNKS:-32}"
backend=(${BACKEND:-})
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

[ -f "$model" ] || { echo "routing_table.sh: no model '$model'" >&2; exit 1; }
[ -f "$text" ] || { echo "routing_table.sh: no text '$text'" >&2; exit 1; }

# expert loads under the model's own routing, on the text that is scored
"$bin" trace -m "$model" -f "$text" --ctx "$ctx" "${backend[@]}" --no-probs --out "$tmp/model.mstrace" 2>/dev/null
"$bin" stats "$tmp/model.mstrace" --json > "$tmp/stats.json"

# the policy list, one per line (an element list each)
python3 - "$tmp/stats.json" > "$tmp/policies" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
E, k, L = s["n_expert"], s["k"], s["n_layer"]
print("model")
for K in range(1, min(E, max(2 * k, 8), 64) + 1):
    if K != k:
        print(f"topk:{K}")
for p in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
    print(f"topp:{p}")
most = [max(range(E), key=lambda e: (l["load"][e], -e)) for l in s["layers"]]
least = [min(range(E), key=lambda e: (l["load"][e], e)) for l in s["layers"]]
for l in range(L):
    print(f"mask:{l}:{most[l]}")
for l in range(L):
    print(f"mask:{l}:{least[l]}")
print(" ".join(f"mask:{l}:{most[l]}" for l in range(L)))
print(" ".join(f"mask:{l}:{least[l]}" for l in range(L)))
EOF

while read -r policy; do
    "$bin" perplexity -m "$model" -f "$text" --ctx "$ctx" --chunks "$chunks" "${backend[@]}" --routing "$policy" --json \
        2>/dev/null >> "$tmp/results.jsonl"
done < "$tmp/policies"

python3 - "$tmp/results.jsonl" "$tmp/stats.json" "$model" "$ctx" <<'EOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
s = json.load(open(sys.argv[2]))
E, k, L = s["n_expert"], s["k"], s["n_layer"]
base = rows[0]["perplexity"]
most = [max(range(E), key=lambda e: (l["load"][e], -e)) for l in s["layers"]]
least = [min(range(E), key=lambda e: (l["load"][e], e)) for l in s["layers"]]
def note(p):
    if p == "model": return "the model's own routing (softmax top-%d)" % k
    if p.startswith("mask:") and " " not in p:
        l, e = map(int, p.split(":")[1:])
        return ("most" if most[l] == e else "least") + f"-used expert of layer {l}"
    if p.startswith("mask:"):
        l, e = map(int, p.split()[0].split(":")[1:])
        return ("most" if most[l] == e else "least") + "-used expert of every layer"
    return ""
r0 = rows[0]
print(f"Model `{os.path.basename(sys.argv[3])}` ({s['arch']}, {L} layers, {E} experts, top-{k}); "
      f"{r0['tokens_scored']} tokens scored in {r0['chunks']} windows of {sys.argv[4]}; backend {r0['backend']}.\n")
print("| policy | perplexity | vs model | active experts / token / layer | expert FLOPs | note |")
print("|---|---:|---:|---:|---:|---|")
for r in rows:
    print(f"| `{r['policy']}` | {r['perplexity']:.3f} | {100 * (r['perplexity'] / base - 1):+.1f}% | "
          f"{r['mean_active_experts']:.2f} | {100 * r['expert_flops_share']:.0f}% | {note(r['policy'])} |")
EOF
