#!/usr/bin/env bash
# Data-parallel training on GPUs (NCCL for the gradients, MPI for the host-side sums), for a
# machine with 2 or more GPUs and a Bazel build with a CUDA LibTorch (README, "Training on
# GPUs"). The GPU counterpart of trainer/train/data_parallel_test.sh's first checks:
#  1. 2 ranks on 2 GPUs x 4 examples give the weights of 1 process with 2 micro-steps of 4
#     (within 1e-5: CUDA's own kernels may sum in another order), and the job says it ran NCCL;
#  2. a run killed after a committed checkpoint resumes, on 2 GPUs, to the uninterrupted weights
#     (within 1e-5);
#  3. bf16 on 2 GPUs trains (the final loss is below the first).
#
#   SBMT_LIBTORCH=... bazel build -c opt --config=cuda //trainer/train:sbmt_worker \
#       //trainer/train/testing:train_test_tool
#   tools/gpu_check/data_parallel_gpu.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tools/testing/mpirun_env.sh
worker=${WORKER:-bazel-bin/trainer/train/sbmt_worker}
tool=${TOOL:-bazel-bin/trainer/train/testing/train_test_tool}
config=trainer/train/testdata/data_parallel.yaml
gpus=$(nvidia-smi --list-gpus | wc -l)
[[ $gpus -ge 2 ]] || { echo "data_parallel_gpu: needs 2 GPUs, $gpus visible" >&2; exit 2; }
tmp=$(mktemp -d)
"$tool" shards "$tmp/data"
common=(--config="$config" --set "data.train=$tmp/data/train.shard"
        --set "data.valid=$tmp/data/valid.shard" --set "data.vocab=$tmp/data/vocab.txt"
        --set run.device=cuda --set model.dropout=0)
final() { echo "$tmp/$1/checkpoints/step_60/model.safetensors"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "=== 1. 2 GPUs == 1 GPU with 2 micro-steps"
"$worker" "${common[@]}" --set run.out_dir="$tmp/one_acc2" --set optim.accumulation=2 > "$tmp/one_acc2.log"
mpirun_local -np 2 "$worker" "${common[@]}" --set run.out_dir="$tmp/two" | tee "$tmp/two.log" | tail -3
grep -q "training on cuda" "$tmp/two.log" || fail "the 2-rank run did not train on the GPU"
"$tool" compare "$(final one_acc2)" "$(final two)" --tolerance=1e-5 || fail "2 GPUs != 1 GPU x 2 micro-steps"

echo "=== 2. kill after a committed checkpoint, resume on 2 GPUs"
mpirun_local -np 2 "$worker" "${common[@]}" --set run.out_dir="$tmp/killed" > "$tmp/killed.log" 2>&1 &
launcher=$!
for _ in $(seq 1 1200); do
  [[ -f "$tmp/killed/checkpoints/step_20/COMMITTED" ]] && break
  sleep 0.05
done
kill -9 $launcher 2>/dev/null || true
pkill -9 -f "run.out_dir=$tmp/killed" || true
wait $launcher 2>/dev/null || true
mpirun_local -np 2 "$worker" "${common[@]}" --set run.out_dir="$tmp/killed" > "$tmp/resumed.log"
grep "resumed from" "$tmp/resumed.log"
"$tool" compare "$(final two)" "$(final killed)" --tolerance=1e-5 || fail "the resumed run differs"

echo "=== 3. bf16 on 2 GPUs"
mpirun_local -np 2 "$worker" "${common[@]}" --set run.precision=bf16 --set run.out_dir="$tmp/bf16" > "$tmp/bf16.log"
first=$(grep -m1 -o 'loss [0-9.]*' "$tmp/bf16.log" | cut -d' ' -f2)
last=$(grep -o 'loss [0-9.]*' "$tmp/bf16.log" | tail -1 | cut -d' ' -f2)
python3 -c "import sys; sys.exit(0 if $last < $first else 1)" || fail "bf16 loss $first -> $last did not fall"
echo "PASS: NCCL data parallel on $gpus GPUs (bf16 loss $first -> $last)"
