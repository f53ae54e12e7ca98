"""The image report: scores, sample grid, interpolation, latent arithmetic, closest pairs,
the adversarial game (critic on real vs fake per round) and separability over training.
One self-contained HTML file (PNG data URIs and inline SVG)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from pipeline import io
from pipeline.images.files import data_uri, grid, scale_for
from pipeline.metrics.report_html import CSS, score_table, verdict
from pipeline.metrics.svg import bars, lines


def _img(path: Path, alt: str) -> str:
    """A PNG file the generate stage wrote, inlined as a data URI."""
    if not path.is_file():
        return f"<p class='muted'>{html.escape(path.name)} not found.</p>"
    uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='{uri}'>"


def _curve(curves: dict, suffix: str):
    for name, xy in curves.items():
        if name.endswith(suffix):
            return xy
    return None


def render(metrics: dict, details: dict, pairs: list, synth_dir: Path, curves: dict,
           thresholds: dict, title: str) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
             f"{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", verdict(metrics, thresholds),
             "<h2>Scores</h2>", score_table(metrics, thresholds),
             "<p class='muted'>Features: penultimate layer of a small CNN trained on the real "
             "training images (no pretrained weights); the *_holdout lines are what real "
             "holdout images score against the train images.</p>",
             "<h2>Samples (a row per class)</h2>", _img(synth_dir / "grid.png", "samples"),
             "<h2>Latent interpolation</h2><p class='muted'>One spherical path between two "
             "latent points (seed, seed+1), decoded for every class.</p>",
             _img(synth_dir / "interpolation.png", "interpolation")]
    arith = synth_dir / "arithmetic.json"
    if arith.is_file():
        a = io.read_json(arith)
        ink = ", ".join(f"{m}x: {v:.1f}" for m, v in zip(a["moves"], a["mean_ink"]))
        parts += ["<h2>Latent arithmetic</h2>",
                  f"<p class='muted'>Direction = mean latent of samples with the most ink "
                  f"({html.escape(a['group_a'])}) minus those with the least; rows: before, "
                  f"moved 1x and 2x along it. Mean pixel value of 500 moved samples: "
                  f"{html.escape(ink)}.</p>", _img(synth_dir / "arithmetic.png", "arithmetic")]
    if pairs:
        tiles = np.concatenate([np.stack([g, t]) for g, t, _ in pairs])
        dist = ", ".join(f"{d:.3f}" for _, _, d in pairs)
        scale = scale_for(tiles.shape[1])
        parts += ["<h2>Privacy: closest generated/train pairs</h2>",
                  f"<p class='muted'>Each pair: generated image, then its nearest training "
                  f"image (RMS pixel distance {html.escape(dist)}; holdout-to-train median "
                  f"{details['nn_distance_median']['holdout_to_train']:.3f}).</p>",
                  f"<img alt='closest pairs' src='{data_uri(grid(tiles, 2 * min(4, len(pairs)), scale=scale))}'>"]
    per = details["conditional_accuracy"]
    parts += ["<h2>Conditional accuracy per requested class</h2><div class='grid'>",
              bars([p["class"] for p in per], {"accuracy": [p["accuracy"] for p in per]},
                   "classifier accuracy on generated images", w=420), "</div>"]
    game = [("critic_real", _curve(curves, "critic_real")),
            ("critic_fake", _curve(curves, "critic_fake"))]
    parts.append("<h2>The adversarial game</h2><div class='grid'>")
    if all(xy for _, xy in game):
        parts.append(lines(game[0][1][0], {n: xy[1] for n, xy in game},
                           "critic score on real vs generated, per round"))
    sep = details.get("separability", [])
    if sep:
        parts.append(lines([s["step"] for s in sep], {"AUC": [s["auc"] for s in sep],
                                                      "coin": [0.5] * len(sep)},
                           "real-vs-generated separability AUC over training"))
    parts.append("</div>")
    if not sep and not all(xy for _, xy in game):
        parts.append("<p class='muted'>No training logs found.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
