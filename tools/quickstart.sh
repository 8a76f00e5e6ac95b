#!/usr/bin/env bash
# Installs everything, fetches the bundled default data, builds (optimized) and runs the main
# job end to end. The main job grows with the system; today it prepares the prose corpus into
# training shards, pretrains a tiny BERT-MLM with SBM attention on it, data-parallel over two
# MPI ranks (loss, accuracy, density, exposed communication and the checkpoint path are
# printed), and compares SBM attention with full attention (time and memory of forward +
# backward).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Installing dependencies"
tools/install_deps.sh

step "Fetching data"
tools/fetch_data.sh

step "Building (bazel build -c opt //...)"
bazel build -c opt //...

step "Preparing the bundled prose corpus with the BERT uncased vocabulary"
bazel-bin/tools/data/prepare_corpus --vocab=data/vocab/bert-base-uncased/vocab.txt \
  --out-dir=data/shards/prose --max-len=128 data/corpus/prose

step "Pretraining the tiny BERT-MLM with SBM attention on 2 MPI ranks (configs/tiny.yaml, a few minutes)"
# The demo run starts fresh each time (a real run resumes from its checkpoints instead). Each
# rank takes one core; on this kind of machine two 1-thread ranks train faster than one
# 2-thread process.
rm -rf runs/quickstart
source tools/testing/mpirun_env.sh
mpirun_local -np 2 bazel-bin/trainer/train/sbmt_worker --config=configs/tiny.yaml \
  --set run.out_dir=runs/quickstart

step "SBM attention vs full attention (forward + backward, n = 1024 and 2048)"
bazel-bin/attention/sbm_attention_benchmark --sizes=1024,2048 --repeats=3 --phases

step "Done."
