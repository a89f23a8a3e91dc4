#!/bin/sh
# Rebuilds the bundled model end to end: data, tokenizer, training, GGUF export, evaluation,
# model card. Needs Debian's python3-torch, python3-sentencepiece, python3-numpy and the data
# packages (scripts/install-deps.sh --train); libopenblas0-pthread makes torch ~5x faster.
# BUDGET_MIN (default 95) is the training wall-clock budget in minutes on one thread.
set -eu
cd "$(dirname "$0")"
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p work
$PY prepare_data.py
$PY train_tokenizer.py
$PY train.py --budget-min "${BUDGET_MIN:-95}" --lr 2.5e-3 --log-every 10 --eval-every 100 --ckpt-min 5
$PY export_gguf.py
rm -f heldout.txt  # regenerated from the held-out split by evaluate.py
$PY evaluate.py
$PY check_gguf.py --quiet
$PY make_card.py
