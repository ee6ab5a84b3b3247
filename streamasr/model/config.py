"""The acoustic model's shape: a frozen dataclass that travels inside the artifact."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from streamasr.vocab import VOCAB_SIZE

FRONTENDS = ("none", "conv", "conv_pool", "conv2d", "vae")
CELLS = ("lstm", "gru", "rnn")


@dataclass(frozen=True)
class ModelConfig:
    input_dim: int = 80  # values per feature frame (FeatureConfig.dim)
    # How time is subsampled before the recurrent stack: "none" stacks frames_per_step
    # frames into one vector; "conv" strided causal 1-D convolutions; "conv_pool" stride-1
    # causal 1-D convolutions each followed by max-pooling; "conv2d" causal 2-D
    # convolutions over time x frequency (stride 2 in frequency too), then a projection;
    # "vae" stacks each step's frames and projects them (dense + GELU, conv_channels wide):
    # the first layer of train/vae.py's encoder, which can initialise it.
    frontend: str = "conv"
    conv_channels: int = 256  # width of the convolutional front end (its output for conv2d)
    conv2d_channels: int = 32  # channels of the 2-D convolutions (frontend="conv2d")
    conv_kernel: int = 3  # taps of each causal convolution
    subsampling: tuple[int, ...] = (2, 2)  # stride of each subsampling convolution
    residual_blocks: int = (
        1  # stride-1 causal conv blocks with a skip connection, after subsampling
    )
    cell: str = "lstm"  # recurrent cell: "lstm", "gru" or "rnn" (Elman, tanh)
    rnn_layers: int = 3  # stacked unidirectional recurrent layers
    rnn_hidden: int = 256  # units per recurrent layer
    dropout: float = 0.1  # between recurrent layers, training only
    vocab_size: int = VOCAB_SIZE  # CTC blank + characters

    def __post_init__(self) -> None:
        for name in ("input_dim", "conv_channels", "rnn_layers", "rnn_hidden", "vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if any(s < 1 for s in self.subsampling):
            raise ValueError(f"subsampling strides must be positive, got {self.subsampling}")
        if self.frontend in ("conv", "conv2d") and any(
            self.conv_kernel < s for s in self.subsampling
        ):
            raise ValueError(
                f"conv_kernel {self.conv_kernel} must be at least every stride {self.subsampling}"
            )
        if self.residual_blocks < 0:
            raise ValueError(f"residual_blocks must be >= 0, got {self.residual_blocks}")
        if self.cell not in CELLS:
            raise ValueError(f"unknown recurrent cell {self.cell!r}; known: {', '.join(CELLS)}")
        if self.frontend not in FRONTENDS:
            raise ValueError(f"unknown front end {self.frontend!r}; known: {', '.join(FRONTENDS)}")
        if self.conv2d_channels < 1:
            raise ValueError(f"conv2d_channels must be positive, got {self.conv2d_channels}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def frames_per_step(self) -> int:
        """Input frames consumed per output frame: the total time subsampling."""
        total = 1
        for s in self.subsampling:
            total *= s
        return total

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["subsampling"] = list(self.subsampling)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(ModelConfig)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        d = dict(d)
        if "subsampling" in d:
            d["subsampling"] = tuple(d["subsampling"])
        return ModelConfig(**d)
