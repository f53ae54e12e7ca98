"""Model registry: `train.model` names a key of MODELS (an explicit dict, no discovery).
Which modality (family) each model belongs to: `pipeline/families.py`."""

from __future__ import annotations

from pipeline.models.ctgan import CTGANModule
from pipeline.models.dcgan import DCGANModule

MODELS: dict[str, type] = {"ctgan": CTGANModule, "dcgan": DCGANModule}
