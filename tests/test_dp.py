"""DP training: per-row gradients (penalty included) against a loop over rows, clipping,
Poisson sampling, the noisy category counts and the accountant wiring."""

from __future__ import annotations

import math

import pytest
import torch
from opacus.accountants import RDPAccountant

from pipeline.config import PrivacyParams
from pipeline.models import dp_grads
from pipeline.models.dp import DPCritic, clipped_sum, privatise_sampler
from pipeline.models.dp_accounting import ALPHAS, plan, spent
from pipeline.models.layers import Critic
from pipeline.tabular.sampler import ConditionalSampler
from pipeline.tabular.spans import DiscreteColumn


def _loop_grads(critic: Critic, real, fake, alpha, gp: float) -> list[dict[str, torch.Tensor]]:
    """Reference: one row at a time, plain autograd with create_graph for the penalty."""
    out = []
    for i in range(real.shape[0]):
        x_hat = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i])[None].requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        loss = critic(fake[i:i + 1]).sum() - critic(real[i:i + 1]).sum() \
            + gp * (g.norm() - 1) ** 2
        grads = torch.autograd.grad(loss, list(critic.parameters()), allow_unused=True)
        out.append({n: (torch.zeros_like(p) if gr is None else gr)
                    for (n, p), gr in zip(critic.named_parameters(), grads)})
    return out


def _batch(dims: list[int], rows: int = 6, width: int = 7, seed: int = 0):
    torch.manual_seed(seed)
    critic = Critic(width, dims, pac=1).double().eval()
    real, fake = torch.randn(rows, width).double(), torch.randn(rows, width).double()
    return critic, real, fake, torch.rand(rows, 1).double()


@pytest.mark.parametrize("dims", [[5, 4], [9], []])
def test_per_row_gradients_match_a_loop_over_single_rows(dims: list[int]) -> None:
    critic, real, fake, alpha = _batch(dims)
    fac, aux = dp_grads.factors(critic, real, fake, alpha, 10.0)
    ours = dp_grads.materialise(critic, fac)
    loop = _loop_grads(critic, real, fake, alpha, 10.0)
    for i, ref in enumerate(loop):
        for name, g in ref.items():
            torch.testing.assert_close(ours[name][i], g, rtol=1e-7, atol=1e-9)
    # torch.func gives the same per-row gradients (vmap over rows, nested grad)
    func = dp_grads.vmap_per_sample_grads(critic, real, fake, alpha, 10.0)
    for name, g in func.items():
        torch.testing.assert_close(ours[name], g, rtol=1e-6, atol=1e-7)
    # the penalty really contributes (else the test above would not test it)
    assert aux[:, 2].abs().sum() > 0
    no_gp = dp_grads.materialise(critic, dp_grads.factors(critic, real, fake, alpha, 0.0)[0])
    assert not torch.allclose(no_gp["body.0.weight"], ours["body.0.weight"])


def test_row_norms_and_clipped_sum_match_the_loop() -> None:
    critic, real, fake, alpha = _batch([5, 4], rows=8)
    loop = _loop_grads(critic, real, fake, alpha, 10.0)
    norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in row.values())) for row in loop])
    fac, _ = dp_grads.factors(critic, real, fake, alpha, 10.0)
    torch.testing.assert_close(dp_grads.row_norms(fac), norms)
    clip = float(norms.median())
    weight = torch.tensor([1, 1, 0, 1, 1, 1, 0, 1], dtype=torch.float64)  # 0: padding slots
    summed, _ = clipped_sum(critic, real, fake, alpha, 10.0, weight, clip)
    for name in summed:
        expected = sum(w * min(1.0, clip / (float(n) + 1e-6)) * row[name]
                       for w, n, row in zip(weight, norms, loop))
        torch.testing.assert_close(summed[name], expected)


def _plan(**kw) -> dict:
    return plan(PrivacyParams(**kw), rows=2000, batch_size=100, world=1, steps=500,
                n_discrete=3)


