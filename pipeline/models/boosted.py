"""A gradient-boosted binary classifier held as torch tensors.

Fitted by scikit-learn's HistGradientBoostingClassifier (a well-kept, fast histogram booster:
the same family as the detection metric's classifier), then copied into flat per-tree node
tables so that scoring is batched torch on whatever device the generator runs on, and the
trees travel in the model's state_dict (weights_only checkpoints: no pickled objects).

Each tree is a table of nodes: split feature, threshold, the two children, and a leaf value.
Scoring walks every row down every tree at once, one level per step (a leaf points to itself),
then sums the leaf values: the booster's raw decision value (the log-odds of "real"). The cost
is rows x trees x depth gathers, hence the refiner's shallow trees (`refine._MAX_DEPTH`).
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor, nn

from pipeline.errors import UserError

_CHUNK = 16384  # rows scored at once: [rows, trees] int64 node indices stay ~40 MB


class BoostedTrees(nn.Module):
    """Sum of regression trees plus a bias: the decision function of a fitted booster."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("feature", torch.zeros(0, 0, dtype=torch.long))
        self.register_buffer("threshold", torch.zeros(0, 0))
        self.register_buffer("child", torch.zeros(0, 0, 2, dtype=torch.long))
        self.register_buffer("value", torch.zeros(0, 0))
        self.register_buffer("bias", torch.zeros(()))
        self.register_buffer("depth", torch.zeros((), dtype=torch.long))

    @property
    def n_trees(self) -> int:
        return int(self.feature.shape[0])

    def fit(self, x: Tensor, y: Tensor, weight: Tensor, seed: int, *, max_iter: int,
            learning_rate: float, max_depth: int, min_samples_leaf: int,
            threads: int) -> None:
        """Fit on rows `x` with 0/1 labels `y` and sample weights (early stopping on a
        stratified 15 % of the rows), then load the trees into this module's buffers."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        clf = HistGradientBoostingClassifier(
            max_iter=max_iter, learning_rate=learning_rate, max_depth=max_depth,
            min_samples_leaf=min_samples_leaf,
            early_stopping=True, validation_fraction=0.15, n_iter_no_change=10,
            random_state=int(seed))
        with threadpool_limits(limits=max(1, threads), user_api="openmp"):
            clf.fit(x.detach().cpu().double().numpy(), y.cpu().numpy(),
                    sample_weight=weight.cpu().double().numpy())
        self._load_booster(clf, x.device)

    def _load_booster(self, clf, device: torch.device) -> None:
        try:
            trees = [row[0].nodes for row in clf._predictors]
            bias = float(np.ravel(clf._baseline_prediction)[0])
        except (AttributeError, IndexError, TypeError) as exc:
            raise UserError("refine: this scikit-learn's HistGradientBoostingClassifier has "
                            f"no readable trees ({exc}); pin scikit-learn 1.x") from None
        width = max(len(t) for t in trees)
        n = len(trees)
        feature = np.zeros((n, width), np.int64)
        threshold = np.zeros((n, width), np.float32)
        child = np.tile(np.arange(width, dtype=np.int64)[None, :, None], (n, 1, 2))
        value = np.zeros((n, width), np.float32)
        depth = 0
        for i, nodes in enumerate(trees):
            k = len(nodes)
            split = nodes["is_leaf"] == 0
            feature[i, :k] = np.where(split, nodes["feature_idx"], 0)
            threshold[i, :k] = _float32_at_most(nodes["num_threshold"])
            child[i, :k, 0] = np.where(split, nodes["left"], np.arange(k))
            child[i, :k, 1] = np.where(split, nodes["right"], np.arange(k))
            value[i, :k] = np.where(split, 0.0, nodes["value"])
            depth = max(depth, int(nodes["depth"].max()))
        for name, array in (("feature", feature), ("threshold", threshold),
                            ("child", child), ("value", value)):
            setattr(self, name, torch.from_numpy(array).to(device))
        self.bias = torch.tensor(bias, dtype=torch.float32, device=device)
        self.depth = torch.tensor(depth, dtype=torch.long, device=device)

    def forward(self, x: Tensor) -> Tensor:
        """Decision value (log-odds) per row of `x` [rows, features]."""
        if self.n_trees == 0:
            return torch.zeros(x.shape[0], device=x.device)
        n, width = self.feature.shape
        offset = torch.arange(n, device=x.device) * width
        feature, threshold = self.feature.reshape(-1), self.threshold.reshape(-1)
        child, value = self.child.reshape(-1), self.value.reshape(-1)
        out = []
        for rows in x.float().split(_CHUNK):
            node = offset.expand(rows.shape[0], n).clone()  # global node index per (row, tree)
            for _ in range(int(self.depth)):
                right = rows.gather(1, feature[node]) > threshold[node]
                node = child[2 * node + right] + offset
            out.append(value[node].sum(1) + self.bias)
        return torch.cat(out) if out else torch.zeros(0, device=x.device)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the tables' sizes are the fitted booster's: take them from the checkpoint
        for name in ("feature", "threshold", "child", "value"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _float32_at_most(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 threshold: for float32 inputs, x <= t (float64,
    the booster's test) holds exactly when x <= this value."""
    t32 = threshold.astype(np.float32)
    over = t32.astype(np.float64) > threshold
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32
