"""`synth generate --interpolate A:B` for tables: rows along a latent path between two seeds.

The endpoints are the rows `synth generate --rows 1 --seed A` (and `--seed B`) give under the
same `--condition`s: each endpoint's latent point, condition vector and decoding draws are
replayed from its seed. In between, the latent point moves on the spherical path
(`pipeline.latent.path`) and the condition vector linearly from A's to B's (the same vector
when a condition fixes it); the intermediate rows' category draws come from seed A's stream.
Rows are not filtered by exact order rules, the refiners or the copy guard (a redraw would
break the path): a row along it may equal a training row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline import io, latent
from pipeline.config import Params
from pipeline.log import logger


def _endpoint(model, plan, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
    """(noise, cond, generator after both draws) exactly as `sample(1, ...)` draws them."""
    gen = torch.Generator(device=model.device).manual_seed(int(seed))
    cond = (model.sampler.fixed_many(1, plan.pairs) if plan.pairs
            else model.sampler.sample_original(1, gen))
    noise = torch.randn(1, model.hparams.embedding_dim, device=cond.device, generator=gen)
    return noise, cond, gen


def interpolate_rows(model, transformer, plan, seeds: tuple[int, int], steps: int
                     ) -> pd.DataFrame:
    """`steps` decoded rows from seed A's sample to seed B's (plus a `step` column)."""
    (za, ca, gen_a), (zb, cb, gen_b) = (_endpoint(model, plan, s) for s in seeds)
    z = latent.path(za[0], zb[0], steps)
    t = torch.linspace(0, 1, steps, device=ca.device)[:, None]
    cond = (1 - t) * ca + t * cb
    cond[0], cond[-1] = ca[0], cb[0]
    # the endpoints are decoded alone, each with its seed's streams (a batch would hand row 0
    # other decoding draws); the rows between continue seed A's streams
    first = plan.apply(model.sample(1, generator=gen_a, noise=z[:1], cond=cond[:1]))
    rng_a = np.random.default_rng(seeds[0])
    frames = [transformer.inverse_transform(first, generator=rng_a)]
    if steps > 2:
        middle = plan.apply(model.sample(steps - 2, generator=gen_a, noise=z[1:-1],
                                         cond=cond[1:-1]))
        frames.append(transformer.inverse_transform(middle, generator=rng_a, start_row=1))
    last = plan.apply(model.sample(1, generator=gen_b, noise=z[-1:], cond=cond[-1:]))
    frames.append(transformer.inverse_transform(last, generator=np.random.default_rng(seeds[1]),
                                                start_row=steps - 1))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "step", np.arange(steps))
    return out


def run_interpolate(params: Params, model_path: Path, out_path: Path, seeds: tuple[int, int],
                    steps: int, conditions: dict | None = None) -> None:
    from pipeline.stages.generate import load_checkpoint, plan_conditions

    model, transformer, schema, _ = load_checkpoint(model_path)
    plan = plan_conditions(transformer, schema, conditions)
    rows = interpolate_rows(model, transformer, plan, seeds, steps)
    io.write_parquet(rows, Path(out_path))
    logger.info("interpolated seeds %d -> %d in %d rows -> %s", *seeds, steps, out_path)


def attribute_shift(model, transformer, column: str, value_a, value_b, n: int = 2000,
                    seed: int = 0, moves: tuple[float, ...] = (0.0, 1.0, 2.0)
                    ) -> dict[float, pd.DataFrame]:
    """Latent arithmetic for tables: draw `n` rows, take the direction = mean latent of the
    rows whose `column` decodes to `value_a` minus those decoding to `value_b`, and decode the
    same rows (same condition vectors, same decoding draws) moved `k` times along it, for each
    k in `moves`. Returns {k: decoded rows}; k = 0 is the unmoved sample."""
    gen = torch.Generator(device=model.device).manual_seed(int(seed))
    cond = model.sampler.sample_original(n, gen)
    z = torch.randn(n, model.hparams.embedding_dim, device=cond.device, generator=gen)

    def decode(noise: torch.Tensor) -> pd.DataFrame:
        g = torch.Generator(device=model.device).manual_seed(int(seed) + 1)
        return transformer.inverse_transform(model.sample(n, generator=g, noise=noise,
                                                          cond=cond),
                                             generator=np.random.default_rng(seed))

    base = decode(z)
    values = base[column].astype(str).to_numpy()
    in_a, in_b = values == str(value_a), values == str(value_b)
    if not in_a.any() or not in_b.any():
        raise ValueError(f"attribute_shift: no sampled rows with {column}={value_a} or "
                         f"={value_b} to estimate the direction from")
    keep = torch.as_tensor(in_a | in_b, device=z.device)
    d = latent.direction(z[keep], torch.as_tensor(in_a, device=z.device)[keep])
    return {k: (base if k == 0 else decode(z + k * d)) for k in moves}
