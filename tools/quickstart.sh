#!/usr/bin/env bash
# Installs everything, fetches the bundled default data, builds (optimized) and runs the main
# job end to end. The main job grows with the system; today it prepares the prose corpus into
# training shards, pretrains a tiny BERT-MLM with SBM attention on it, data-parallel over two
# MPI ranks (loss, accuracy, density, exposed communication and the checkpoint path are
# printed), fills in masked words with it, fine-tunes it on the SST-2 stand-in with SBM and
# with full attention (dev accuracy beside the majority class), and compares SBM attention with
# full attention (time and memory of forward + backward).
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
  --set run.out_dir=runs/quickstart --export-hf=runs/quickstart/hf

step "Filling in masked words with the pretrained model (sbmt_predict fill-mask)"
bazel-bin/trainer/predict/sbmt_predict fill-mask --model=runs/quickstart/hf --top-k=3 \
  --text="the congress of the united [MASK] shall [MASK] the law ."

# The UCI sentiment sentences in SST-2's layout stand in for SST-2 (GLUE itself cannot be fetched
# here); 5 epochs, dev accuracy after each, the best kept.
for attention in sbm full; do
  step "Fine-tuning it on the SST-2 stand-in with $attention attention (5 epochs, 2 MPI ranks)"
  tools/glue_all.sh runs/quickstart/hf --tasks=sst2 --glue-dir=data/glue_standin \
    --out="runs/quickstart/glue_$attention" --np=2 -- --set model.attention="$attention" \
    --set data.global_batch=32 --set task.glue.max_length=64
done

step "SBM attention vs full attention (forward + backward, n = 1024 and 2048)"
bazel-bin/attention/sbm_attention_benchmark --sizes=1024,2048 --repeats=3 --phases

step "Done."
