#!/usr/bin/env bash
# sbmt_predict on models the worker exported, end to end with real processes:
#  1. fill-mask on a pretrained MLM: JSON shape (a list per mask of token, id, score; scores in
#     (0, 1], descending, summing to at most 1), the same output for the same seed, the text
#     form, and clear errors for a text without [MASK] and a missing model;
#  2. classify with a fine-tuned SST-2 model: the predictions file equals the run's own dev
#     predictions, glue_eval scores it as the run's best epoch, and a model of another task is
#     refused.
set -euo pipefail
worker="$1" tool="$2" config="$3" predict="$4" glue_eval="$5" sentiment="$6"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/sbmt_predict"
rm -rf "$tmp" && mkdir -p "$tmp/data"
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "=== 1. fill-mask"
"$tool" shards "$tmp/data"
"$worker" --config="$config" --set "data.train=$tmp/data/train.shard" \
  --set "data.valid=$tmp/data/valid.shard" --set "data.vocab=$tmp/data/vocab.txt" \
  --set optim.total_steps=20 --set run.out_dir="$tmp/mlm" --export-hf="$tmp/mlm_hf" \
  >"$tmp/mlm.log" 2>&1 || { cat "$tmp/mlm.log"; fail "pretraining failed"; }
text="w1100 w1101 [MASK] w1103 [MASK]"
"$predict" fill-mask --model="$tmp/mlm_hf" --text="$text" --top-k=4 --json --seed=3 >"$tmp/a.json"
"$predict" fill-mask --model="$tmp/mlm_hf" --text="$text" --top-k=4 --json --seed=3 >"$tmp/b.json"
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "the same seed gave another answer"
python3 - "$tmp/a.json" <<'EOF' || fail "fill-mask JSON"
import json, sys
masks = json.load(open(sys.argv[1]))
assert isinstance(masks, list) and len(masks) == 2, masks
for candidates in masks:
    assert len(candidates) == 4, candidates
    scores = [c["score"] for c in candidates]
    assert all(0 < s <= 1 for s in scores) and sum(scores) <= 1 + 1e-9, scores
    assert scores == sorted(scores, reverse=True), scores
    for c in candidates:
        assert set(c) == {"token", "id", "score"}, c
        assert c["token"] == ("w%d" % c["id"] if c["id"] >= 999 else c["token"]), c
print("fill-mask JSON ok:", masks[0][0])
EOF
"$predict" fill-mask --model="$tmp/mlm_hf" --text="$text" >"$tmp/text.out"
grep -q "^  \[MASK\] 2 of 2$" "$tmp/text.out" || { cat "$tmp/text.out"; fail "text form"; }
if "$predict" fill-mask --model="$tmp/mlm_hf" --text="no mask here" 2>"$tmp/err"; then
  fail "a text without [MASK] was accepted"
fi
grep -q "sbmt_predict: error: the text has no \[MASK\]" "$tmp/err" || { cat "$tmp/err"; fail "no-mask message"; }
if "$predict" fill-mask --model="$tmp/nowhere" --text="[MASK]" 2>"$tmp/err"; then
  fail "a missing model was accepted"
fi
grep -q "nowhere/config.json: cannot read" "$tmp/err" || { cat "$tmp/err"; fail "missing-model message"; }

echo "=== 2. classify"
mkdir -p "$tmp/glue/SST-2"
cp "$sentiment/train.tsv" "$sentiment/dev.tsv" "$tmp/glue/SST-2/"
"$worker" --config="$config" --set task.name=glue --set task.glue.name=sst2 \
  --set task.glue.data_dir="$tmp/glue" --set task.glue.epochs=8 \
  --set data.vocab="$sentiment/vocab.txt" --set model.vocab_size=34 \
  --set data.global_batch=16 --set run.out_dir="$tmp/sst2" --export-hf="$tmp/sst2_hf" \
  >"$tmp/sst2.log" 2>&1 || { cat "$tmp/sst2.log"; fail "fine-tuning failed"; }
grep -q '"BertForSequenceClassification"' "$tmp/sst2_hf/config.json" || fail "export architecture"
# The run's seed (5) keys SBM's graphs, and its batch (16) which graph each row meets.
"$predict" classify --model="$tmp/sst2_hf" --task=sst2 --input="$tmp/glue/SST-2/dev.tsv" \
  --seed=5 --batch=16 --output="$tmp/SST-2.tsv"
cmp "$tmp/SST-2.tsv" "$tmp/sst2/predictions/dev/SST-2.tsv" || fail "classify differs from the run's predictions"
score=$("$glue_eval" --task=sst2 --predictions="$tmp/SST-2.tsv" \
  --labels="$tmp/sst2/predictions/dev/SST-2.labels.tsv")
python3 - "$score" "$tmp/sst2/best/best.json" <<'EOF' || fail "glue_eval of the predictions"
import json, sys
score, best = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
assert abs(score["accuracy"] - best["value"]) < 1e-9, (score, best)
print("classify accuracy", score["accuracy"], "= the best epoch's")
EOF
if "$predict" classify --model="$tmp/sst2_hf" --task=mrpc --input="$tmp/glue/SST-2/dev.tsv" \
    2>"$tmp/err"; then
  fail "an SST-2 model classified MRPC"
fi
grep -q "fine-tuned on sst2, not mrpc" "$tmp/err" || { cat "$tmp/err"; fail "task mismatch message"; }
echo "PASS"
