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

    # Per convolution, its left context: [B, kernel - stride, C_in] for 1-D convolutions,
    # [B, kernel - stride, F_in, C_in] for 2-D ones; empty for frontend="none".
    conv_context: tuple[jax.Array, ...]
    lstm_h: jax.Array  # [layers, B, hidden] float32 hidden state (any cell)
    lstm_c: jax.Array  # [layers, B, hidden] float32 cell state (LSTM only; zeros otherwise)


def conv_strides(config: ModelConfig) -> tuple[int, ...]:
    """Stride in time of every convolution in order: the subsampling ones, then residual
    blocks. With frontend="conv_pool" the subsampling convolutions have stride 1 and a
    max-pool of that size follows each."""
    if config.frontend in ("none", "vae"):
        return ()
    return (*config.subsampling, *([1] * config.residual_blocks))


def _context_shapes(config: ModelConfig) -> list[tuple[int, ...]]:
    """Shape (without batch) of every convolution's left-context carry."""
    k = config.conv_kernel
    strides = conv_strides(config)
    if not strides:
        return []
    if config.frontend == "conv2d":
        shapes: list[tuple[int, ...]] = []
        freq, channels = config.input_dim, 1
        for stride in strides:
            shapes.append((k - stride, freq, channels))
            freq = -(-freq // 2) if stride > 1 else freq  # subsampling halves frequency
            channels = config.conv2d_channels
        return shapes
    dims = [config.input_dim] + [config.conv_channels] * (len(strides) - 1)
    if config.frontend == "conv_pool":  # the subsampling convolutions have stride 1
        strides = (*[1] * len(config.subsampling), *strides[len(config.subsampling) :])
    return [(k - s, d) for s, d in zip(strides, dims, strict=True)]


def init_state(config: ModelConfig, batch: int) -> EncoderState:
    context = tuple(jnp.zeros((batch, *shape), jnp.float32) for shape in _context_shapes(config))
    shape = (config.rnn_layers, batch, config.rnn_hidden)
    # Two buffers, not one shared: callers may donate the state to a jitted function.
    return EncoderState(
        conv_context=context,
        lstm_h=jnp.zeros(shape, jnp.float32),
        lstm_c=jnp.zeros(shape, jnp.float32),
    )


class CausalConv(nn.Module):
    """A convolution over time whose output t sees only inputs up to the end of its stride
    block; the ``kernel - stride`` frames of left context are the carry. With
    ``over_frequency`` it is 2-D over (time, frequency): 'SAME' in frequency, with stride 2
    there too when it subsamples time."""

    features: int
    kernel: int
    stride: int
    over_frequency: bool = False

    @nn.compact
    def __call__(self, context: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        # x: [B, T, C] or [B, T, F, C], T a multiple of stride; context: the same with
        # kernel - stride frames
        full = jnp.concatenate([context, x], axis=1)
        if self.over_frequency:
            conv = nn.Conv(
                self.features,
                (self.kernel, 3),
                strides=(self.stride, 2 if self.stride > 1 else 1),
                padding=((0, 0), (1, 1)),
            )
        else:
            conv = nn.Conv(self.features, (self.kernel,), strides=(self.stride,), padding="VALID")
        keep = self.kernel - self.stride
        return conv(full), full[:, full.shape[1] - keep :]


class LSTMLayer(nn.Module):
    """A unidirectional LSTM. The input projection for all frames is one matmul; only
    ``h @ W_h`` runs inside the scan, which measured faster than flax's LSTMCell here.
    The projection transposes to time-major *before* the matmul: XLA:CPU (jax 0.10)
    lowers ``einsum("btd,dg->tbg")`` to a dot 8x slower at streaming batch sizes."""

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
        projected = jnp.swapaxes(x, 0, 1) @ w_in + bias  # time-major for the scan

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


class GRULayer(nn.Module):
    """A unidirectional GRU (the cuDNN/PyTorch variant: the reset gate scales the hidden
    projection). Same carry signature as LSTMLayer; ``c`` passes through unused."""

    hidden: int

    @nn.compact
    def __call__(
        self, h: jax.Array, c: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        w_in = self.param("w_in", nn.initializers.lecun_normal(), (x.shape[-1], 3 * self.hidden))
        w_h = self.param("w_h", nn.initializers.orthogonal(), (self.hidden, 3 * self.hidden))
        bias = self.param("bias", nn.initializers.zeros, (3 * self.hidden,))
        bias_h = self.param("bias_h", nn.initializers.zeros, (3 * self.hidden,))
        projected = jnp.swapaxes(x, 0, 1) @ w_in + bias

        def cell(h_prev: jax.Array, gates_in: jax.Array) -> tuple[jax.Array, jax.Array]:
            recurrent = h_prev @ w_h + bias_h
            x_r, x_z, x_n = jnp.split(gates_in, 3, axis=-1)
            h_r, h_z, h_n = jnp.split(recurrent, 3, axis=-1)
            reset = jax.nn.sigmoid(x_r + h_r)
            update = jax.nn.sigmoid(x_z + h_z)
            candidate = jnp.tanh(x_n + reset * h_n)
            h_new = (1.0 - update) * candidate + update * h_prev
            return h_new, h_new

        steps = projected.shape[0]
        h, ys = jax.lax.scan(cell, h, projected, unroll=min(steps, 8))
        return jnp.swapaxes(ys, 0, 1), h, c


class RNNLayer(nn.Module):
    """A plain (Elman) tanh RNN, for the ablation; same carry signature as LSTMLayer."""

    hidden: int

    @nn.compact
    def __call__(
        self, h: jax.Array, c: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        w_in = self.param("w_in", nn.initializers.lecun_normal(), (x.shape[-1], self.hidden))
        w_h = self.param("w_h", nn.initializers.orthogonal(), (self.hidden, self.hidden))
        bias = self.param("bias", nn.initializers.zeros, (self.hidden,))
        projected = jnp.swapaxes(x, 0, 1) @ w_in + bias

        def cell(h_prev: jax.Array, inputs: jax.Array) -> tuple[jax.Array, jax.Array]:
            h_new = jnp.tanh(inputs + h_prev @ w_h)
            return h_new, h_new

        steps = projected.shape[0]
        h, ys = jax.lax.scan(cell, h, projected, unroll=min(steps, 8))
        return jnp.swapaxes(ys, 0, 1), h, c


RECURRENT_LAYERS: dict[str, type[LSTMLayer] | type[GRULayer] | type[RNNLayer]] = {
    "lstm": LSTMLayer,
    "gru": GRULayer,
    "rnn": RNNLayer,
}


class Encoder(nn.Module):
    """Front end (subsampling in time) -> stack of unidirectional recurrent layers ->
    character logits. The default is causal strided convolutions with a residual block and
    LSTMs; ModelConfig.frontend and .cell choose the alternatives."""

    config: ModelConfig

    @nn.compact
    def __call__(
        self,
        state: EncoderState,
        frames: jax.Array,
        *,
        train: bool = False,
        hidden_layers: int | None = None,
    ) -> tuple[jax.Array, EncoderState]:
        """frames: [B, T, input_dim], T a multiple of frames_per_step -> logits [B, T / fps, V].

        With ``hidden_layers=k`` it stops after the front end and k recurrent layers and
        returns their output [B, T / fps, width] instead (the state is then only partly
        advanced): what autoencoder pretraining trains, under the same parameter names."""
        cfg = self.config
        contexts: list[jax.Array] = []
        if cfg.frontend == "none":
            x = _stack_frames(frames, cfg.frames_per_step)
        elif cfg.frontend == "vae":
            stacked = _stack_frames(frames, cfg.frames_per_step)
            x = nn.gelu(nn.Dense(cfg.conv_channels, name="step_projection")(stacked))
        elif cfg.frontend == "conv2d":
            x, contexts = self._conv2d_frontend(state, frames)
        else:
            x, contexts = self._conv1d_frontend(state, frames)
        hs, cs = [], []
        for layer in range(cfg.rnn_layers):
            if layer == hidden_layers:
                break
            if layer > 0:
                x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
            x, h, c = RECURRENT_LAYERS[cfg.cell](cfg.rnn_hidden, name=f"{cfg.cell}{layer}")(
                state.lstm_h[layer], state.lstm_c[layer], x
            )
            hs.append(h)
            cs.append(c)
        if hidden_layers is not None:
            return x, state
        logits = nn.Dense(cfg.vocab_size, name="output")(x)
        new_state = EncoderState(
            conv_context=tuple(contexts), lstm_h=jnp.stack(hs), lstm_c=jnp.stack(cs)
        )
        return logits, new_state

    def _conv1d_frontend(
        self, state: EncoderState, frames: jax.Array
    ) -> tuple[jax.Array, list[jax.Array]]:
        cfg = self.config
        pool = cfg.frontend == "conv_pool"
        x = frames
        contexts = []
        for i, stride in enumerate(conv_strides(cfg)):
            subsampling = i < len(cfg.subsampling)
            conv_stride = 1 if pool and subsampling else stride
            y, ctx = CausalConv(cfg.conv_channels, cfg.conv_kernel, conv_stride, name=f"conv{i}")(
                state.conv_context[i], x
            )
            y = nn.gelu(nn.LayerNorm(name=f"conv{i}_norm")(y))
            if pool and subsampling and stride > 1:
                # Max over non-overlapping blocks of `stride` frames: each block lies inside
                # one chunk (chunks are whole steps), so pooling needs no carry.
                b, t, c = y.shape
                y = y.reshape(b, t // stride, stride, c).max(axis=2)
            # Residual where shapes allow (the stride-1 blocks): lets the front end go deeper.
            x = x + y if stride == 1 and x.shape == y.shape else y
            contexts.append(ctx)
        return x, contexts

    def _conv2d_frontend(
        self, state: EncoderState, frames: jax.Array
    ) -> tuple[jax.Array, list[jax.Array]]:
        cfg = self.config
        x = frames[..., None]  # [B, T, F, 1]
        contexts = []
        for i, stride in enumerate(conv_strides(cfg)):
            y, ctx = CausalConv(
                cfg.conv2d_channels, cfg.conv_kernel, stride, over_frequency=True, name=f"conv{i}"
            )(state.conv_context[i], x)
            y = nn.gelu(nn.LayerNorm(name=f"conv{i}_norm")(y))
            x = x + y if stride == 1 and x.shape == y.shape else y
            contexts.append(ctx)
        b, t, f, c = x.shape
        x = nn.Dense(cfg.conv_channels, name="conv2d_projection")(x.reshape(b, t, f * c))
        return x, contexts


def _stack_frames(frames: jax.Array, n: int) -> jax.Array:
    """[B, T, D] -> [B, T / n, n * D]: subsampling without a front end."""
    b, t, d = frames.shape
    return frames.reshape(b, t // n, n * d)
