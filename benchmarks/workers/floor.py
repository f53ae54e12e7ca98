"""Bare-matmul floor: one epoch of a plain-torch WGAN-GP step at CTGAN's default architecture.

No data transformer, no conditional sampler, no span activations beyond one tanh, no Lightning:
random real rows and random one-hot conditions already in memory. It is the compute a
CTGAN-class step cannot avoid on this machine, so (tool s/epoch - floor s/epoch) is overhead.
Architecture from the CTGAN paper (Xu et al. 2019): residual generator 256x2 with batch norm,
packed discriminator (pac 10) 256x2 with LeakyReLU(0.2) + dropout 0.5, gradient penalty 10.
Runs in either venv (torch only).

`--generator-floor`: instead, rows/s of the bare generator forward alone (eval, inference mode,
random noise + one-hot conditions, no span activations, no decoding) at a generation batch,
in float32 and with bf16 weights/activations: the ceiling of any CTGAN-class sampler's
rows/s on this machine.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from common import emit


class Residual(nn.Module):
    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)


def build(data_dim: int, cond_dim: int, emb: int, pac: int) -> tuple[nn.Module, nn.Module]:
    g_in = emb + cond_dim
    gen = nn.Sequential(Residual(g_in, 256), Residual(g_in + 256, 256), nn.Linear(g_in + 512, data_dim))
    d_in = (data_dim + cond_dim) * pac
    disc = nn.Sequential(nn.Linear(d_in, 256), nn.LeakyReLU(0.2), nn.Dropout(0.5),
                         nn.Linear(256, 256), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(256, 1))
    return gen, disc


def generator_floor(data_dim: int, cond_dim: int, emb: int, batch: int, rows: int) -> dict:
    gen, _ = build(data_dim, cond_dim, emb, 10)
    gen.eval()
    out: dict = {"task": "generator_floor", "tool": "floor", "batch": batch, "rows": rows}
    eye = torch.eye(cond_dim)
    with torch.inference_mode():
        for tag, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            g = gen.to(dtype)
            x = torch.cat([torch.randn(batch, emb), eye[torch.randint(cond_dim, (batch,))]],
                          1).to(dtype)
            g(x)
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                for _ in range(max(rows // batch, 1)):
                    g(x)
                best = min(best, time.perf_counter() - t0)
            out[f"rows_per_s_{tag}"] = max(rows // batch, 1) * batch / best
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--generator-floor", action="store_true")
    p.add_argument("--gen-batch", type=int, default=8192)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--data-dim", type=int, required=True)
    p.add_argument("--cond-dim", type=int, required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--pac", type=int, default=10)
    args = p.parse_args()
    torch.manual_seed(0)
    if args.generator_floor:
        result = generator_floor(args.data_dim, args.cond_dim, 128, args.gen_batch, args.rows)
        emit({**result, "torch_threads": torch.get_num_threads()})
        return
    B, pac, emb = args.batch, args.pac, 128
    gen, disc = build(args.data_dim, args.cond_dim, emb, pac)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
    data = torch.rand(args.rows, args.data_dim)
    eye = torch.eye(args.cond_dim)
    steps = max(args.rows // B, 1)

    def packed(x: torch.Tensor) -> torch.Tensor:
        return disc(x.reshape(-1, x.shape[1] * pac))

    epoch_s = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        for _ in range(steps):
            cond = eye[torch.randint(args.cond_dim, (B,))]
            real = torch.cat([data[torch.randint(args.rows, (B,))], cond], 1)
            with torch.no_grad():
                fake = torch.tanh(gen(torch.cat([torch.randn(B, emb), cond], 1)))
            fake = torch.cat([fake, cond], 1)
            alpha = torch.rand(B // pac, 1, 1).expand(-1, pac, real.shape[1]).reshape(B, -1)
            mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            grad = torch.autograd.grad(packed(mix).sum(), mix, create_graph=True)[0]
            gp = ((grad.reshape(-1, pac * real.shape[1]).norm(2, dim=1) - 1) ** 2).mean()
            loss_d = packed(fake).mean() - packed(real).mean() + 10.0 * gp
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            cond = eye[torch.randint(args.cond_dim, (B,))]
            fake = torch.tanh(gen(torch.cat([torch.randn(B, emb), cond], 1)))
            loss_g = -packed(torch.cat([fake, cond], 1)).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
        epoch_s.append(time.perf_counter() - t0)
    # first epoch includes allocator warm-up; report the best as the floor
    s = min(epoch_s)
    emit({"task": "floor", "tool": "floor", "rows": args.rows, "data_dim": args.data_dim,
          "cond_dim": args.cond_dim, "epoch_s": epoch_s, "s_per_epoch": s,
          "train_rows_per_s": steps * B / s, "torch_threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
