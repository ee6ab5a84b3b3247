"""Flax modules of the acoustic model, written so that every carry is explicit.

Each module maps ``(carry, inputs) -> (outputs, carry)``; feeding an utterance chunk by
chunk with the carries threaded through gives the same outputs as one pass, because
convolutions are causal (they see only left context, kept in the carry) and the LSTM
is unidirectional.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from streamasr.model.config import ModelConfig


@struct.dataclass
class EncoderState:
    """Everything one batch of streams carries from one chunk to the next."""

    conv_context: tuple[
        jax.Array, ...
    ]  # per conv layer: [B, kernel - stride, C_in] float32 left context
    lstm_h: jax.Array  # [layers, B, hidden] float32 hidden state
    lstm_c: jax.Array  # [layers, B, hidden] float32 cell state


def conv_strides(config: ModelConfig) -> tuple[int, ...]:
    """Stride of every convolution in order: the subsampling ones, then residual blocks."""
    return (*config.subsampling, *([1] * config.residual_blocks))


def init_state(config: ModelConfig, batch: int) -> EncoderState:
    in_dims = [config.input_dim] + [config.conv_channels] * (len(conv_strides(config)) - 1)
    context = tuple(
        jnp.zeros((batch, config.conv_kernel - stride, dim), jnp.float32)
        for stride, dim in zip(conv_strides(config), in_dims, strict=True)
    )
    zeros = jnp.zeros((config.rnn_layers, batch, config.rnn_hidden), jnp.float32)
    return EncoderState(conv_context=context, lstm_h=zeros, lstm_c=zeros)


class CausalConv(nn.Module):
    """A strided 1-D convolution over time whose output t sees only inputs up to the end of
    its stride block. The ``kernel - stride`` frames of left context are the carry."""

    features: int
    kernel: int
    stride: int

    @nn.compact
    def __call__(self, context: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        # x: [B, T, C] with T a multiple of stride; context: [B, kernel - stride, C]
        full = jnp.concatenate([context, x], axis=1)
        y = nn.Conv(self.features, (self.kernel,), strides=(self.stride,), padding="VALID")(full)
        keep = self.kernel - self.stride
        new_context = full[:, full.shape[1] - keep :, :]
        return y, new_context


class LSTMLayer(nn.Module):
    """A unidirectional LSTM. The input projection for all frames is one matmul; only
    ``h @ W_h`` runs inside the scan, which measured faster than flax's LSTMCell here."""

    hidden: int

    @nn.compact
    def __call__(
        self, h: jax.Array, c: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        # x: [B, T, D]; h, c: [B, hidden]
        w_in = self.param("w_in", nn.initializers.lecun_normal(), (x.shape[-1], 4 * self.hidden))
        w_h = self.param("w_h", nn.initializers.orthogonal(), (self.hidden, 4 * self.hidden))
        # Forget-gate bias of 1 keeps early gradients flowing through the cell.
        bias = self.param(
            "bias",
            lambda _, shape: jnp.zeros(shape).at[self.hidden : 2 * self.hidden].set(1.0),
            (4 * self.hidden,),
        )
        projected = jnp.einsum("btd,dg->tbg", x, w_in) + bias  # time-major for the scan

        def cell(
            carry: tuple[jax.Array, jax.Array], gates_in: jax.Array
        ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
            h_prev, c_prev = carry
            gates = gates_in + h_prev @ w_h
            i, f, g, o = jnp.split(gates, 4, axis=-1)
            c_new = jax.nn.sigmoid(f) * c_prev + jax.nn.sigmoid(i) * jnp.tanh(g)
            h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
            return (h_new, c_new), h_new

        steps = projected.shape[0]
        (h, c), ys = jax.lax.scan(cell, (h, c), projected, unroll=min(steps, 8))
        return jnp.swapaxes(ys, 0, 1), h, c


class Encoder(nn.Module):
    """Causal conv front end (subsampling, residual blocks) -> LSTM stack -> character logits."""

    config: ModelConfig

    @nn.compact
    def __call__(
        self, state: EncoderState, frames: jax.Array, *, train: bool = False
    ) -> tuple[jax.Array, EncoderState]:
        """frames: [B, T, input_dim], T a multiple of frames_per_step -> logits [B, T / fps, V]."""
        cfg = self.config
        x = frames
        contexts = []
        strides = conv_strides(cfg)
        for i, stride in enumerate(strides):
            y, ctx = CausalConv(cfg.conv_channels, cfg.conv_kernel, stride, name=f"conv{i}")(
                state.conv_context[i], x
            )
            y = nn.gelu(nn.LayerNorm(name=f"conv{i}_norm")(y))
            # Residual where shapes allow (the stride-1 blocks): lets the front end go deeper.
            x = x + y if stride == 1 and x.shape == y.shape else y
            contexts.append(ctx)
        hs, cs = [], []
        for layer in range(cfg.rnn_layers):
            if layer > 0:
                x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
            x, h, c = LSTMLayer(cfg.rnn_hidden, name=f"lstm{layer}")(
                state.lstm_h[layer], state.lstm_c[layer], x
            )
            hs.append(h)
            cs.append(c)
        logits = nn.Dense(cfg.vocab_size, name="output")(x)
        new_state = EncoderState(
            conv_context=tuple(contexts), lstm_h=jnp.stack(hs), lstm_c=jnp.stack(cs)
        )
        return logits, new_state
