"""`synth generate` for images: PNG files per class, a sample grid, and the latent figures.

Writes into the output directory (replaced as a whole, atomically): `images.npz` (uint8
images + labels, what evaluate reads), `png/<class>/<n>.png`, `grid.png` (a row per class),
`interpolation.png` (a row per class along one latent path from seed to seed+1) and
`arithmetic.png` + `arithmetic.json` (the "stroke mass" direction: the latent mean of samples
with the most ink minus those with the least; rows: before, then moved 1x and 2x along it).
`--interpolate A:B` instead writes only the path between seeds A and B.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline import io, latent
from pipeline.config import Params
from pipeline.errors import UserError
from pipeline.images.codec import ImageCodec
from pipeline.images.files import grid, scale_for, write_class_pngs, write_npz, write_png
from pipeline.log import logger
from pipeline.models.checkpoint import build_model, read_checkpoint

GRID_PER_CLASS = 10
ARITH_SAMPLES = 2000


def load(model_path: Path) -> tuple[Any, ImageCodec]:
    ckpt = read_checkpoint(model_path)
    model = build_model(ckpt, model_path)
    if not hasattr(model, "decode_latent"):
        raise UserError(f"{model_path} is not an image model")
    return model, ImageCodec.from_dict(ckpt["synth"]["transformer"])


def labels_for(codec: ImageCodec, n: int, conditions: dict | None) -> np.ndarray:
    """Requested class for every image: `label=<class>` for all, else classes in turn."""
    conditions = dict(conditions or {})
    wanted = conditions.pop("label", None)
    if conditions:
        raise UserError(f"image models condition on 'label' only, got "
                        f"{', '.join(conditions)}")
    if wanted is not None:
        return np.full(n, codec.label(wanted), np.int64)
    return np.arange(n, dtype=np.int64) % codec.n_classes


def run(params: Params, model_path: Path, out_path: Path, rows: int | None = None,
        conditions: dict | None = None, seed: int | None = None) -> None:
    model, codec = load(Path(model_path))
    schema = model.synth_meta["schema"]
    n = rows or params.generate.rows or int(schema["n_rows"])
    seed = params.seed if seed is None else seed
    chosen = conditions if conditions is not None else dict(params.generate.conditions)
    labels = labels_for(codec, n, chosen)
    started = time.perf_counter()
    images = sample(model, codec, labels, seed, params.generate.chunk_rows)
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_npz(tmp / "images.npz", images=images, labels=labels)
    write_class_pngs(images, labels, codec.classes, tmp / "png")
    scale = scale_for(codec.height)
    write_png(grid(_per_class(images, labels, codec.n_classes), GRID_PER_CLASS, scale=scale),
              tmp / "grid.png")
    write_png(grid(interpolation(model, codec, seed, seed + 1, 10, None), 10, scale=scale),
              tmp / "interpolation.png")
    figure, summary = arithmetic(model, codec, seed)
    write_png(grid(figure, GRID_PER_CLASS, scale=scale), tmp / "arithmetic.png")
    io.write_json(summary, tmp / "arithmetic.json")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    logger.info("generated %d images%s in %.2fs -> %s", n, f" with {chosen}" if chosen else "",
                time.perf_counter() - started, out)


def sample(model: Any, codec: ImageCodec, labels: np.ndarray, seed: int,
           chunk: int = 50000) -> np.ndarray:
    """uint8 images for `labels`, one seeded noise stream (chunking does not change them)."""
    gen = torch.Generator(device=model.device).manual_seed(int(seed))
    z = model.latent(len(labels), gen)
    y = torch.as_tensor(labels)
    return np.concatenate([codec.decode(model.decode_latent(z[s:s + chunk], y[s:s + chunk]))
                           for s in range(0, len(labels), chunk)]) if len(labels) else \
        np.zeros((0, codec.height, codec.width, codec.channels), np.uint8)


def interpolation(model: Any, codec: ImageCodec, seed_a: int, seed_b: int, steps: int,
                  label: int | None) -> np.ndarray:
    """uint8 images along the latent path from seed_a's first point to seed_b's: `steps`
    per row, one row per class (or only `label`). Column 0 is what `sample` gives for seed_a
    (rows=1), the last column seed_b's."""
    dim = model.hparams.embedding_dim
    z = latent.path(latent.seed_latent(dim, seed_a, device=model.device)[0],
                    latent.seed_latent(dim, seed_b, device=model.device)[0], steps)
    classes = range(codec.n_classes) if label is None else [label]
    zz = torch.cat([z for _ in classes])
    yy = torch.as_tensor([c for c in classes for _ in range(steps)])
    return codec.decode(model.decode_latent(zz, yy))


def arithmetic(model: Any, codec: ImageCodec, seed: int) -> tuple[np.ndarray, dict]:
    """Before/after images along the ink direction and the measured ink change."""
    gen = torch.Generator(device=model.device).manual_seed(int(seed) + 7)
    labels = torch.arange(ARITH_SAMPLES) % codec.n_classes
    z = model.latent(ARITH_SAMPLES, gen)
    ink = torch.as_tensor(codec.decode(model.decode_latent(z, labels))).float().mean((1, 2, 3))
    low, high = ink.quantile(0.25), ink.quantile(0.75)
    keep = (ink <= low) | (ink >= high)
    d = latent.direction(z[keep], (ink >= high)[keep])
    base_z, base_y = z[:GRID_PER_CLASS], torch.arange(GRID_PER_CLASS) % codec.n_classes
    rows, means = [], []
    for k in (0.0, 1.0, 2.0):
        images = codec.decode(model.decode_latent(base_z + k * d, base_y))
        rows.append(images)
        moved = codec.decode(model.decode_latent(z[:500] + k * d, labels[:500]))
        means.append(float(moved.astype(np.float32).mean()))
    summary = {"attribute": "ink (mean pixel value)", "group_a": "top quartile",
               "group_b": "bottom quartile", "moves": [0, 1, 2], "mean_ink": means}
    return np.concatenate(rows), summary


def _per_class(images: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    picks = [images[labels == c][:GRID_PER_CLASS] for c in range(n_classes)]
    picks = [np.concatenate([p, np.full((GRID_PER_CLASS - len(p), *images.shape[1:]), 255,
                                        np.uint8)]) for p in picks if len(p)]
    return np.concatenate(picks) if picks else images[:0]


def run_interpolate(params: Params, model_path: Path, out_path: Path, seeds: tuple[int, int],
                    steps: int, conditions: dict | None = None) -> None:
    """`synth generate --interpolate A:B`: the path's images (npz) and grid (png)."""
    model, codec = load(Path(model_path))
    conditions = dict(conditions or {})
    label = codec.label(conditions.pop("label")) if "label" in conditions else None
    if conditions:
        raise UserError(f"image models condition on 'label' only, got {', '.join(conditions)}")
    images = interpolation(model, codec, seeds[0], seeds[1], steps, label)
    out = Path(out_path)
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "interpolation.npz", images=images)
    write_png(grid(images, steps, scale=scale_for(codec.height)), out / "interpolation.png")
    logger.info("interpolated seeds %d -> %d in %d steps -> %s", *seeds, steps, out)
