#!/usr/bin/env bash
# Quality vs epsilon (docs/privacy.md): for each dataset, one prepare, then per setting
# train + generate (+ evaluate unless SKIP_EVAL=1) on default params except train.privacy
# (and the pac 1 / calibrate false that DP requires). Usage:
#   benchmarks/privacy_runs.sh WORK_DIR "penguins german_credit" "10 3 1 off"
# TAG=tuned TRAIN_EXTRA='{"batch_size": 100, "steps": 1000}' ... : other train params, runs in
# eps_<setting>_<TAG>.
set -euo pipefail
work=${1:?work dir}; datasets=${2:-"penguins german_credit"}; settings=${3:-"10 3 1 off"}
for ds in $datasets; do
  d=$work/$ds; mkdir -p "$d"
  target=$(python -c "from pipeline.data.registry import DATASETS as B; print(B['$ds'].target)" 2>/dev/null || true)
  python - "$d" "$ds" "$target" <<'PY'
import sys, yaml
d, ds, target = sys.argv[1:]
p = yaml.safe_load(open("params.yaml"))
p["prepare"]["dataset"] = ds
p["prepare"]["target"] = target or None
yaml.safe_dump(p, open(f"{d}/params.yaml", "w"), sort_keys=False)
PY
  [ -f "$d/prepared/train.parquet" ] || synth prepare --params "$d/params.yaml" --out-dir "$d/prepared" > "$d/prepare.log" 2>&1
  for s in $settings; do
    r=$d/eps_$s${TAG:+_$TAG}; mkdir -p "$r"
    python - "$d/params.yaml" "$r/params.yaml" "$s" "${TRAIN_EXTRA:-{\}}" <<'PY'
import sys, yaml
src, dst, s, extra = sys.argv[1:]
p = yaml.safe_load(open(src))
p["train"].update(yaml.safe_load(extra))
if s != "off":
    p["train"].update(pac=1, calibrate=False, refine_draws=None, refine_rows_draws=None,
                      cond_anyway=0.0, target_loss=0.0, refuse_copies=False)
    p["train"]["privacy"]["epsilon"] = float(s)
yaml.safe_dump(p, open(dst, "w"), sort_keys=False)
PY
    start=$(date +%s)
    synth train --params "$r/params.yaml" --data-dir "$d/prepared" --model "$r/model.ckpt" --log-dir "$r/train_log" > "$r/train.log" 2>&1
    synth generate --params "$r/params.yaml" --model "$r/model.ckpt" --out "$r/synthetic.parquet" > "$r/generate.log" 2>&1
    echo "$ds $s train+generate $(( $(date +%s) - start ))s" >> "$work/times.txt"
    if [ "${SKIP_EVAL:-0}" != 1 ]; then
      synth evaluate --params "$r/params.yaml" --data-dir "$d/prepared" --synthetic "$r/synthetic.parquet" --train-log "$r/train_log" --out-dir "$r/eval" > "$r/evaluate.log" 2>&1
    fi
  done
done
