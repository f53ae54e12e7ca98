"""Pure logic of the quality benchmark: metric extraction, result merging, issue 8 targets, summary.

A dataset's result (benchmarks/results/quality/<dataset>.json) is
`{"dataset", "target", "rows", "split", "machine", "when", "command", "tools": {tool: entry}}`;
an entry is `{"status": "ok" | "error", "error"?, "metrics": {key: value}, "train_s",
"sample_s", "machine", ...settings and commands}`: each entry carries the machine it ran on,
since a merged result holds tools run on different machines. No I/O here: the harness and the
tests call these.
"""

from __future__ import annotations

import operator
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

TOOLS = ("ours", "independent", "gaussian_copula", "tvae", "ctgan")
REF_TOOLS = ("gaussian_copula", "tvae", "ctgan")

# our short key -> the key in `synth evaluate`'s metrics.json
METRIC_KEYS = {
    "shapes": "fidelity.column_shapes",
    "trends": "fidelity.column_pair_trends_all",
    "detection": "detection.auc",
    "utility": "utility.ratio",
    "dcr_share": "privacy.dcr_share",
    "copy_rate": "privacy.exact_copy_rate",
    "holdout_copy_rate": "privacy.holdout_copy_rate",
    "mia": "privacy.mia_auc",
}


@dataclass(frozen=True)
class Target:
    """One per-table target of issue 8; `bound` is a number or a metric key of the same entry."""

    key: str  # metric key, or "train_s"
    label: str
    op: str  # "<=" or ">="
    bound: float | str

    def check(self, entry: dict) -> tuple[float | None, bool | None, float | None]:
        """(value, met, gap): met None when the value (or its bound) is not there (n/a)."""
        value = value_of(entry, self.key)
        bound = value_of(entry, self.bound) if isinstance(self.bound, str) else self.bound
        if value is None or bound is None:
            return value, None, None
        cmp: Callable[[float, float], bool] = operator.le if self.op == "<=" else operator.ge
        met = cmp(value, bound)
        return value, met, (0.0 if met else abs(value - bound))


TARGETS = (
    Target("detection", "detection AUC ≤ 0.75", "<=", 0.75),
    Target("shapes", "column shapes ≥ 0.97", ">=", 0.97),
    Target("trends", "pair trends (all) ≥ 0.93", ">=", 0.93),
    Target("utility", "utility ratio ≥ 0.95", ">=", 0.95),
    Target("dcr_share", "DCR share ≤ 0.52", "<=", 0.52),
    Target("copy_rate", "exact copies ≤ holdout's", "<=", "holdout_copy_rate"),
    Target("mia", "MIA AUC ≤ 0.55", "<=", 0.55),
    Target("train_s", "training ≤ 10 min", "<=", 600.0),
)
MEDIAN_DETECTION = 0.65  # the median over every table, not per table


def value_of(entry: dict | None, key: str) -> float | None:
    """A metric (or train_s / sample_s) of an entry; None when absent, null or errored."""
    if not entry or entry.get("status") != "ok":
        return None
    value = entry.get(key) if key in ("train_s", "sample_s") else entry.get("metrics", {}).get(key)
    return None if value is None else float(value)


def extract_metrics(metrics_json: dict) -> dict[str, float | None]:
    """Our short keys from a `synth evaluate` metrics.json (absent keys -> None)."""
    return {short: metrics_json.get(long) for short, long in METRIC_KEYS.items()}


def merge(old: dict | None, new: dict) -> dict:
    """Merge a new run of one dataset into its stored result.

    Tools run now replace their old entries; tools not run now are kept when the split is the
    same one (same fingerprint), and dropped otherwise (their numbers are for other rows: the
    names dropped are listed under "dropped"). Top-level fields come from the new run; every
    entry keeps the machine it ran on (an entry without one takes its run's top-level machine).
    """
    merged = {k: v for k, v in new.items() if k != "tools"}
    fresh = _with_machine(new["tools"], new.get("machine"))
    if old is None:
        merged["tools"] = fresh
        return merged
    if old.get("split") != new.get("split"):
        kept = {}
        merged["dropped"] = sorted(set(old.get("tools", {})) - set(new["tools"]))
    else:
        kept = {k: v for k, v in old.get("tools", {}).items() if k not in new["tools"]}
    tools = {**_with_machine(kept, old.get("machine")), **fresh}
    merged["tools"] = {k: tools[k] for k in sorted(tools, key=_tool_order)}
    return merged


