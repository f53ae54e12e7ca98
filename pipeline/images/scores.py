"""Image metrics on classifier features: Frechet distance, precision/recall, NN distances.

- Frechet distance between Gaussians fitted to real and generated features (FID's formula,
  in the feature space of `classifier.SmallCNN`, so values are not comparable to Inception FID).
- Precision / recall (Kynkaanniemi et al. 2019): a generated point is "precise" when it falls
  inside some real point's k-NN ball (radius = distance to its k-th nearest real neighbour);
  recall swaps the roles. Distances are computed in chunks (memory ~ chunk x N).
- Nearest-neighbour distances (pixel space) for privacy: generated -> train vs -> holdout.
"""

from __future__ import annotations

import numpy as np
import torch


def frechet(real: np.ndarray, fake: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), with tr((S1 S2)^1/2) computed as the
    sum of sqrt eigenvalues of S1^1/2 S2 S1^1/2 (symmetric PSD): stable when ReLU features
    leave the covariances singular, where a general matrix square root is not."""
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross)


def _min_dist(query: torch.Tensor, ref: torch.Tensor, chunk: int, k: int = 1,
              skip_self: bool = False) -> torch.Tensor:
    """Distance from each query row to its k-th nearest ref row (chunked over queries)."""
    out = []
    for s in range(0, len(query), chunk):
        d = torch.cdist(query[s:s + chunk], ref)
        kk = k + 1 if skip_self else k  # a point's distance to itself is the first 0
        out.append(d.topk(kk, dim=1, largest=False).values[:, kk - 1])
    return torch.cat(out) if out else torch.zeros(0)


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
              chunk: int) -> float:
    inside = []
    for s in range(0, len(points), chunk):
        d = torch.cdist(points[s:s + chunk], centres)
        inside.append((d <= radii[None, :]).any(1))
    return float(torch.cat(inside).float().mean()) if inside else float("nan")


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3,
                     chunk: int = 1024) -> tuple[float, float]:
    r = torch.as_tensor(real, dtype=torch.float32)
    f = torch.as_tensor(fake, dtype=torch.float32)
    r_radii = _min_dist(r, r, chunk, k, skip_self=True)
    f_radii = _min_dist(f, f, chunk, k, skip_self=True)
    return _coverage(f, r, r_radii, chunk), _coverage(r, f, f_radii, chunk)


def nn_distances(query: np.ndarray, ref: np.ndarray, chunk: int = 1024
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean pixel distance (0..1 scale, per pixel RMS) from each query image to its
    nearest ref image, and the index of that image."""
    q = torch.as_tensor(query.reshape(len(query), -1), dtype=torch.float32) / 255.0
    r = torch.as_tensor(ref.reshape(len(ref), -1), dtype=torch.float32) / 255.0
    dists, idx = [], []
    for s in range(0, len(q), chunk):
        d = torch.cdist(q[s:s + chunk], r)
        v, i = d.min(1)
        dists.append(v)
        idx.append(i)
    scale = np.sqrt(q.shape[1])
    return torch.cat(dists).numpy() / scale, torch.cat(idx).numpy()


def separability_auc(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a logistic regression telling real from generated features
    (0.5: the classifier can do no better than a coin)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.metrics import roc_auc_score

    n = min(len(real), len(fake))
    rng = np.random.default_rng(seed)
    x = np.concatenate([real[rng.permutation(len(real))[:n]], fake[rng.permutation(len(fake))[:n]]])
    y = np.r_[np.ones(n), np.zeros(n)]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    p = cross_val_predict(model, x, y, cv=3, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))
