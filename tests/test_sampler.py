"""The conditional sampler draws columns uniformly, categories by (log-)frequency, and real
rows that really hold the drawn category."""

from __future__ import annotations

import numpy as np
import torch

from pipeline.tabular.sampler import ConditionalSampler
from pipeline.tabular.spans import DiscreteColumn

PROBS = [np.array([0.6, 0.3, 0.1, 0.0]), np.array([0.5, 0.5]), np.array([0.02, 0.9, 0.08])]


def _matrix(n: int = 3000, seed: int = 0) -> tuple[torch.Tensor, list[DiscreteColumn]]:
    rng = np.random.default_rng(seed)
    blocks, discrete, start = [rng.uniform(-1, 1, (n, 1))], [], 1
    for i, p in enumerate(PROBS):
        onehot = np.zeros((n, len(p)))
        onehot[np.arange(n), rng.choice(len(p), n, p=p)] = 1
        blocks.append(onehot)
        discrete.append(DiscreteColumn(f"c{i}", start, len(p), tuple(map(str, range(len(p))))))
        start += len(p)
    return torch.as_tensor(np.hstack(blocks), dtype=torch.float32), discrete


def _counts(matrix, col: DiscreteColumn) -> np.ndarray:
    return matrix[:, col.span_start:col.span_start + col.width].sum(0).numpy()


def test_training_draws_follow_uniform_columns_and_log_frequency() -> None:
    matrix, discrete = _matrix()
    sampler = ConditionalSampler(discrete, log_frequency=True).fit(matrix)
    gen = torch.Generator().manual_seed(1)
    n = 100_000
    cond, column, category, rows = sampler.sample_train(n, gen)
    col_freq = np.bincount(column.numpy(), minlength=3) / n
    assert np.abs(col_freq - 1 / 3).max() < 0.01
    for d, col in enumerate(discrete):
        expected = np.log1p(_counts(matrix, col))
        expected /= expected.sum()
        got = np.bincount(category[column == d].numpy(), minlength=col.width)
        got = got / got.sum()
        assert np.abs(got - expected).max() < 0.012, (d, got, expected)
        assert got[expected == 0].sum() == 0  # empty categories are never drawn
    # Each drawn row holds the drawn category in the drawn column.
    starts = torch.tensor([c.span_start for c in discrete])
    assert (matrix[rows, starts[column] + category] == 1).all()
    # One bit per row, at the column's offset in the condition vector plus the category.
    assert (cond.sum(1) == 1).all()
    offsets = torch.tensor([0, 4, 6])
    assert (cond.argmax(1) == offsets[column] + category).all()


def test_rows_within_a_category_are_drawn_uniformly() -> None:
    matrix, discrete = _matrix(n=400)
    sampler = ConditionalSampler(discrete, log_frequency=False).fit(matrix)
    _, column, category, rows = sampler.sample_train(200_000, torch.Generator().manual_seed(2))
    picked = rows[(column == 1) & (category == 0)].numpy()
    members = np.flatnonzero(matrix[:, discrete[1].span_start].numpy() == 1)
    hits = np.bincount(picked, minlength=400)[members]
    assert set(np.unique(picked)) == set(members)
    assert hits.std() / hits.mean() < 0.15


def test_generation_draws_use_empirical_frequency() -> None:
    matrix, discrete = _matrix()
    sampler = ConditionalSampler(discrete, log_frequency=True).fit(matrix)
    cond = sampler.sample_original(100_000, torch.Generator().manual_seed(3))
    offset = 0
    for col in discrete:
        block = cond[:, offset:offset + col.width]
        chosen = block[block.sum(1) == 1]
        got = chosen.sum(0).numpy() / len(chosen)
        expected = _counts(matrix, col) / matrix.shape[0]
        assert np.abs(got - expected).max() < 0.012, (col.column, got, expected)
        offset += col.width


