"""The one place that knows the modality: model families and how params select one.

A family is a modality's set of stage verbs (prepare, train, generate, evaluate,
interpolate) with the
same signatures as the tabular stages; the CLI asks this registry which family the inputs
name and calls its verb, so no stage branches on the modality. The gate is shared.

- prepare: the family whose sources include `prepare.dataset` (built-in image set name or a
  folder of class subfolders -> image; anything else -> tabular);
- train: the family of `train.model` (checked against what prepare wrote);
- generate: the family of the model the checkpoint was trained with;
- evaluate: the modality recorded in the prepared `schema.json`.

Verbs are "module:function" strings imported on use, so a tabular run never imports the
image code (and `synth --help` stays fast).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import UserError


@dataclass(frozen=True)
class Family:
    name: str
    models: tuple[str, ...]
    verbs: dict[str, str]  # verb -> "module:function"

    def verb(self, name: str) -> Callable[..., Any]:
        module, _, function = self.verbs[name].partition(":")
        return getattr(importlib.import_module(module), function)


FAMILIES: dict[str, Family] = {
    "tabular": Family("tabular", ("ctgan",), {
        "prepare": "pipeline.stages.prepare:run", "train": "pipeline.stages.train:run",
        "generate": "pipeline.stages.generate:run", "evaluate": "pipeline.stages.evaluate:run",
        "interpolate": "pipeline.tabular_latent:run_interpolate"}),
    "image": Family("image", ("dcgan",), {
        "prepare": "pipeline.images.prepare:run", "train": "pipeline.images.train:run",
        "generate": "pipeline.images.generate:run", "evaluate": "pipeline.images.evaluate:run",
        "interpolate": "pipeline.images.generate:run_interpolate"}),
}
DEFAULT = "tabular"


# "module:function" answering "is this prepare.dataset an image source?" (imported by name
# like the verbs; the tabular prepare stage lists the module in its dvc.yaml deps)
IMAGE_SOURCE = "pipeline.images.datasets:is_image_source"


def for_dataset(dataset: str) -> Family:
    module, _, function = IMAGE_SOURCE.partition(":")
    is_image = getattr(importlib.import_module(module), function)(dataset)
    return FAMILIES["image" if is_image else DEFAULT]


def for_model(model: str) -> Family:
    for family in FAMILIES.values():
        if model in family.models:
            return family
    known = ", ".join(m for f in FAMILIES.values() for m in f.models)
    raise UserError(f"params key train.model: unknown model '{model}'; known: {known}")


def modality_of_prepared(data_dir: Path) -> str:
    """The modality prepare recorded in schema.json (tabular when absent or unreadable: the
    tabular stage then reports the missing/broken file itself)."""
    import json

    try:
        return str(json.loads((Path(data_dir) / "schema.json").read_text())
                   .get("modality", DEFAULT))
    except (OSError, ValueError, AttributeError):
        return DEFAULT


def for_prepared(data_dir: Path) -> Family:
    return FAMILIES.get(modality_of_prepared(data_dir), FAMILIES[DEFAULT])


def for_checkpoint(path: Path) -> Family:
    """The family of the checkpoint's model; tabular when it cannot be read (the tabular
    stage then raises its one-line error about the file)."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return for_model(str(ckpt["synth"]["model"]))
    except Exception:  # noqa: BLE001 - any unreadable file: let the stage name the problem
        return FAMILIES[DEFAULT]


def check_prepared(data_dir: Path, family: Family, model: str) -> None:
    """train: the prepared data's modality must be the model's."""
    found = modality_of_prepared(data_dir)
    if (Path(data_dir) / "schema.json").is_file() and found != family.name:
        hint = ", ".join(FAMILIES[found].models) if found in FAMILIES else "?"
        raise UserError(f"train.model '{model}' is a {family.name} model but {data_dir} holds "
                        f"{found} data (use train.model: {hint})")
