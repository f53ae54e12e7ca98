"""`synth prepare` for images: load, validate, split (stratified by class), write npz + schema.

Everything is computed in memory first, then train.npz, holdout.npz and schema.json are
written atomically (no half-written outputs on a bad input).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pipeline import io
from pipeline.config import Params
from pipeline.errors import UserError
from pipeline.images.codec import ImageCodec
from pipeline.images.datasets import load_images
from pipeline.images.files import write_npz
from pipeline.log import logger


def run(params: Params, out_dir: Path) -> None:
    """Write train.npz, holdout.npz (uint8 images + int labels) and schema.json."""
    from sklearn.model_selection import train_test_split

    p, started = params.prepare, time.perf_counter()
    images, labels, classes = load_images(p.dataset)
    counts = np.bincount(labels, minlength=len(classes))
    if counts.min() < 2:
        raise UserError(f"{p.dataset}: class '{classes[int(counts.argmin())]}' has "
                        f"{int(counts.min())} image(s); every class needs at least 2 (split)")
    index = np.arange(len(labels))
    train_idx, hold_idx = train_test_split(index, test_size=p.holdout_fraction,
                                           random_state=params.seed,
                                           stratify=labels if p.stratify else None)
    train_idx, hold_idx = np.sort(train_idx), np.sort(hold_idx)
    codec = ImageCodec.fit(images, classes)
    schema = {"modality": "image", "dataset": p.dataset, "n_rows": int(len(train_idx)),
              "n_holdout": int(len(hold_idx)), "codec": codec.to_dict(),
              "class_counts": np.bincount(labels[train_idx], minlength=len(classes)).tolist()}
    out_dir = Path(out_dir)
    write_npz(out_dir / "train.npz", images=images[train_idx], labels=labels[train_idx])
    write_npz(out_dir / "holdout.npz", images=images[hold_idx], labels=labels[hold_idx])
    io.write_json(schema, out_dir / "schema.json")
    logger.info("prepared %s: %d train + %d holdout images of %dx%dx%d, %d classes in %.2fs",
                p.dataset, len(train_idx), len(hold_idx), codec.height, codec.width,
                codec.channels, codec.n_classes, time.perf_counter() - started)


def read_prepared(data_dir: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray, dict]:
    """(uint8 images, labels, schema) of one prepared split; UserError if not prepared."""
    from pipeline.images.files import read_npz

    data_dir = Path(data_dir)
    path = data_dir / f"{split}.npz"
    if not path.is_file() or not (data_dir / "schema.json").is_file():
        raise UserError(f"{data_dir} lacks {split}.npz/schema.json (run `synth prepare` with "
                        f"an image dataset)")
    arrays = read_npz(path)
    return arrays["images"], arrays["labels"], io.read_json(data_dir / "schema.json")
