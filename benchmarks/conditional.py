"""Conditional fidelity of a trained checkpoint: for each condition C, synthetic rows generated
under C scored against the real training rows under C (`metrics/conditional.py`: column shapes,
pair trends over all pairs, detection AUC on the columns C does not fix), next to the same
scores for an unconditional sample of the same size against all real rows.

    python benchmarks/conditional.py --model data/models/model.ckpt --data-dir data/prepared \\
        --condition 'Home=owner;Status=bad' --condition 'Age>=50' --out results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from pipeline.metrics.conditional import conditional_scores
    from pipeline.stages.generate import iter_chunks, load_checkpoint
    from pipeline.tabular.conditions import parse_cli, plan_conditions

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--condition", action="append", default=[],
                   help="';'-separated COLUMN=VALUE / COLUMN>=X items, all at once (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    model, transformer, schema, _ = load_checkpoint(args.model)
    real = pd.read_parquet(Path(args.data_dir) / "train.parquet")
    results = []
    for text in ["", *args.condition]:
        conditions = parse_cli(tuple(t for t in text.split(";") if t)) or {}
        plan = plan_conditions(transformer, schema, conditions)
        n = int(plan.mask(real, transformer).sum()) if conditions else len(real)
        rows = pd.concat(list(iter_chunks(model, transformer, n, plan, args.seed, 50_000)),
                         ignore_index=True)
        scores = conditional_scores(real, rows, conditions, schema, transformer, args.seed)
        results.append({"condition": text or "(none)", **scores})
        print(json.dumps(results[-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
