"""The image codec: uint8 (N, H, W, C) images <-> float tensors (N, C, H, W) in [-1, 1].

Its state is a plain dict (shape, classes) stored in the prepared data and in the checkpoint,
so generation decodes without the training data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ImageCodec:
    height: int
    width: int
    channels: int
    classes: list[str]

    @classmethod
    def fit(cls, images: np.ndarray, classes: list[str]) -> "ImageCodec":
        _, h, w, c = images.shape
        return cls(int(h), int(w), int(c), list(classes))

    @classmethod
    def from_dict(cls, state: dict) -> "ImageCodec":
        return cls(int(state["height"]), int(state["width"]), int(state["channels"]),
                   [str(c) for c in state["classes"]])

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def to_tensor(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]."""
        x = torch.as_tensor(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        return x / 127.5 - 1.0

    def decode(self, x: torch.Tensor) -> np.ndarray:
        """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C) (values clipped)."""
        out = ((x.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255)
        return out.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()

    def label(self, value: object) -> int:
        """A class index from a class name or index (as `--condition label=3` gives it)."""
        from pipeline.errors import UserError

        text = str(value)
        if text in self.classes:
            return self.classes.index(text)
        raise UserError(f"cannot condition on label={text}: classes are "
                        f"{', '.join(self.classes)}")
