#!/usr/bin/env bash
# Installs everything, fetches the bundled default data, builds (optimized) and runs the main
# job end to end. The main job grows with the system; today it prepares the prose corpus into
# training shards, starts the coordinator on loopback and pretrains a tiny BERT-MLM with SBM
# attention on it as a coordinator job, data-parallel over two MPI ranks (progress, the job's
# record, evaluations and checkpoints are printed), fills in masked words with it, fine-tunes it on the SST-2 stand-in with SBM and
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

# The demo run starts fresh each time (a real run resumes from its checkpoints instead).
rm -rf runs/quickstart
mkdir -p runs/quickstart
source tools/testing/mpirun_env.sh

step "Starting the coordinator on loopback (this host: 2 slots)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >runs/quickstart/token
echo "localhost slots=2" >runs/quickstart/hosts
bazel-bin/coordinator/sbmt_coordinator --listen=127.0.0.1:0 --port-file=runs/quickstart/port \
  --state-dir=runs/quickstart/coordinator --token-file=runs/quickstart/token \
  --hostfile=runs/quickstart/hosts 2>runs/quickstart/coordinator.log &
coordinator=$!
trap 'kill $coordinator 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [[ -s runs/quickstart/port ]] && break; sleep 0.1; done
export SBMT_COORDINATOR="127.0.0.1:$(cat runs/quickstart/port)"
export SBMT_TOKEN_FILE=runs/quickstart/token
echo "coordinator at $SBMT_COORDINATOR (log runs/quickstart/coordinator.log)"

step "Pretraining the tiny BERT-MLM with SBM attention: a 2-rank job through the coordinator (a few minutes)"
# Each rank takes one core; on this kind of machine two 1-thread ranks train faster than one
# 2-thread process. The workers' own log is the attempt log `sbmtctl describe` names.
job=$(bazel-bin/coordinator/sbmtctl submit configs/jobs/quickstart.yaml)
echo "submitted $job"
bazel-bin/coordinator/sbmtctl watch "$job"
bazel-bin/coordinator/sbmtctl describe "$job"
grep -E "eval step|checkpoint" "$(ls runs/quickstart/coordinator/jobs/"$job"/attempt-*.log | tail -n 1)"
kill $coordinator && wait $coordinator 2>/dev/null || true
trap - EXIT

step "Plotting the run (tools/plot/sbmt_plot.py: loss, task metrics, tokens/s, density per head)"
tools/plot/sbmt_plot.py runs/quickstart

step "Exporting the pretrained model (Hugging Face layout, runs/quickstart/hf)"
bazel-bin/trainer/train/sbmt_worker --config=configs/tiny.yaml --set run.out_dir=runs/quickstart \
  --set run.threads=1 --export-hf=runs/quickstart/hf | tail -n 1

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
