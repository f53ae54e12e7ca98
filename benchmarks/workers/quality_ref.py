"""Quality-benchmark worker for the reference tools (SDV GaussianCopula, TVAE, ctgan), .venv-bench.

Fits one tool on the prepared training split that `synth prepare` wrote (the same rows every
tool sees), samples --rows rows and writes them to --out as Parquet (the tool's own dtypes; the
harness casts them to the real columns' dtypes before `synth evaluate`). The column types come
from the prepared metadata.json (the same roles for every tool), not from SDV's own detection.

ctgan runs as `sdv.single_table.CTGANSynthesizer`, the ctgan package's CTGAN behind SDV's data
preparation (missing values, datetimes), which is how a user runs it on tables like these; the
bare `ctgan.CTGAN` rejects missing numeric values. ctgan and SDV are Business Source License:
this script only calls their public API.

    python quality_ref.py tvae --train prepared/train.parquet --metadata prepared/metadata.json \\
        --rows 240 --out tvae.parquet [--epochs 5] [--max-rows 50000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import pandas as pd

from common import emit

warnings.filterwarnings("ignore")
TOOLS = ("gaussian_copula", "tvae", "ctgan")


def sdv_metadata(path: str):
    """Our sdmetrics-form metadata as an SDV Metadata (SDV 2 rejects computer_representation)."""
    from sdv.metadata import Metadata

    meta = json.loads(open(path).read())
    for column in meta["tables"]["table"]["columns"].values():
        column.pop("computer_representation", None)
    return Metadata.load_from_dict(meta)


def build(tool: str, metadata, epochs: int | None):
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

    if tool == "gaussian_copula":
        return GaussianCopulaSynthesizer(metadata)
    kwargs = {"enable_gpu": False} | ({"epochs": epochs} if epochs is not None else {})
    cls = TVAESynthesizer if tool == "tvae" else CTGANSynthesizer
    return cls(metadata, **kwargs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("tool", choices=TOOLS)
    p.add_argument("--train", required=True, help="prepared train.parquet")
    p.add_argument("--metadata", required=True, help="prepared metadata.json")
    p.add_argument("--rows", type=int, required=True, help="rows to sample")
    p.add_argument("--out", required=True, help="Parquet to write")
    p.add_argument("--epochs", type=int, default=None, help="default: the tool's own default")
    p.add_argument("--max-rows", type=int, default=None, help="seeded subsample of train to fit on")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()

    import numpy as np
    import torch

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    train = pd.read_parquet(args.train)
    out: dict = {"tool": args.tool, "train_rows": len(train), "fit_rows": len(train)}
    if args.max_rows is not None and len(train) > args.max_rows:
        train = train.sample(n=args.max_rows, random_state=args.seed).reset_index(drop=True)
        out["fit_rows"] = len(train)
    model = build(args.tool, sdv_metadata(args.metadata), args.epochs)
    params = model.get_parameters()
    out["epochs"] = params.get("epochs")
    start = time.perf_counter()
    model.fit({"table": train})  # SDV 2 single-table synthesizers take {name: frame}
    out["train_s"] = time.perf_counter() - start
    start = time.perf_counter()
    sample = model.sample(args.rows)
    out["sample_s"] = time.perf_counter() - start
    if isinstance(sample, dict):
        sample = sample["table"]
    for column in sample.columns:  # mixed Python objects would stop pyarrow; the harness recasts
        if sample[column].dtype == object:
            sample[column] = sample[column].map(lambda v: None if pd.isna(v) else str(v))
    sample.to_parquet(args.out, index=False)
    out["rows"] = len(sample)
    out["torch_threads"] = torch.get_num_threads()
    emit(out)


if __name__ == "__main__":
    main()
