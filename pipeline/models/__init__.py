"""Model registry: `train.model` names a key of MODELS (an explicit dict, no discovery)."""

from __future__ import annotations

from pipeline.models.ctgan import CTGANModule

MODELS: dict[str, type] = {"ctgan": CTGANModule}
