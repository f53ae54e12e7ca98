"""Make the suite independent of the working directory and of an installed copy.

Subprocesses the tests start (`python -m pipeline`, `synth`, `dvc repro`) import `pipeline`
from this checkout, not from whatever copy the environment has installed.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
