"""The self-contained checkpoint: Lightning state plus `"synth"` (schema, transformer, model).

Loading is weights_only (no pickled objects): the hyperparameters rebuild the network, the
state_dict fills it, and `synth` rebuilds the transformer. Any problem with the file is a
UserError naming it.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from pipeline.errors import UserError

# 2: the density-ratio refiner became boosted trees (`refine.py`); 3: its trees read rows
# through decode snapping (`snap.py`), whose tables a version-2 checkpoint lacks; 4: the
# decoded-row refiner (`row_refine.py`); 5: the copy guard (`copy_guard.py`). Older
# checkpoints are refused with a "retrain" message.
SCHEMA_VERSION = 5


def synth_meta(model_name: str, schema: dict, transformer: dict, train: dict,
               seed: int) -> dict[str, Any]:
    """The `"synth"` entry every checkpoint carries (plain dicts/lists/str/numbers only):
    what generation needs (schema, transformer, model name) and the run's train params."""
    return {"schema_version": SCHEMA_VERSION, "model": model_name, "schema": schema,
            "transformer": transformer, "train": train, "seed": seed}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict on the CPU, checking it is one of ours and of a known version."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError,
            ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot read checkpoint {path}: {first}") from None
    meta = ckpt.get("synth") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or "state_dict" not in ckpt:
        raise UserError(f"{path} is not a synth-pipeline checkpoint (no 'synth' entry)")
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(f"{path} has checkpoint schema_version {version!r}; this version of "
                        f"synth-pipeline reads {SCHEMA_VERSION}: retrain with `synth train`")
    return ckpt


def build_model(ckpt: dict[str, Any], path: str | Path = "checkpoint"):
    """Rebuild the LightningModule of a checkpoint and load its weights (eval mode)."""
    from pipeline.models import MODELS

    name = ckpt["synth"].get("model")
    if name not in MODELS:
        raise UserError(f"{path} was trained with unknown model {name!r}; known: "
                        f"{', '.join(MODELS)}")
    hparams = dict(ckpt.get("hyper_parameters") or {})
    hparams["compile"] = False  # generation never needs the compiled generator
    try:
        model = MODELS[name](**hparams)
        model.load_state_dict(dict(ckpt["state_dict"]))
    except (TypeError, RuntimeError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{path} does not match model {name!r}: {first}") from None
    model.synth_meta = ckpt["synth"]
    return model.eval()
