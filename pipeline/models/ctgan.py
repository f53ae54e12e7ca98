"""CTGAN-class conditional tabular GAN as a LightningModule (manual optimisation, WGAN-GP).

Training batches are drawn inside `training_step` from the on-device matrix buffer through the
sampler (training-by-sampling); the DataLoader only yields `steps_per_epoch` dummy indices so
an epoch is about one pass over the data. Nothing in the step reads values back to the host.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from pipeline.models.calibration import onehot_offsets, quantile_knots, remap
from pipeline.models.copy_guard import CopyGuard
from pipeline.models.layers import (Critic, Generator, SpanActivation, TargetClassifier,
                                    gradient_penalty)
from pipeline.models.refine import Refiner, refined_sample
from pipeline.models.row_refine import RowRefiner
from pipeline.tabular.sampler import ConditionalSampler
from pipeline.tabular.spans import discrete_from_list, spans_from_list, total_width

METRICS = ("loss_g", "loss_d", "gradient_penalty", "critic_real", "critic_fake", "cond_loss",
           "target_loss")


class CTGANModule(pl.LightningModule):
    """Conditional generator + PacGAN critic over the spans of a fitted TableTransformer.

    `spans`/`discrete` are the plain-list forms (`spans_to_list`), so the hyperparameters that
    `save_hyperparameters` stores rebuild the exact network from a checkpoint.
    """

    # GAN steps per Lightning batch (the last group of an epoch may be shorter).
    STEPS_PER_BATCH = 16

    def __init__(self, spans: list[dict], discrete: list[dict], embedding_dim: int = 128,
                 generator_dims: list[int] | None = None,
                 discriminator_dims: list[int] | None = None, batch_size: int = 500,
                 generator_lr: float = 2e-4, discriminator_lr: float = 2e-4,
                 betas: list[float] | None = None, generator_decay: float = 1e-6,
                 discriminator_decay: float = 1e-6, pac: int = 10, critic_steps: int = 1,
                 gp_weight: float = 10.0, log_frequency: bool = True, seed: int = 42,
                 compile: bool = False, calibration_knots: int = 512,
                 steps_per_epoch: int | None = None, ema_decay: float = 0.0,
                 cond_anyway: float = 0.0, target_span: list[int] | None = None,
                 target_weight: float = 0.0) -> None:
        super().__init__()
        # Not sent to the logger: the span lists are long; the stage logs the train params.
        self.save_hyperparameters(logger=False)
        self.automatic_optimization = False
        span_objs, disc_objs = spans_from_list(spans), discrete_from_list(discrete)
        self.data_dim = total_width(span_objs)
        self.sampler = ConditionalSampler(disc_objs, log_frequency)
        self.activation = SpanActivation(span_objs, disc_objs)
        cond_dim = self.sampler.cond_dim
        self.generator = Generator(embedding_dim + cond_dim, generator_dims or [256, 256],
                                   self.data_dim)
        # Exponential moving average of the generator's weights (and BatchNorm statistics),
        # updated on the device after every generator step; sampling uses it when enabled.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.critic = Critic(self.data_dim + cond_dim, discriminator_dims or [256, 256], pac)
        # train.target_loss: an auxiliary classifier of the target's one-hot span (CTAB-GAN's
        # classification loss), trained on real rows with its own optimiser
        self.classifier = (TargetClassifier(self.data_dim, *target_span,
                                            discriminator_dims or [256, 256])
                           if target_span and target_weight > 0 else None)
        # The training matrix is never part of the state_dict (checkpoints carry no data).
        self.register_buffer("data", torch.zeros(0, self.data_dim), persistent=False)
        # Marginal calibration (`calibration.py`), fitted by `calibrate` after training and
        # saved with the weights: logit offsets for one-hot columns, and per scalar column the
        # generator's and the real matrix's quantiles. Identity until fitted.
        n_scalar = int(self.activation.scalar_idx.numel())
        self.register_buffer("cal_bias", torch.zeros(self.data_dim))
        self.register_buffer("cal_gen", torch.zeros(n_scalar, calibration_knots))
        self.register_buffer("cal_real", torch.zeros(n_scalar, calibration_knots))
        self.register_buffer("cal_on", torch.zeros((), dtype=torch.bool))
        # Density-ratio refinement of generated rows (`refine.py`), fitted by `refine` after
        # calibration; off until fitted.
        self.refiner = Refiner()
        # The refiner moves marginals: a second scalar map (refined rows' quantiles -> real)
        # applied after it, fitted with the one-hot offsets by `refine`.
        self.register_buffer("ref_gen", torch.zeros(n_scalar, calibration_knots))
        self.register_buffer("ref_on", torch.zeros((), dtype=torch.bool))
        # Density-ratio refinement of decoded rows (`row_refine.py`), fitted by the train
        # stage after `refine` and applied by `generate.iter_chunks`; off until fitted.
        self.row_refiner = RowRefiner()
        # Keys of the unique training rows, whose verbatim copies generation redraws
        # (`copy_guard.py`), fitted by the train stage; off until fitted.
        self.copy_guard = CopyGuard()
        self._compiled: dict[str, Any] = {}
        self.dp = None  # train.privacy: a pipeline.models.dp.DPCritic runs the critic updates

    # ----------------------------------------------------------------- data
    def set_training_data(self, matrix: Tensor | np.ndarray) -> None:
        """Attach the transformed training matrix (float32) and build the sampler's tables."""
        data = torch.as_tensor(matrix, dtype=torch.float32)
        self.data = data.to(self.data.device)
        self.sampler.fit(self.data)

    def train_dataloader(self) -> DataLoader:
        """Items are step counts: each Lightning batch runs up to STEPS_PER_BATCH GAN steps, so
        Lightning's per-batch loop (hooks, fetch, progress) is paid once per group of steps.

        An epoch is `ceil(rows / batch_size)` steps, split over DDP ranks as before (each rank
        does `ceil(steps / world_size)`). The items are laid out rank-interleaved, so
        Lightning's DistributedSampler (no shuffle) hands every rank the same group sizes.
        """
        steps = self.hparams.steps_per_epoch or max(
            1, math.ceil(self.data.shape[0] / self.hparams.batch_size))
        trainer = self._trainer
        world = trainer.world_size if trainer is not None else 1
        per_rank = math.ceil(steps / world)
        k = self.STEPS_PER_BATCH
        groups = [min(k, per_rank - start) for start in range(0, per_rank, k)]
        items = [size for size in groups for _ in range(world)]
        # Its own generator: creating the iterator must not draw from the global RNG.
        return DataLoader(items, batch_size=None, generator=torch.Generator())

    # ----------------------------------------------------------------- model
    def configure_optimizers(self):
        h = self.hparams
        betas = tuple(h.betas or (0.5, 0.9))
        # Fused Adam on CUDA: one kernel per step instead of one per parameter group op
        # (steps are launch-bound at CTGAN's sizes).
        # Fused Adam on CPU too (3x faster per step than foreach at these sizes, measured).
        fused = {"fused": True} if self.device.type in ("cuda", "cpu") else {}
        g_opt = torch.optim.Adam(self.generator.parameters(), lr=h.generator_lr, betas=betas,
                                 weight_decay=h.generator_decay, **fused)
        d_opt = torch.optim.Adam(self.critic.parameters(), lr=h.discriminator_lr, betas=betas,
                                 weight_decay=h.discriminator_decay, **fused)
        if self.classifier is None:
            return [g_opt, d_opt]
        c_opt = torch.optim.Adam(self.classifier.parameters(), lr=h.discriminator_lr,
                                 betas=betas, weight_decay=h.discriminator_decay, **fused)
        return [g_opt, d_opt, c_opt]

    def configure_model(self) -> None:
        if self.hparams.compile and "g" not in self._compiled:
            # Compile the generator only: the critic needs double backward (gradient
            # penalty), which aot_autograd does not support.
            self._compiled["g"] = torch.compile(self.generator)

    def _generate(self, cond: Tensor, generator: torch.Generator | None = None
                  ) -> tuple[Tensor, Tensor]:
        noise = torch.randn(cond.shape[0], self.hparams.embedding_dim, device=cond.device,
                            generator=generator)
        g = self._compiled.get("g", self.generator)
        return self.activation(g(torch.cat([noise, cond], 1)), generator=generator)

    def on_train_epoch_start(self) -> None:
        # Per-(seed, epoch, rank) reseed: DDP ranks draw different batches, and resuming at an
        # epoch boundary replays exactly the draws an uninterrupted run would have made.
        seed = (self.hparams.seed * 1_000_003 + self.current_epoch * 7919
                + self.global_rank * 104_729) % (2 ** 63)
        torch.manual_seed(seed)

    def training_step(self, batch: Tensor | int, batch_idx: int) -> None:
        """`batch` is the number of GAN steps to run (see `train_dataloader`)."""
        steps = int(batch)
        sums = None
        for _ in range(steps):
            step = self._gan_step()
            sums = step if sums is None else sums + step
        # Epoch sums accumulated on the device (no host sync); logged once per epoch in
        # on_train_epoch_end (the only sync point, and the DDP reduction).
        self._epoch_sums = sums if batch_idx == 0 else self._epoch_sums + sums
        self._epoch_steps = (0 if batch_idx == 0 else self._epoch_steps) + steps

    def _gan_step(self) -> Tensor:
        """`critic_steps` critic updates + one generator update; the detached step metrics."""
        g_opt, d_opt, *c_opt = self.optimizers()
        h, n = self.hparams, self.hparams.batch_size
        for _ in range(h.critic_steps):
            if self.dp is not None:
                loss_d, penalty, critic_real, critic_fake = self.dp.critic_step(self, d_opt)
                continue
            cond, _, _, rows = self.sampler.sample_train_multi(n, self.data, h.cond_anyway)
            real = torch.cat([self.data[rows], cond], 1)
            with torch.no_grad():
                fake = torch.cat([self._generate(cond)[0], cond], 1)
            with self.toggled_optimizer(d_opt):
                # Real and fake rows through the critic in one pass (pac groups never mix:
                # n is a multiple of pac); dropout masks are drawn per row either way.
                scores = self.critic(torch.cat([real, fake], 0))
                critic_real, critic_fake = scores[: n // h.pac].mean(), scores[n // h.pac:].mean()
                penalty = gradient_penalty(self.critic, real, fake, h.pac)
                loss_d = critic_fake - critic_real + h.gp_weight * penalty
                d_opt.zero_grad(set_to_none=True)
                self.manual_backward(loss_d)  # one backward for the Wasserstein loss + penalty
                d_opt.step()
        cond, mask, categories, rows = self.sampler.sample_train_multi(n, self.data,
                                                                       h.cond_anyway)
        if c_opt:  # the classifier's update on real rows
            with self.toggled_optimizer(c_opt[0]):
                loss_c = self.classifier.loss(self.data[rows])
                c_opt[0].zero_grad(set_to_none=True)
                self.manual_backward(loss_c)
                c_opt[0].step()
        with self.toggled_optimizer(g_opt):
            fake, logits = self._generate(cond)
            adversarial = -self.critic(torch.cat([fake, cond], 1)).mean()
            cross = (self.activation.cond_loss_multi(logits, mask, categories)
                     if self.sampler.n_discrete else adversarial.new_zeros(()))
            # a generated target the classifier (fitted on real rows) would not give the
            # generated row's other columns costs the generator; gradients reach both
            agree = (self.classifier.loss(fake) if c_opt else adversarial.new_zeros(()))
            loss_g = adversarial + cross + h.target_weight * agree
            g_opt.zero_grad(set_to_none=True)
            self.manual_backward(loss_g)
            g_opt.step()
        if h.ema_decay > 0:
            self._update_ema(h.ema_decay)
        return torch.stack([loss_g, loss_d, penalty, critic_real, critic_fake, cross,
                            agree]).detach()

    @torch.no_grad()
    def _update_ema(self, decay: float) -> None:
        ema = list(self.generator_ema.parameters())
        torch._foreach_lerp_(ema, list(self.generator.parameters()), 1.0 - decay)
        for e, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            e.copy_(b)  # BatchNorm running statistics: the live ones (already averages)

    def on_train_start(self) -> None:
        if self.hparams.ema_decay > 0 and self.global_step == 0:
            self.generator_ema.load_state_dict(self.generator.state_dict())

    @property
    def sampling_generator(self) -> Generator:
        """The generator that `sample` uses: the weight average when EMA is on."""
        return self.generator_ema if self.hparams.ema_decay > 0 else self.generator

    def on_train_epoch_end(self) -> None:
        if getattr(self, "_epoch_steps", 0):
            means = self._epoch_sums / self._epoch_steps
            self.log_dict(dict(zip(METRICS, means.unbind())), on_step=False, on_epoch=True,
                          sync_dist=True)
            self._epoch_steps = 0

    # ----------------------------------------------------------------- checkpoint
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Weights_only-safe RNG snapshot (tensors and ints only), restored on resume.
        np_state = np.random.get_state()
        checkpoint["rng"] = {
            "torch": torch.get_rng_state(),
            "numpy": torch.as_tensor(np_state[1].astype(np.int64)),
            "numpy_pos": int(np_state[2]),
            "python": torch.as_tensor(random.getstate()[1], dtype=torch.int64),
        }
        if torch.cuda.is_available():
            checkpoint["rng"]["cuda"] = torch.cuda.get_rng_state_all()
        extra = getattr(self, "synth_meta", None)
        if extra is not None:
            checkpoint["synth"] = extra

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rng = checkpoint.get("rng")
        if not rng:
            return
        torch.set_rng_state(rng["torch"])
        np.random.set_state(("MT19937", rng["numpy"].numpy().astype(np.uint32),
                             rng["numpy_pos"], 0, 0.0))
        random.setstate((3, tuple(int(v) for v in rng["python"].tolist()), None))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    # ----------------------------------------------------------------- sampling
    @torch.inference_mode()
    def sample(self, n: int,
               cond_index: tuple[int, int] | list[tuple[int, int]] | None = None,
               generator: torch.Generator | None = None, batch: int | None = None,
               bf16: bool | None = None, noise: Tensor | None = None,
               cond: Tensor | None = None) -> Tensor:
        """`n` rows in transformed space, optionally all conditioned on a (discrete column,
        category) pair or a list of them (several columns at once: any-way conditioning,
        `train.cond_anyway`); kept by the density-ratio refiner once it is fitted
        (`refine.py`). `noise` / `cond` (n rows each) replace the drawn latent points /
        condition vectors (latent paths, `pipeline/tabular_latent.py`): such rows are never
        refined, since a latent path is one row per given point."""
        def draw(m: int) -> Tensor:
            return self._draw(m, cond_index, generator, batch, bf16, noise, cond)

        if not bool(self.refiner.on) or noise is not None or cond is not None:
            return draw(n)
        rows = refined_sample(self.refiner, draw, n, generator)
        if bool(self.ref_on):
            idx = self.activation.scalar_idx
            rows[:, idx] = remap(rows[:, idx], self.ref_gen, self.cal_real)
        return rows

    @torch.inference_mode()
    def _draw(self, n: int,
              cond_index: tuple[int, int] | list[tuple[int, int]] | None = None,
              generator: torch.Generator | None = None, batch: int | None = None,
              bf16: bool | None = None, noise: Tensor | None = None,
              cond: Tensor | None = None) -> Tensor:
        """`n` rows straight from the generator (calibrated, not refined). The generation
        batch is independent of training's: by default 8192 rows on CPU (the activations stay
        in cache; measured faster than 50k) and 65536 elsewhere.

        Inference path: BatchNorm (running stats) folded into the Linears, one-hot spans
        emitted as exact one-hots of argmax(logits + Gumbel) (the category a Gumbel-softmax
        draw would decode to) and no softmax, no autograd. The module's training state and
        BatchNorm statistics are left alone. `bf16` runs the hidden layers and the one-hot
        logits in bfloat16 (scalar outputs stay float32); default: on a CPU with native bf16
        dot products (AVX512-BF16/AMX), where `sample` is ~1.6x faster (the bare forward
        ~3.6x); never on other devices. `noise` / `cond` (n rows each) replace the drawn
        latent points / condition vectors (latent paths, `pipeline/tabular_latent.py`).
        """
        if bf16 is None:
            bf16 = self.device.type == "cpu" and _cpu_has_bf16()
        if batch is None:
            batch = 8192 if self.device.type == "cpu" else 65536
        dtype = torch.bfloat16 if bf16 else torch.float32
        net = self.sampling_generator
        hidden, (w_out, b_out) = net.inference_weights(dtype)
        b_out = b_out + self.cal_bias  # calibrated category rates (zero until calibrated)
        remap_scalars = bool(self.cal_on) and self.cal_gen.shape[0] > 0
        # bf16: the one-hot logits come from a bf16 matmul (only their argmax after Gumbel
        # noise is used); the scalar columns from a float32 one, so continuous values are not
        # rounded to bf16's 8-bit mantissa.
        act = self.activation
        hot_cols = act.onehot_cols
        if bf16 and len(hot_cols):
            w_hot, b_hot = w_out[hot_cols].to(dtype), b_out[hot_cols].to(dtype)
            w_sc, b_sc = w_out[act.scalar_idx], b_out[act.scalar_idx]
        pairs = [cond_index] if isinstance(cond_index, tuple) else list(cond_index or [])
        out = []
        for start in range(0, n, batch):
            size = min(batch, n - start)
            if cond is not None:
                c = cond[start:start + size].to(self.device)
            else:
                c = (self.sampler.fixed_many(size, pairs) if pairs
                     else self.sampler.sample_original(size, generator))
            z = (noise[start:start + size].to(c.device) if noise is not None else
                 torch.randn(size, self.hparams.embedding_dim, device=c.device,
                             generator=generator))
            h = net.inference_hidden(torch.cat([z, c], 1), hidden)
            if bf16 and len(hot_cols):
                raw = torch.empty(size, self.data_dim, device=h.device)
                raw[:, hot_cols] = torch.addmm(b_hot, h, w_hot.t()).float()
                raw[:, act.scalar_idx] = torch.addmm(b_sc, h.float(), w_sc.t())
            else:
                raw = torch.addmm(b_out, h.float(), w_out.t())
            rows = act.sample_hard(raw, generator)
            if remap_scalars:
                rows[:, act.scalar_idx] = remap(rows[:, act.scalar_idx], self.cal_gen,
                                                self.cal_real)
            out.append(rows)
        return torch.cat(out, 0) if out else torch.zeros(0, self.data_dim, device=self.device)

    @torch.inference_mode()
    def calibrate(self, rows: int = 20000, seed: int = 0) -> None:
        """Fit the marginal calibration on the attached training matrix (`calibration.py`):
        one-hot logit offsets over 3 rounds of `rows` samples, then scalar quantile maps."""
        if self.data.shape[0] == 0:
            raise RuntimeError("calibrate needs the training matrix (set_training_data)")
        gen = torch.Generator(device=self.device).manual_seed(int(seed))
        real = self.data
        pick = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(int(seed)))
        real = real[pick[:rows].to(real.device)]
        self.cal_on.fill_(False)
        self.cal_bias.zero_()
        self.sampler.gen_bias.zero_()
        act = self.activation

        def rates(offsets: Tensor) -> Tensor:
            self.cal_bias.copy_(offsets)
            return self.sample(rows, generator=gen).mean(0)

        if len(act.onehot_cols):
            self.cal_bias.copy_(onehot_offsets(real.mean(0), rates, act.onehot_cols,
                                               self.data_dim))
        if act.scalar_idx.numel():
            k = self.cal_gen.shape[1]
            self.cal_gen.copy_(quantile_knots(self.sample(rows, generator=gen)[:, act.scalar_idx],
                                              k))
            self.cal_real.copy_(quantile_knots(real[:, act.scalar_idx], k))
            self.cal_on.fill_(True)

    def refine(self, seed: int = 0, max_draws: float = 8.0,
               ties: list[dict] | None = None, deadline: float | None = None) -> None:
        """Fit the density-ratio refiner on the attached training matrix against calibrated
        generated rows (`refine.py`), seeing scalars as the values they decode to (`ties`:
        `TableTransformer.tie_tables`), adding no trees after `deadline`
        (`time.perf_counter()` seconds); sampling keeps rows by it afterwards."""
        if self.data.shape[0] == 0:
            raise RuntimeError("refine needs the training matrix (set_training_data)")
        gen = torch.Generator(device=self.device).manual_seed(int(seed) + 1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) + 2)  # dropout and init draws, not the global stream
            self.refiner.fit(self.data, lambda m: self._draw(m, generator=gen), seed,
                             max_draws, ties, deadline)
        if bool(self.refiner.on) and bool(self.cal_on):
            self._calibrate_refined(seed)

    @torch.inference_mode()
    def _calibrate_refined(self, seed: int, rows: int = 20000) -> None:
        """Marginals through the refiner: the one-hot offsets re-fitted on refined rows
        (starting from the calibrated ones) together with the generation condition rates
        (`sampler.gen_bias`: a row conditioned on a category keeps it whatever the offsets,
        and the refiner keeps some categories' rows more often; txhousing `city`, the only
        discrete column, came out at TV 0.12 from the real rates without it), then a scalar
        map from the refined rows' quantiles to the real ones, applied after refinement
        (`ref_gen` -> `cal_real`)."""
        gen = torch.Generator(device=self.device).manual_seed(int(seed) + 3)
        pick = torch.randperm(self.data.shape[0], generator=torch.Generator().manual_seed(
            int(seed)))
        real = self.data[pick[:rows].to(self.data.device)]
        act = self.activation
        self.ref_on.fill_(False)
        sampler = self.sampler
        sampler.gen_bias.zero_()

        def rates(offsets: Tensor) -> Tensor:
            self.cal_bias.copy_(offsets)
            return self.sample(rows, generator=gen).mean(0)

        def move_conditions(step: Tensor) -> None:
            if sampler.n_discrete:
                sampler.gen_bias.add_(sampler.span_values(step))

        if len(act.onehot_cols):
            self.cal_bias.copy_(onehot_offsets(real.mean(0), rates, act.onehot_cols,
                                               self.data_dim, rounds=4, start=self.cal_bias,
                                               on_step=move_conditions))
        if act.scalar_idx.numel():
            self.ref_gen.copy_(quantile_knots(self.sample(rows, generator=gen)[:, act.scalar_idx],
                                              self.ref_gen.shape[1]))
            self.ref_on.fill_(True)


def _cpu_has_bf16() -> bool:
    """Native bf16 matmuls on this CPU (oneDNN's AVX512-BF16 / AMX paths)."""
    check = getattr(torch.backends.mkldnn, "is_available", lambda: False)
    if not check():
        return False
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((probe and probe()) or (amx and amx()))
