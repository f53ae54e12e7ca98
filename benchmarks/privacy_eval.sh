#!/usr/bin/env bash
# (Re)score the runs of benchmarks/privacy_runs.sh with `synth evaluate`: WORK_DIR DATASET SETTINGS
set -euo pipefail
work=${1:?work dir}; ds=${2:?dataset}; settings=${3:-"10 3 1 off"}
for s in $settings; do
  r=$work/$ds/eps_$s${TAG:+_$TAG}
  synth evaluate --params "$r/params.yaml" --data-dir "$work/$ds/prepared" --synthetic "$r/synthetic.parquet" --train-log "$r/train_log" --out-dir "$r/eval" > "$r/evaluate.log" 2>&1
  echo "$ds $s evaluated" >> "$work/times.txt"
done
