"""Scarce-data augmentation benchmark: does adding synthetic rows help a downstream model?

Per built-in dataset with a classification target (its own label, or an imbalanced categorical
column where the label is numeric; TARGETS below), seeded:
1. `synth prepare` on the full table (the 70/30 stratified split and the column roles);
2. the training split cut to --rows rows (stratified; every class keeps >= 2 rows);
3. augmentation of those rows in `rebalance` mode (every class up to the largest):
   * ours: `Synthesizer(steps=--steps).fit(cut, columns=roles)` + `.augment(mode="rebalance")`
     (native conditioning on the target), one draw per seed;
   * SMOTE / SMOTENC (imbalanced-learn) on the encoded feature matrix, per seed;
   * SDV GaussianCopula and TVAE (workers/quality_ref.py in .venv-bench, subprocess), fitted
     on the same cut rows; each class's extra rows are taken from one unconditional sample
     (SDV's conditional sampling is itself rejection from such a sample), per seed;
4. a HistGradientBoosting classifier trained on real-only and on each augmented set, scored on
   the full real holdout (capped at --holdout-rows): macro F1, balanced accuracy, recall of the
   cut set's rarest class; lift = augmented - real, mean and sd over --seeds seeds.

    nice -n 10 python benchmarks/augment.py --datasets credit,penguins --steps 1500 \\
        --out-dir benchmarks/results/augment

Results: one JSON per dataset in --out-dir; `--render` writes the table in docs/augmentation.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
BENCH_PY = Path("/work/main/.venv-bench/bin/python")
TARGETS = {"credit": "Status", "german_credit": "risk", "penguins": "species",
           "wage": "health_ins", "diamonds": "cut", "bikeshare": "weathersit",
           "flights": "carrier", "nyc_weather": "origin"}
warnings.filterwarnings("ignore")


def prepare(name: str, target: str, work: Path, seed: int) -> Path:
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["seed"] = seed
    params["prepare"].update(dataset=name, target=target)
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    prepared = work / "prepared"
    if not (prepared / "train.parquet").is_file():
        subprocess.run([sys.executable, "-m", "pipeline", "prepare", "--params",
                        str(work / "params.yaml"), "--out-dir", str(prepared)], check=True,
                       cwd=REPO, capture_output=True)
    return prepared


def cut(train: pd.DataFrame, target: str, rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows stratified on the target; every class keeps at least 2 rows (SMOTE needs a
    neighbour) where the split has them."""
    rng = np.random.default_rng(seed)
    train = train[train[target].notna()]
    share = rows / len(train)
    picks = []
    for _, idx in train.groupby(train[target].astype(str)).indices.items():
        k = min(len(idx), max(2, int(round(share * len(idx)))))
        picks.append(rng.choice(idx, k, replace=False))
    return train.iloc[np.sort(np.concatenate(picks))].reset_index(drop=True)


def needs(real: pd.DataFrame, target: str) -> dict:
    counts = real[target].value_counts()
    return {v: int(counts.max() - n) for v, n in counts.items() if n < counts.max()}


def ours(real, schema, target, steps, seeds, seed) -> tuple[list[pd.DataFrame], dict]:
    import pipeline

    roles = {c["name"]: c["role"] for c in schema["columns"] if c["name"] in real.columns}
    start = time.perf_counter()
    synth = pipeline.Synthesizer(steps=steps, seed=seed, max_minutes=None).fit(
        real, target=target, columns=roles)
    fit_s = time.perf_counter() - start
    sets = [synth.augment(real, mode="rebalance", target=target, seed=seed + i)
            for i in range(seeds)]
    return sets, {"fit_s": fit_s, "steps": steps}


def smote(x, y, categorical, seeds, seed) -> tuple[list, dict]:
    from imblearn.over_sampling import SMOTE, SMOTENC

    x = x.copy()
    cats = np.array(categorical, dtype=bool)
    for j in range(x.shape[1]):  # SMOTE takes no missing values: median / a new code
        col = x[:, j]
        miss = np.isnan(col)
        if miss.any():
            if not (~miss).any():
                fill = 0.0
            elif cats[j]:  # a code of its own, inside HistGradientBoosting's 255 categories
                fill = np.nanmax(col) + 1 if np.nanmax(col) < 254 else np.nanmax(col)
            else:
                fill = np.nanmedian(col)
            col[miss] = fill
    values, counts = np.unique(y, return_counts=True)
    top = counts.max()
    strategy = {v: int(top) for v, n in zip(values, counts) if 2 <= n < top}
    k = int(min(5, min(n for v, n in zip(values, counts) if v in strategy) - 1)) if strategy else 1
    out = []
    for i in range(seeds):
        kw = dict(sampling_strategy=strategy, k_neighbors=k, random_state=seed + i)
        tool = SMOTENC(categorical_features=[int(j) for j in np.flatnonzero(cats)], **kw) if cats.any() else SMOTE(**kw)
        out.append(tool.fit_resample(x, y) if strategy else (x, y))
    return out, {"k_neighbors": k, "skipped_classes": int(sum(counts < 2))}


