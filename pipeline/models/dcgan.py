"""DCGAN-class class-conditional image GAN as a LightningModule (manual optimisation, WGAN-GP).

Generator: [noise, label embedding] -> Linear -> (C0, H/2^L, W/2^L) -> L stride-2 transposed
convs (BatchNorm + ReLU between) -> tanh. Critic: L stride-2 convs (LeakyReLU, no BatchNorm:
the gradient penalty is per sample) -> flat features -> linear score + projection of the label
embedding (Miyato & Koyama 2018), so the critic judges "real image of class y".

Training follows the tabular module's layout: the whole (N, C, H, W) training tensor and its
labels live on the device as buffers, batches are drawn inside `training_step`, the
DataLoader only yields step counts, and per-round metric sums stay on the device until the
round ends (no host sync in the step).
"""

from __future__ import annotations

import copy
import math

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

METRICS = ("loss_g", "loss_d", "gradient_penalty", "critic_real", "critic_fake")


class ConvGenerator(nn.Module):
    def __init__(self, latent_dim: int, n_classes: int, dims: list[int], channels: int,
                 height: int, width: int) -> None:
        super().__init__()
        ups = len(dims)
        self.base = (dims[0], height >> ups, width >> ups)
        self.embed = nn.Embedding(n_classes, min(latent_dim, 32))
        self.project = nn.Sequential(
            nn.Linear(latent_dim + self.embed.embedding_dim, math.prod(self.base)),
            nn.BatchNorm1d(math.prod(self.base)), nn.ReLU())
        layers: list[nn.Module] = []
        for cin, cout in zip(dims, dims[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(dims[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        h = self.project(torch.cat([z, self.embed(labels)], 1))
        return self.net(h.view(-1, *self.base))


class ConvCritic(nn.Module):
    def __init__(self, n_classes: int, dims: list[int], channels: int, height: int,
                 width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout in zip([channels, *dims[:-1]], dims):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Flatten())
        features = dims[-1] * (height >> len(dims)) * (width >> len(dims))
        self.score = nn.Linear(features, 1)
        self.embed = nn.Embedding(n_classes, features)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        h = self.net(x)
        return self.score(h).squeeze(1) + (self.embed(labels) * h).sum(1)


class DCGANModule(pl.LightningModule):
    """Class-conditional conv GAN on (channels, height, width) images with `n_classes`."""

    STEPS_PER_BATCH = 16

    def __init__(self, height: int, width: int, channels: int, n_classes: int,
                 embedding_dim: int = 64, generator_dims: list[int] | None = None,
                 discriminator_dims: list[int] | None = None, batch_size: int = 64,
                 generator_lr: float = 2e-4, discriminator_lr: float = 2e-4,
                 betas: list[float] | None = None, critic_steps: int = 1,
                 gp_weight: float = 10.0, seed: int = 42, steps_per_epoch: int | None = None,
                 ema_decay: float = 0.0, compile: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.automatic_optimization = False
        g_dims, d_dims = generator_dims or [128, 64], discriminator_dims or [64, 128]
        self.generator = ConvGenerator(embedding_dim, n_classes, g_dims, channels, height, width)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.critic = ConvCritic(n_classes, d_dims, channels, height, width)
        self.register_buffer("images", torch.zeros(0, channels, height, width), persistent=False)
        self.register_buffer("labels", torch.zeros(0, dtype=torch.long), persistent=False)

    def set_training_data(self, images: Tensor, labels: Tensor) -> None:
        """Attach the (N, C, H, W) float images in [-1, 1] and their int labels."""
        self.images = images.float().to(self.images.device)
        self.labels = labels.long().to(self.labels.device)

    def train_dataloader(self) -> DataLoader:
        steps = self.hparams.steps_per_epoch or max(
            1, math.ceil(self.images.shape[0] / self.hparams.batch_size))
        world = self._trainer.world_size if self._trainer is not None else 1
        per_rank, k = math.ceil(steps / world), self.STEPS_PER_BATCH
        groups = [min(k, per_rank - s) for s in range(0, per_rank, k)]
        return DataLoader([g for g in groups for _ in range(world)], batch_size=None,
                          generator=torch.Generator())

    def configure_optimizers(self):
        h = self.hparams
        betas = tuple(h.betas or (0.5, 0.9))
        return [torch.optim.Adam(self.generator.parameters(), lr=h.generator_lr, betas=betas),
                torch.optim.Adam(self.critic.parameters(), lr=h.discriminator_lr, betas=betas)]

    def on_train_start(self) -> None:
        if self.hparams.ema_decay > 0 and self.global_step == 0:
            self.generator_ema.load_state_dict(self.generator.state_dict())

    def on_train_epoch_start(self) -> None:
        torch.manual_seed((self.hparams.seed * 1_000_003 + self.current_epoch * 7919
                           + self.global_rank * 104_729) % (2 ** 63))

    def training_step(self, batch: Tensor | int, batch_idx: int) -> None:
        sums = None
        for _ in range(int(batch)):
            step = self._gan_step()
            sums = step if sums is None else sums + step
        self._sums = sums if batch_idx == 0 else self._sums + sums
        self._steps = (0 if batch_idx == 0 else self._steps) + int(batch)

    def _batch(self, n: int) -> tuple[Tensor, Tensor]:
        rows = torch.randint(0, self.images.shape[0], (n,), device=self.images.device)
        return self.images[rows], self.labels[rows]

    def _gan_step(self) -> Tensor:
        g_opt, d_opt = self.optimizers()
        h, n = self.hparams, self.hparams.batch_size
        for _ in range(h.critic_steps):
            real, y = self._batch(n)
            with torch.no_grad():
                fake = self.generator(self._noise(n), y)
            with self.toggled_optimizer(d_opt):
                scores = self.critic(torch.cat([real, fake]), torch.cat([y, y]))
                critic_real, critic_fake = scores[:n].mean(), scores[n:].mean()
                penalty = self._penalty(real, fake, y)
                loss_d = critic_fake - critic_real + h.gp_weight * penalty
                d_opt.zero_grad(set_to_none=True)
                self.manual_backward(loss_d)
                d_opt.step()
        _, y = self._batch(n)
        with self.toggled_optimizer(g_opt):
            loss_g = -self.critic(self.generator(self._noise(n), y), y).mean()
            g_opt.zero_grad(set_to_none=True)
            self.manual_backward(loss_g)
            g_opt.step()
        if h.ema_decay > 0:
            # warm-up on the GAN step count (a host-side int, no sync; resumes exactly):
            # short runs are not dominated by the initial weights (0.999 ** 1000 = 37%)
            t = self.global_step // (h.critic_steps + 1)
            decay = min(h.ema_decay, (1 + t) / (10 + t))
            with torch.no_grad():
                torch._foreach_lerp_(list(self.generator_ema.parameters()),
                                     list(self.generator.parameters()), 1.0 - decay)
                for e, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
                    e.copy_(b)
        return torch.stack([loss_g, loss_d, penalty, critic_real, critic_fake]).detach()

    def _penalty(self, real: Tensor, fake: Tensor, y: Tensor) -> Tensor:
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.critic(mix, y).sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    def _noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.hparams.embedding_dim, device=self.device,
                           generator=generator)

    def on_train_epoch_end(self) -> None:
        if getattr(self, "_steps", 0):
            means = self._sums / self._steps
            self.log_dict(dict(zip(METRICS, means.unbind())), on_step=False, on_epoch=True,
                          sync_dist=True)
            self._steps = 0

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        extra = getattr(self, "synth_meta", None)
        if extra is not None:
            checkpoint["synth"] = extra

    # ----------------------------------------------------------------- sampling
    @property
    def sampling_generator(self) -> nn.Module:
        return self.generator_ema if self.hparams.ema_decay > 0 else self.generator

    def latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """`n` latent points, drawn as `sample` draws them (same seed -> same points)."""
        return self._noise(n, generator)

    @torch.inference_mode()
    def decode_latent(self, z: Tensor, labels: Tensor, batch: int = 4096) -> Tensor:
        """Images (N, C, H, W) in [-1, 1] for latent points `z` and class indices `labels`."""
        net = self.sampling_generator
        was_training = net.training  # snapshots during training must not leave BN in eval
        net.eval()
        outs = [net(z[s:s + batch].to(self.device), labels[s:s + batch].to(self.device))
                for s in range(0, z.shape[0], batch)]
        net.train(was_training)
        return torch.cat(outs) if outs else torch.zeros(0, self.hparams.channels,
                                                         self.hparams.height, self.hparams.width)

    def sample(self, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One image per entry of `labels`, noise from `generator` (seeded = reproducible)."""
        return self.decode_latent(self.latent(labels.shape[0], generator), labels)
