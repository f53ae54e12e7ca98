"""Machine description for the benchmark report: CPU, cores, RAM, and package versions per venv."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

PACKAGES = ["torch", "pytorch-lightning", "numpy", "pandas", "scikit-learn", "sdmetrics",
            "ctgan", "sdv", "rdt", "synth-pipeline"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return float("nan")


def versions(python: str) -> dict[str, str]:
    """Installed versions of PACKAGES as seen by the interpreter `python` (absent ones omitted)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        f"out = {{}}\nfor p in {PACKAGES!r}:\n"
        "    try: out[p] = m.version(p)\n    except m.PackageNotFoundError: pass\n"
        "out['python'] = sys.version.split()[0]\nprint(json.dumps(out))"
    )
    try:
        res = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                             cwd="/")  # not the repo: its egg-info would be picked up
        return json.loads(res.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return {}


def describe(main_python: str, bench_python: str | None) -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "gpu": "none used (CPU benchmarks)",
        "main_venv": {"python": main_python, "versions": versions(main_python)},
        "bench_venv": ({"python": bench_python, "versions": versions(bench_python)}
                       if bench_python else None),
    }