def sdv(tool, real, prepared, target, work, seeds, seed, epochs) -> tuple[list, dict]:
    from quality_tables import cast_like

    need = needs(real, target)
    if not need:  # balanced already: rebalance adds no rows
        return [real] * seeds, {"pool_rows": 0, "short_rows": 0}
    shares = real[target].value_counts(normalize=True)
    pool_rows = int(min(200_000, max(need[v] / shares[v] for v in need) * 1.5 * seeds + 100))
    train_path, out_path = work / "cut.parquet", work / f"{tool}.parquet"
    real.to_parquet(train_path, index=False)
    cmd = [str(BENCH_PY), str(REPO / "benchmarks/workers/quality_ref.py"), tool, "--train",
           str(train_path), "--metadata", str(prepared / "metadata.json"), "--rows",
           str(pool_rows), "--out", str(out_path), "--seed", str(seed)]
    if epochs and tool == "tvae":
        cmd += ["--epochs", str(epochs)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO / "benchmarks/workers")
    if res.returncode:
        raise RuntimeError(f"{tool}: {res.stderr.strip().splitlines()[-1]}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    pool = cast_like(pd.read_parquet(out_path), real)
    parts = np.array_split(np.arange(len(pool)), seeds)
    sets, short = [], 0
    for idx in parts:
        chunk = pool.iloc[idx]
        extra = []
        for value, n in need.items():
            rows = chunk[chunk[target].astype(str) == str(value)].head(n)
            short += n - len(rows)
            extra.append(rows)
        sets.append(pd.concat([real, *extra], ignore_index=True))
    return sets, {"pool_rows": pool_rows, "fit_s": info.get("train_s"), "short_rows": short,
                  "epochs": info.get("epochs")}


def run_dataset(name: str, args) -> dict:
    from pipeline.metrics.augmentation import fit_score, lift_summary, matrices, rarest

    target = TARGETS[name]
    work = Path(args.work_dir) / name
    prepared = prepare(name, target, work, args.seed)
    schema = json.loads((prepared / "schema.json").read_text())
    train = pd.read_parquet(prepared / "train.parquet")
    holdout = pd.read_parquet(prepared / "holdout.parquet")
    holdout = holdout[holdout[target].notna()]
    if len(holdout) > args.holdout_rows:
        holdout = holdout.sample(args.holdout_rows, random_state=args.seed)
    real = cut(train, target, args.rows, args.seed)
    result = {"dataset": name, "target": target, "rows": len(real),
              "classes": real[target].astype(str).value_counts().to_dict(),
              "holdout_rows": len(holdout), "seeds": args.seeds, "tools": {}}
    xs, ys, categorical, classify = matrices([real, holdout], schema, target)
    minority = rarest(ys[0])
    result["minority"] = minority

    def score(x, y, x_test, y_test, i=0):
        return fit_score(x, y, x_test, y_test, categorical, classify, args.seed + i, minority)

    base = score(xs[0], ys[0], xs[1], ys[1])
    result["real"] = base

    def record(tool, frames=None, mats=None, info=None):
        test = (xs[1], ys[1])
        if frames is not None:  # encoded together with the holdout (one shared encoding)
            fx, fy = matrices([holdout, *frames], schema, target)[:2]
            test, mats = (fx[0], fy[0]), list(zip(fx[1:], fy[1:]))
        runs = [score(x, y, *test, i) for i, (x, y) in enumerate(mats)]
        result["tools"][tool] = {"runs": runs, "lift": lift_summary(base, runs), **(info or {})}
        print(f"{name} {tool}: {result['tools'][tool]['lift']}", flush=True)

    for tool in args.tools:
        try:
            if tool == "ours":
                frames, info = ours(real, schema, target, args.steps, args.seeds, args.seed)
                record(tool, frames=frames, info=info)
            elif tool == "smote":
                mats, info = smote(xs[0], ys[0], categorical, args.seeds, args.seed)
                record(tool, mats=mats, info=info)
            else:
                frames, info = sdv(tool, real, prepared, target, work, args.seeds, args.seed,
                                   args.tvae_epochs)
                record(tool, frames=frames, info=info)
        except Exception as exc:  # one tool's failure is recorded, the run goes on
            result["tools"][tool] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            print(f"{name} {tool}: error {exc}", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", default=",".join(TARGETS))
    p.add_argument("--tools", default="ours,smote,gaussian_copula,tvae")
    p.add_argument("--rows", type=int, default=300)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--tvae-epochs", type=int, default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--holdout-rows", type=int, default=20000)
    p.add_argument("--work-dir", default="/tmp/augment-bench")
    p.add_argument("--out-dir", default=str(REPO / "benchmarks/results/augment"))
    args = p.parse_args()
    args.tools = args.tools.split(",")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.datasets.split(","):
        result = run_dataset(name, args)
        result["settings"] = {k: v for k, v in vars(args).items() if k != "datasets"}
        path = out / f"{name}.json"
        if path.is_file():  # a rerun of some tools keeps the other tools' results
            old = json.loads(path.read_text())
            result["tools"] = {**old.get("tools", {}), **result["tools"]}
        path.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
