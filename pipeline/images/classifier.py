"""A small CNN trained on the real training images: the feature space of the image metrics.

No pretrained weights (nothing is downloaded): Frechet distance and precision/recall use the
penultimate layer of this classifier, and conditional accuracy its predictions. Training is
seeded and short (a few passes over a few thousand small images, seconds on a CPU).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

FEATURES = 64


class SmallCNN(nn.Module):
    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(256, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def to_input(images: np.ndarray) -> Tensor:
    """uint8 (N, H, W, C) -> float (N, C, H, W) in [0, 1]; 8x8 images upsampled x2 so both
    pooling stages keep spatial detail."""
    x = torch.as_tensor(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return nn.functional.interpolate(x, scale_factor=2) if x.shape[-1] < 16 else x


class ImageClassifier:
    def __init__(self, net: SmallCNN) -> None:
        self.net = net.eval()

    @classmethod
    def fit(cls, images: np.ndarray, labels: np.ndarray, n_classes: int, seed: int = 0,
            epochs: int = 20, batch: int = 128) -> "ImageClassifier":
        torch.manual_seed(seed)
        net = SmallCNN(images.shape[-1], n_classes)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        x, y = to_input(images), torch.as_tensor(labels).long()
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=gen)
            for s in range(0, len(y), batch):
                idx = order[s:s + batch]
                loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return cls(net)

    @torch.inference_mode()
    def features(self, images: np.ndarray, batch: int = 2048) -> np.ndarray:
        x = to_input(images)
        return torch.cat([self.net.body(x[s:s + batch]) for s in range(0, len(x), batch)]
                         ).numpy().astype(np.float64) if len(x) else np.zeros((0, FEATURES))

    @torch.inference_mode()
    def predict(self, images: np.ndarray, batch: int = 2048) -> np.ndarray:
        x = to_input(images)
        return torch.cat([self.net(x[s:s + batch]).argmax(1) for s in range(0, len(x), batch)]
                         ).numpy() if len(x) else np.zeros(0, np.int64)
