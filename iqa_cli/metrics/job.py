"""What a metric's scoring adapter receives: one (N, C, H, W) stack of pairs
with its settings, and a cache that metrics of one family share (the SSIM
map, MS-SSIM's first scale)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..settings import Settings


@dataclass
class ScoreJob:
    x: torch.Tensor  # reference after the colour conversion, (N, C, H, W) stored samples or float64
    y: torch.Tensor  # distorted, same form
    x0: torch.Tensor  # reference before the colour conversion (changed pixels are counted here)
    y0: torch.Tensor
    data_range: float
    wanted: frozenset[str]  # metric names asked for
    settings: Settings  # the metrics read their options here (downsample, block, mix_alpha, ...)
    identical: bool = False  # byte-identical files (N = 1)
    keep_map: bool = False  # the SSIM map is kept for a report
    ignore: torch.Tensor | None = None  # (H, W) bool: pixels that take no part in any number
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])