def _with_machine(tools: dict[str, dict], machine: dict | None) -> dict[str, dict]:
    return {k: v if "machine" in v or machine is None else {**v, "machine": machine}
            for k, v in tools.items()}


def machines(results: dict[str, dict]) -> list[tuple[dict | None, list[str]]]:
    """The distinct machines of every entry, each with the "tool (n tables)" names run on it."""
    found: dict[str, tuple[dict | None, Counter[str]]] = {}
    for result in results.values():
        for tool, entry in _with_machine(result.get("tools", {}), result.get("machine")).items():
            machine = entry.get("machine")
            found.setdefault(repr(machine), (machine, Counter()))[1][tool] += 1
    return [(m, [f"{t} ({c[t]} table{'s' * (c[t] != 1)})" for t in sorted(c, key=_tool_order)])
            for m, c in found.values()]


def _tool_order(name: str) -> tuple[int, str]:
    return (TOOLS.index(name) if name in TOOLS else len(TOOLS), name)


def beats_references(tools: dict[str, dict]) -> tuple[bool | None, str]:
    """Ours at least as good as GaussianCopula and TVAE on detection, shapes and pair trends."""
    ours = tools.get("ours")
    refs = [tools.get(t) for t in ("gaussian_copula", "tvae")]
    if value_of(ours, "detection") is None or any(value_of(r, "detection") is None for r in refs):
        return None, "n/a"
    worse = []
    for ref, name in zip(refs, ("GaussianCopula", "TVAE")):
        for key, better in (("detection", operator.le), ("shapes", operator.ge),
                            ("trends", operator.ge)):
            a, b = value_of(ours, key), value_of(ref, key)
            if a is not None and b is not None and not better(a, b):
                worse.append(f"{key} vs {name}")
    return not worse, ", ".join(worse) or "all"


def target_table(results: dict[str, dict], tool: str = "ours") -> dict[str, Any]:
    """Per dataset: {target label: (value, met, gap)}, plus the median-detection target."""
    rows = {}
    for name, result in results.items():
        entry = result.get("tools", {}).get(tool)
        if entry is None:
            continue
        rows[name] = {t.label: t.check(entry) for t in TARGETS}
        rows[name]["≥ GaussianCopula & TVAE"] = beats_references(result.get("tools", {}))
    detections = [value_of(r.get("tools", {}).get(tool), "detection") for r in results.values()]
    detections = [d for d in detections if d is not None]
    median = statistics.median(detections) if detections else None
    return {"rows": rows, "median_detection": median,
            "median_met": None if median is None else median <= MEDIAN_DETECTION}


def summary(results: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """Per tool, over the datasets it ran on: the summary figures of docs/quality.md."""
    out: dict[str, dict[str, Any]] = {}
    names = sorted({t for r in results.values() for t in r.get("tools", {})}, key=_tool_order)
    for tool in names:
        entries = [r["tools"][tool] for r in results.values() if tool in r.get("tools", {})]

        def values(key: str) -> list[float]:
            return [v for v in (value_of(e, key) for e in entries) if v is not None]

        det = values("detection")
        out[tool] = {
            "datasets": len(entries),
            "failed": sum(e.get("status") != "ok" for e in entries),
            "median_detection": statistics.median(det) if det else None,
            "worst_detection": max(det, default=None),
            "min_shapes": min(values("shapes"), default=None),
            "min_trends": min(values("trends"), default=None),
            "min_utility": min(values("utility"), default=None),
            "max_dcr_share": max(values("dcr_share"), default=None),
            "max_mia": max(values("mia"), default=None),
            "max_train_s": max(values("train_s"), default=None),
        }
    return out