def test_noise_is_calibrated_to_the_target_epsilon_with_opacus() -> None:
    p = _plan(epsilon=3.0)
    assert p["sample_rate"] == pytest.approx(0.05) and p["delta"] == 1e-5
    assert 2.97 <= spent(p, 500) <= 3.0  # the whole budget, not more
    # the same number straight from Opacus' RDP accountant (SGD steps + the counts' release)
    acc = RDPAccountant()
    acc.history = [(p["noise_multiplier"], 0.05, 500), (p["count_noise"], 1.0, 1)]
    assert spent(p, 500) == pytest.approx(acc.get_epsilon(1e-5, alphas=ALPHAS))
    assert spent(p, 250) < spent(p, 500)  # stopped early (max_minutes): less spent
    assert _plan(epsilon=1.0)["noise_multiplier"] > p["noise_multiplier"]
    # the counts get about stats_share of the budget on their own
    acc.history = [(p["count_noise"], 1.0, 1)]
    assert acc.get_epsilon(1e-5, alphas=ALPHAS) == pytest.approx(0.3, rel=0.01)


def test_noise_multiplier_mode_and_prv_accountant() -> None:
    p = _plan(noise_multiplier=1.2, stats_share=0.0)
    acc = RDPAccountant()
    acc.history = [(1.2, 0.05, 500)]
    assert p["count_noise"] == 0.0
    assert p["epsilon_planned"] == pytest.approx(acc.get_epsilon(1e-5, alphas=ALPHAS))
    prv = _plan(epsilon=3.0, accountant="prv")
    assert 2.9 <= spent(prv, 500) <= 3.0


def _sampler() -> tuple[ConditionalSampler, torch.Tensor]:
    torch.manual_seed(0)
    cols = [DiscreteColumn("a", 0, 3, ("x", "y", "z")),
            DiscreteColumn("b", 3, 2, ("u", "v"))]
    a = torch.multinomial(torch.tensor([0.6, 0.3, 0.1]), 500, replacement=True)
    b = torch.multinomial(torch.tensor([0.5, 0.5]), 500, replacement=True)
    matrix = torch.cat([torch.nn.functional.one_hot(a, 3), torch.nn.functional.one_hot(b, 2)],
                       1).float()
    return ConditionalSampler(cols).fit(matrix), matrix


def test_poisson_sample_rate_and_disjoint_ranks() -> None:
    p = {"rows": 500, "sample_rate": 0.1, "world": 1, "noise_multiplier": 1.0,
         "count_noise": 1.0, "max_grad_norm": 1.0}
    one = DPCritic(p, seed=3)
    hits = torch.zeros(500)
    for step in range(200):
        rows, w = one._poisson(step, 0, torch.device("cpu"))
        hits[rows[w > 0]] += 1
    # each row joins each step with probability 0.1: 200 steps -> Binomial(200, 0.1)
    assert abs(hits.mean().item() - 20) < 0.5
    assert abs(hits.var().item() - 18) < 4
    two = DPCritic({**p, "world": 2}, seed=3)
    r0, w0 = two._poisson(7, 0, torch.device("cpu"))
    r1, w1 = two._poisson(7, 1, torch.device("cpu"))
    r, w = one._poisson(7, 0, torch.device("cpu"))
    a, b = set(r0[w0 > 0].tolist()), set(r1[w1 > 0].tolist())
    assert not a & b and a | b == set(r[w > 0].tolist())


def test_category_counts_are_released_with_noise() -> None:
    sampler, matrix = _sampler()
    true = sampler.counts.clone()
    privatise_sampler(sampler, count_noise=20.0, seed=0)
    assert not torch.equal(sampler.counts, true) and (sampler.counts >= 0).all()
    assert sampler.counts[1, 2] == 0  # padding slot of the 2-level column stays empty
    # the noise is about count_noise * sqrt(#discrete) = 28 per count, not more
    assert (sampler.counts - true)[:, :2].abs().max() < 6 * 28
    cond, column, category, _ = sampler.sample_train(1000)  # still draws valid conditions
    assert cond.shape == (1000, 5) and (category < sampler.widths[column]).all()
    assert math.isclose(float(sampler.cdf_emp[0, -1]), 1.0)