def test_generation_bias_reweights_condition_rates() -> None:
    """gen_bias (fitted after refinement) multiplies each category's generation rate by
    exp(bias); zero keeps the empirical rates; empty categories stay empty."""
    matrix, discrete = _matrix()
    sampler = ConditionalSampler(discrete).fit(matrix)
    bias = torch.zeros_like(sampler.gen_bias)
    bias[0, :3] = torch.log(torch.tensor([0.5, 1.0, 3.0]))
    sampler.gen_bias.copy_(bias)
    cond = sampler.sample_original(200_000, torch.Generator().manual_seed(3))
    block = cond[:, :discrete[0].width]
    chosen = block[block.sum(1) == 1]
    got = chosen.sum(0).numpy() / len(chosen)
    weights = _counts(matrix, discrete[0]) * np.array([0.5, 1.0, 3.0, 1.0])
    np.testing.assert_allclose(got, weights / weights.sum(), atol=0.012)
    assert got[3] == 0.0
    second = cond[:, discrete[0].width:discrete[0].width + discrete[1].width]
    picked = second[second.sum(1) == 1]
    np.testing.assert_allclose(picked.sum(0).numpy() / len(picked), [0.5, 0.5], atol=0.012)


def test_fixed_condition_and_persistent_state() -> None:
    matrix, discrete = _matrix()
    sampler = ConditionalSampler(discrete).fit(matrix)
    cond = sampler.fixed(7, column=2, category=1)
    assert (cond.argmax(1) == 4 + 2 + 1).all() and (cond.sum(1) == 1).all()
    state = sampler.state_dict()
    assert "rows" not in state and "offsets" not in state  # no training data in checkpoints
    fresh = ConditionalSampler(discrete)
    fresh.load_state_dict(state)
    a = fresh.sample_original(50, torch.Generator().manual_seed(4))
    b = sampler.sample_original(50, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_no_discrete_columns_samples_rows_uniformly() -> None:
    matrix = torch.randn(50, 3)
    sampler = ConditionalSampler([]).fit(matrix)
    cond, _, _, rows = sampler.sample_train(1000, torch.Generator().manual_seed(5))
    assert cond.shape == (1000, 0) and rows.min() >= 0 and rows.max() < 50
    assert sampler.sample_original(10).shape == (10, 0)


def test_anyway_draws_condition_on_the_real_rows_categories() -> None:
    """Any-way vectors: the primary column is always on, a share `anyway` of rows carries
    further columns, and every bit is the drawn real row's own category (one per column)."""
    matrix, discrete = _matrix()
    sampler = ConditionalSampler(discrete).fit(matrix)
    n = 60_000
    cond, mask, cats, rows = sampler.sample_train_multi(n, matrix, 0.5,
                                                        torch.Generator().manual_seed(3))
    real_cats = sampler.categories(matrix[rows])
    assert torch.equal(cats, real_cats)
    assert (mask.sum(1) >= 1).all() and torch.equal(cond.sum(1), mask.sum(1))
    offsets = torch.tensor([0, 4, 6])
    for d in range(3):  # each conditioned column's bit sits at the real row's category
        on = mask[:, d].bool()
        assert (cond[on, offsets[d] + cats[on, d]] == 1).all()
        assert cond[~on, offsets[d]:offsets[d] + discrete[d].width].sum() == 0
    multi = (mask.sum(1) > 1).float().mean().item()
    # P(extra columns) = 0.5 * P(at least one of 2 others | q ~ U(0,1)) = 0.5 * 2/3.
    assert abs(multi - 1 / 3) < 0.01
    # anyway = 0 is CTGAN's single-column vector, draw for draw.
    a = sampler.sample_train_multi(500, matrix, 0.0, torch.Generator().manual_seed(4))
    b = sampler.sample_train(500, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[3], b[3])
    assert (a[1].sum(1) == 1).all()


def test_fixed_many_sets_one_bit_per_condition() -> None:
    _, discrete = _matrix(n=50)
    sampler = ConditionalSampler(discrete)
    cond = sampler.fixed_many(5, [(0, 2), (2, 1)])
    assert cond.shape == (5, 9) and (cond.sum(1) == 2).all()
    assert (cond[:, 2] == 1).all() and (cond[:, 6 + 1] == 1).all()
