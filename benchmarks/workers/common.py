"""Helpers shared by every benchmark worker (stdlib + pandas only, importable in both venvs).

A worker is one small script run as a subprocess: it reads the benchmark table, does one timed
task, and prints exactly one JSON object on its last stdout line. Running each tool in its own
process keeps versions apart (.venv-bench vs the main venv) and makes peak RSS per tool honest.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
BUILTIN = REPO / "pipeline" / "data" / "builtin"


def resolve_table(name_or_path: str) -> Path:
    """A built-in name (pipeline/data/builtin/<name>.csv.gz or .csv.xz) or a CSV/Parquet path."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for suffix in (".csv.gz", ".csv.xz"):
        builtin = BUILTIN / f"{name_or_path}{suffix}"
        if builtin.is_file():
            return builtin
    raise SystemExit(f"error: no dataset or file named {name_or_path!r}")


def load_table(name_or_path: str, max_rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Read the benchmark table exactly the same way for every tool."""
    path = resolve_table(name_or_path)
    if path.suffix in (".parquet", ".pq"):
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path)
    # ctgan rejects nulls in continuous columns: drop those rows for every tool alike, so all
    # tools see the same rows (the built-in diamonds table has none).
    numeric = [c for c in df.columns if c not in discrete_columns(df)]
    df = df.dropna(subset=numeric).reset_index(drop=True)
    if max_rows is not None and len(df) > max_rows:
        df = df.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    return df


def discrete_columns(df: pd.DataFrame) -> list[str]:
    """Columns every tool must treat as categorical: non-numeric dtypes (object, category, bool)."""
    return [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]) or df[c].dtype == bool]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextmanager
def timer(out: dict[str, Any], key: str) -> Iterator[None]:
    """Store the wall-clock seconds of the block in out[key]."""
    start = time.perf_counter()
    yield
    out[key] = time.perf_counter() - start


def emit(result: dict[str, Any]) -> None:
    """Print the result as the last stdout line (the harness parses only that line)."""
    result.setdefault("peak_rss_mb", peak_rss_mb())
    result.setdefault("pid", os.getpid())
    sys.stdout.flush()
    print(json.dumps(result, default=float), flush=True)


def worker_parser(description: str | None, tasks: list[str]) -> argparse.ArgumentParser:
    """The options every worker shares: task, data, row cap, epochs, sample checkpoints, rows."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("task", choices=tasks)
    p.add_argument("--data", required=True)
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--checkpoints", default="", help="epochs at which to save samples: 1,2,5 or 'all'")
    p.add_argument("--sample-rows", type=int, default=100_000)
    return p
