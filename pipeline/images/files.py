"""Image files: the npz arrays stages pass on, PNG files per class, and sample grids."""

from __future__ import annotations

import base64
import io as _io
from pathlib import Path

import numpy as np

from pipeline import io


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Atomic compressed npz (no pickles: plain numeric/str arrays)."""
    with io.atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def grid(images: np.ndarray, ncol: int, pad: int = 1, scale: int = 1) -> np.ndarray:
    """Tile uint8 (N, H, W, C) images row-major into one (H', W', C) image; white padding."""
    n, h, w, c = images.shape
    nrow = max(1, -(-n // ncol))
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):  # at most a few hundred tiles: a grid, not a hot path
        r, q = divmod(i, ncol)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + q * (w + pad):pad + q * (w + pad) + w] = images[i]
    if scale > 1:
        out = out.repeat(scale, 0).repeat(scale, 1)
    return out


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


def write_png(image: np.ndarray, path: Path) -> None:
    with io.atomic_path(path) as tmp:
        Path(tmp).write_bytes(png_bytes(image))


def data_uri(image: np.ndarray) -> str:
    """A PNG data URI for the self-contained HTML report."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def write_class_pngs(images: np.ndarray, labels: np.ndarray, classes: list[str],
                     root: Path) -> None:
    """`root/<class>/<index>.png` for every image (the layout `load_folder` reads back)."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / classes[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
            folder / f"{i:06d}.png")


def scale_for(height: int, target: int = 28) -> int:
    """Integer upscale so small images (8x8) stay visible in a report."""
    return max(1, target // max(height, 1)) * 2
