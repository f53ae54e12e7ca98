"""Building blocks of the conditional tabular GAN: generator, PacGAN critic, span activations,
the conditional cross-entropy and the WGAN-GP gradient penalty.

Written from the papers (Xu et al. 2019; Gulrajani et al. 2017; Lin et al. 2018). Span-wise
operations are single batched ops over index tensors precomputed from the span list, never a
Python loop over columns in the forward pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipeline.tabular.spans import DiscreteColumn, Span


class Residual(nn.Module):
    """Linear + BatchNorm + ReLU whose output is concatenated with its input (CTGAN's G block)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)

    def folded(self) -> tuple[Tensor, Tensor]:
        """(weight, bias) of the Linear with eval-mode BatchNorm folded in (running stats):
        bn(fc(x)) == x @ weight.T + bias."""
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return (self.fc.weight * scale[:, None],
                (self.fc.bias - bn.running_mean) * scale + bn.bias)


class Generator(nn.Module):
    """noise + condition -> residual blocks -> raw (pre-activation) row of the matrix."""

    def __init__(self, in_dim: int, dims: list[int], data_dim: int) -> None:
        super().__init__()
        blocks, width = [], in_dim
        for d in dims:
            blocks.append(Residual(width, d))
            width += d
        self.body = nn.Sequential(*blocks, nn.Linear(width, data_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)

    def inference_weights(self, dtype: torch.dtype = torch.float32
                          ) -> tuple[list[tuple[Tensor, Tensor]], tuple[Tensor, Tensor]]:
        """(hidden, output) for `inference_hidden`: per residual block the Linear's (weight,
        bias) with eval-mode BatchNorm folded in, cast to `dtype`; the output Linear's
        (weight, bias) in float32 (the caller picks the precision per output column)."""
        *blocks, out = self.body
        hidden = [tuple(t.detach().to(dtype) for t in b.folded()) for b in blocks]
        return hidden, (out.weight.detach().float(), out.bias.detach().float())

    @staticmethod
    def inference_hidden(x: Tensor, hidden: list[tuple[Tensor, Tensor]]) -> Tensor:
        """Eval-mode forward up to the output layer: one addmm + ReLU per residual block, in
        the weights' dtype; returns the output layer's input."""
        if hidden:
            x = x.to(hidden[0][0].dtype)
        for w, b in hidden:
            x = torch.cat([torch.addmm(b, x, w.t()).relu_(), x], dim=1)
        return x


class Dropout(nn.Module):
    """Inverted dropout from one uniform draw per element (`rand >= p`), about 4x faster on
    CPU than the Bernoulli kernel of nn.Dropout; identity in eval mode. Same distribution."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class Critic(nn.Module):
    """PacGAN critic: `pac` rows are concatenated into one sample before the MLP."""

    def __init__(self, in_dim: int, dims: list[int], pac: int) -> None:
        super().__init__()
        self.pac = pac
        layers: list[nn.Module] = []
        width = in_dim * pac
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2), Dropout(0.5)]
            width = d
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x.reshape(-1, self.pac * x.shape[1]))


class TargetClassifier(nn.Module):
    """CTAB-GAN's auxiliary classifier: predicts the target's one-hot span from the rest of a
    row (the span `start:start + width` left out), trained on real rows; the generator is
    scored by how well a generated row's target agrees with it (`CTGANModule._gan_step`)."""

    def __init__(self, data_dim: int, start: int, width: int, dims: list[int]) -> None:
        super().__init__()
        self.start, self.width = start, width
        layers: list[nn.Module] = []
        size = data_dim - width
        for d in dims:
            layers += [nn.Linear(size, d), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            size = d
        layers.append(nn.Linear(size, width))
        self.body = nn.Sequential(*layers)

    def split(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """(the row without the target span, the target span)."""
        a, b = self.start, self.start + self.width
        return torch.cat([rows[:, :a], rows[:, b:]], 1), rows[:, a:b]

    def loss(self, rows: Tensor) -> Tensor:
        """Mean cross-entropy of the predicted target against the rows' own (soft) target."""
        features, target = self.split(rows)
        return -(target * torch.log_softmax(self.body(features), 1)).sum(1).mean()


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, pac: int) -> Tensor:
    """WGAN-GP penalty E[(||grad D(x_hat)||_2 - 1)^2] on interpolates, one alpha per pac group.

    The gradient is taken w.r.t. the interpolates (an input), with create_graph=True so the
    penalty backpropagates into the critic: this is what DDP reduces correctly.
    """
    groups = real.shape[0] // pac
    alpha = torch.rand(groups, 1, 1, device=real.device, dtype=real.dtype)
    alpha = alpha.expand(groups, pac, 1).reshape(-1, 1)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = grad.reshape(groups, -1).norm(2, dim=1)
    return ((norm - 1) ** 2).mean()


def gumbel_noise(shape: torch.Size, like: Tensor,
                 generator: torch.Generator | None = None) -> Tensor:
    """Standard Gumbel noise -log(-log U), from `generator` when one is given (on CPU this is
    about 2x faster than -log of exponential_ draws)."""
    u = torch.rand(shape, device=like.device, dtype=like.dtype, generator=generator)
    return u.clamp_min_(torch.finfo(like.dtype).tiny).log_().neg_().log_().neg_()


def _softmax_last(x: Tensor) -> Tensor:
    """Softmax over a short last dim (one-hot spans, ~10 wide): exp / sum with the max
    subtracted (detached: softmax is shift-invariant, so gradients are exact). About 4x faster
    on CPU than torch.softmax's kernel for such narrow rows; -inf padding gives exact zeros."""
    e = (x - x.detach().amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)


class SpanActivation(nn.Module):
    """Output activations for every span at once, plus the conditional cross-entropy.

    Scalar slots get one tanh through an index tensor. One-hot spans are gathered into a padded
    [B, n_onehot, max_width] logit tensor (padding = -inf), so one Gumbel-softmax and one
    cross_entropy serve every span; a final permutation puts the columns back in matrix order.
    """

    def __init__(self, spans: list[Span], discrete: list[DiscreteColumn]) -> None:
        super().__init__()
        scalar = [s.start for s in spans if s.kind == "scalar"]
        onehot = [s for s in spans if s.kind == "onehot"]
        width = max((s.width for s in onehot), default=1)
        gather = torch.zeros(max(len(onehot), 1), width, dtype=torch.long)
        pad = torch.ones_like(gather, dtype=torch.bool)
        for i, s in enumerate(onehot):
            gather[i, :s.width] = torch.arange(s.start, s.end)
            pad[i, :s.width] = False
        valid = (~pad).reshape(-1).nonzero().squeeze(1)
        onehot_cols = gather.reshape(-1)[valid]
        order = torch.cat([torch.as_tensor(scalar, dtype=torch.long), onehot_cols])
        span_of_start = {s.start: i for i, s in enumerate(onehot)}
        self.n_onehot = len(onehot)
        self.register_buffer("scalar_idx", torch.as_tensor(scalar, dtype=torch.long))
        self.register_buffer("gather_idx", gather)
        self.register_buffer("pad_mask", pad)
        self.register_buffer("valid_flat", valid)
        self.register_buffer("inverse_order", torch.argsort(order))
        self.register_buffer("onehot_cols", onehot_cols, persistent=False)
        self.register_buffer("discrete_span", torch.as_tensor(
            [span_of_start[c.span_start] for c in discrete] or [0], dtype=torch.long))

    def padded_logits(self, raw: Tensor) -> Tensor:
        """[B, n_onehot, max_width] logits of every one-hot span, -inf in the padding."""
        # index_select, not advanced indexing: its backward is an index_add, not an
        # accumulating index_put.
        flat = raw.index_select(1, self.gather_idx.reshape(-1))
        return flat.reshape(raw.shape[0], *self.gather_idx.shape).masked_fill(
            self.pad_mask, float("-inf"))

    def forward(self, raw: Tensor, tau: float = 0.2,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(activated matrix, padded logits): tanh on scalars, Gumbel-softmax on one-hot spans."""
        logits = self.padded_logits(raw)
        parts = [torch.tanh(raw.index_select(1, self.scalar_idx))]
        if self.n_onehot:
            noise = gumbel_noise(logits.shape, logits, generator)
            soft = _softmax_last((logits + noise) / tau)
            parts.append(soft.reshape(raw.shape[0], -1).index_select(1, self.valid_flat))
        return torch.cat(parts, 1).index_select(1, self.inverse_order), logits

    def sample_hard(self, raw: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Inference output: tanh on scalars, and for every one-hot span an exact one-hot of
        argmax(logits + Gumbel), i.e. a draw from softmax(logits); the same category that the
        argmax of the Gumbel-softmax in `forward` picks (dividing by tau keeps the argmax),
        without the softmax. Decoding reads one-hot spans by argmax, so it is unchanged."""
        parts = [torch.tanh(raw.index_select(1, self.scalar_idx))]
        if self.n_onehot:
            logits = self.padded_logits(raw)
            pick = (logits + gumbel_noise(logits.shape, logits, generator)).argmax(-1)
            hard = torch.zeros_like(logits).scatter_(-1, pick.unsqueeze(-1), 1.0)
            parts.append(hard.reshape(raw.shape[0], -1).index_select(1, self.valid_flat))
        return torch.cat(parts, 1).index_select(1, self.inverse_order)

    def cond_loss(self, logits: Tensor, column: Tensor, category: Tensor) -> Tensor:
        """Mean cross-entropy between each row's conditioned span and its requested category."""
        rows = torch.arange(logits.shape[0], device=logits.device)
        chosen = logits[rows, self.discrete_span[column]]
        return F.cross_entropy(chosen, category)

    def cond_loss_multi(self, logits: Tensor, mask: Tensor, categories: Tensor) -> Tensor:
        """Any-way conditions: cross-entropy of every conditioned (mask) discrete span against
        its requested category, summed over a row's conditions and averaged over rows (one
        condition per row is `cond_loss`)."""
        chosen = logits.index_select(1, self.discrete_span)  # [B, n_disc, W]
        ce = F.cross_entropy(chosen.reshape(-1, chosen.shape[-1]), categories.reshape(-1),
                             reduction="none").reshape(mask.shape)
        return (ce * mask).sum() / mask.shape[0]
