"""Training curves from DVCLive's TSV files (train_log_dir/plots/metrics/**/<name>.tsv), and
the privacy budget the train stage logged (train_log_dir/metrics.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

MAX_POINTS = 400  # the report needs the shape of a curve, not every logged step
COUNTERS = ("epoch", "step")  # Lightning/DVCLive counters, not curves (older logs have them)


def read_curves(train_log_dir: Path | None) -> dict[str, tuple[list[float], list[float]]]:
    """metric name -> (generator steps, values); {} when the directory or its TSVs are
    absent/broken."""
    if train_log_dir is None:
        return {}
    root = Path(train_log_dir) / "plots" / "metrics"
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for path in sorted(root.rglob("*.tsv")) if root.is_dir() else []:
        try:
            table = pd.read_csv(path, sep="\t")
        except (OSError, ValueError, pd.errors.ParserError):
            continue  # a half-written log must not stop evaluation
        name = path.relative_to(root).with_suffix("").as_posix()
        if path.stem in COUNTERS:
            continue
        value_cols = [c for c in table.columns if c not in ("step", "timestamp")]
        if "step" not in table.columns or not value_cols or table.empty:
            continue
        steps = pd.to_numeric(table["step"], errors="coerce").to_numpy(float)
        values = pd.to_numeric(table[value_cols[-1]], errors="coerce").to_numpy(float)
        keep = np.linspace(0, len(steps) - 1, min(len(steps), MAX_POINTS)).round().astype(int)
        curves[name] = (steps[keep].tolist(), values[keep].tolist())
    return curves


def read_train_privacy(train_log_dir: Path | None) -> dict[str, float | None]:
    """{privacy.epsilon, privacy.delta} from the train log's metrics.json; both None (not
    DP: no finite epsilon, so a gate on it fails) when the log has none; {} without a log."""
    if train_log_dir is None or not (Path(train_log_dir) / "metrics.json").is_file():
        return {}
    try:
        logged = json.loads((Path(train_log_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    eps, delta = logged.get("privacy_epsilon"), logged.get("privacy_delta")
    if not isinstance(eps, (int, float)):
        return {"privacy.epsilon": None, "privacy.delta": None}
    # DVCLive stores float32: 1e-5 comes back as 9.99999975e-06; 6 significant digits
    return {"privacy.epsilon": float(eps),
            "privacy.delta": float(f"{delta:.6g}") if isinstance(delta, (int, float)) else None}
