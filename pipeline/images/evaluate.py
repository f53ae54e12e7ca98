"""`synth evaluate` for images: classifier-feature metrics, privacy, report with figures.

Reads the prepared train/holdout images and the generate output directory (`images.npz`,
grids). Trains `classifier.ImageClassifier` on the real training images (seeded), then:
Frechet distance and precision/recall in its feature space (holdout vs train as the
baseline a perfect generator would reach), conditional accuracy per requested class,
separability AUC (real vs generated features) at the training snapshots and for the final
images, and pixel-space nearest-neighbour privacy (generated -> train vs -> holdout, the
train side subsampled to the holdout's size so neither side is favoured by its count).
Writes metrics.json, details.json, plots/*.json and report.html into out_dir.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pipeline.config import Params
from pipeline.errors import UserError
from pipeline.images import scores
from pipeline.images.classifier import ImageClassifier
from pipeline.images.files import read_npz
from pipeline.images.prepare import read_prepared
from pipeline.images.report import render
from pipeline.io import atomic_path, write_json
from pipeline.log import logger
from pipeline.metrics.curves import read_curves

CLOSEST_PAIRS = 8
MAX_IMAGES = 5000  # seeded cap per side for the feature metrics (k-NN radii are N x N)


def run(params: Params, data_dir: Path, synthetic_path: Path, train_log_dir: Path | None,
        out_dir: Path) -> None:
    started = time.perf_counter()
    train, train_y, schema = read_prepared(Path(data_dir), "train")
    holdout, hold_y, _ = read_prepared(Path(data_dir), "holdout")
    synth_dir = Path(synthetic_path)
    if not (synth_dir / "images.npz").is_file():
        raise UserError(f"generated images not found: {synth_dir / 'images.npz'} "
                        f"(run `synth generate` with an image model)")
    generated = read_npz(synth_dir / "images.npz")
    fake, fake_y = generated["images"], generated["labels"]
    if fake.shape[1:] != train.shape[1:]:
        raise UserError(f"{synth_dir}: generated images are {fake.shape[1:]}, real ones "
                        f"{train.shape[1:]}")
    classes = schema["codec"]["classes"]
    metrics, details, clf, pairs = score(train, train_y, holdout, hold_y, fake, fake_y,
                                         classes, params.seed)
    snap_path = Path(train_log_dir) / "snapshots.npz" if train_log_dir else None
    if snap_path is not None and snap_path.is_file():
        snaps = read_npz(snap_path)
        real_f = clf.features(_cap(train, params.seed))
        details["separability"] = [
            {"step": int(s), "auc": scores.separability_auc(real_f, clf.features(imgs),
                                                             params.seed)}
            for s, imgs in zip(snaps["steps"], snaps["images"])]
    curves = read_curves(Path(train_log_dir)) if train_log_dir else {}
    out_dir = Path(out_dir)
    write_json(metrics, out_dir / "metrics.json")
    write_json(details, out_dir / "details.json")
    write_json({"conditional_accuracy": details["conditional_accuracy"]},
               out_dir / "plots" / "conditional_accuracy.json")
    write_json({"separability": details.get("separability", [])},
               out_dir / "plots" / "separability.json")
    html = render(metrics, details, pairs, synth_dir, curves,
                  dict(params.gate.thresholds), f"Synthetic images: {schema['dataset']}")
    with atomic_path(out_dir / "report.html") as tmp:
        Path(tmp).write_text(html, encoding="utf-8")
    logger.info("evaluated %d generated images in %.1fs: frechet %.3f, precision %.3f, "
                "recall %.3f, conditional accuracy %.3f", len(fake),
                time.perf_counter() - started, metrics["image.frechet"],
                metrics["image.precision"], metrics["image.recall"],
                metrics["image.conditional_accuracy"])


def _cap(images: np.ndarray, seed: int, n: int = MAX_IMAGES) -> np.ndarray:
    if len(images) <= n:
        return images
    return images[np.sort(np.random.default_rng(seed).permutation(len(images))[:n])]


def score(train: np.ndarray, train_y: np.ndarray, holdout: np.ndarray, hold_y: np.ndarray,
          fake: np.ndarray, fake_y: np.ndarray, classes: list[str], seed: int
          ) -> tuple[dict, dict, ImageClassifier, list]:
    """(metrics.json dict, details dict, the fitted classifier, the closest generated/train
    pairs) for generated images against the real splits."""
    clf = ImageClassifier.fit(train, train_y, len(classes), seed=seed)
    f_train, f_hold = clf.features(_cap(train, seed)), clf.features(_cap(holdout, seed))
    f_fake = clf.features(_cap(fake, seed))
    precision, recall = scores.precision_recall(f_train, f_fake)
    base_p, base_r = scores.precision_recall(f_train, f_hold)
    pred = clf.predict(fake)
    per_class = [{"class": classes[c], "requested": int((fake_y == c).sum()),
                  "accuracy": float((pred[fake_y == c] == c).mean())
                  if (fake_y == c).any() else None} for c in range(len(classes))]
    # privacy: same-size train and holdout references
    rng = np.random.default_rng(seed)
    train_ref = train[np.sort(rng.permutation(len(train))[:len(holdout)])]
    d_train, _ = scores.nn_distances(fake, train_ref)
    d_hold, _ = scores.nn_distances(fake, holdout)
    d_base, _ = scores.nn_distances(holdout, train)
    d_full, idx_full = scores.nn_distances(fake, train)
    share = float(((d_train < d_hold) + 0.5 * (d_train == d_hold)).mean())
    closest = np.argsort(d_full, kind="stable")[:CLOSEST_PAIRS]
    metrics = {
        "image.frechet": scores.frechet(f_train, f_fake),
        "image.frechet_holdout": scores.frechet(f_train, f_hold),
        "image.precision": precision, "image.recall": recall,
        "image.precision_holdout": base_p, "image.recall_holdout": base_r,
        "image.conditional_accuracy": float((pred == fake_y).mean()),
        "image.classifier_holdout_accuracy": float((clf.predict(holdout) == hold_y).mean()),
        "image.separability_auc": scores.separability_auc(f_train, f_fake, seed),
        "privacy.image_nn_train_share": share,
        "privacy.image_nn_ratio": float(np.median(d_full) / max(np.median(d_base), 1e-12)),
    }
    details = {"rows": {"train": len(train), "holdout": len(holdout), "generated": len(fake)},
               "conditional_accuracy": per_class,
               "nn_distance_median": {"generated_to_train": float(np.median(d_full)),
                                      "holdout_to_train": float(np.median(d_base))}}
    pairs = [(fake[i], train[idx_full[i]], float(d_full[i])) for i in closest]
    return metrics, details, clf, pairs
