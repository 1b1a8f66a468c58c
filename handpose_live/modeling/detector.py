"""The hand detector: a small 2D CNN on the strided depth image that marks where palms are.

Input [N, 2, h, w]: the depth image taken every `input_stride` pixels (160x120 for 640x480),
as metres clipped to [0, max_depth_m], and its validity mask (1 where the sensor measured).
Output [N, 1, h/4, w/4]: a heatmap of palm centres (logits; CenterNet-style focal loss in
training). Fully convolutional, so any image size whose strided size divides by 4 works, and
about 0.1 GFLOP at 160x120: well under the 2 ms budget on two CPU cores. What counts as a hand
is learned from whole synthetic scenes (`synth/scenes.py`): a palm at the end of an arm, among
people, furniture and hand-sized objects nearer than it; the pose network then verifies each
candidate (`inference/pipeline.py`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DetectorConfig:
    width: int = 32            # channels of the trunk
    input_stride: int = 4      # full-resolution pixels per input pixel
    output_stride: int = 4     # input pixels per heatmap cell
    max_depth_m: float = 3.0   # depth clipped here before it enters the network

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class HandDetectorNet(nn.Module):
    def __init__(self, config: DetectorConfig = DetectorConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Sequential(_conv(2, w // 2, 2), _conv(w // 2, w, 2))           # /4
        self.context = nn.Sequential(_conv(w, w), _conv(w, w, dilation=2), _conv(w, w, dilation=4),
                                     _conv(w, w, dilation=8), _conv(w, w))           # receptive field ~ 2/3 of 160 px
        self.head = nn.Conv2d(w, 1, 1)
        nn.init.constant_(self.head.bias, -4.0)      # start from "no hand anywhere" (focal-loss prior)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.context(self.stem(x)))


def detector_input(depth_mm: torch.Tensor, config: DetectorConfig, strided: bool = False) -> torch.Tensor:
    """[N, H, W] full-resolution depth in mm (0 = none) -> the network input [N, 2, H/s, W/s]
    (`strided`: the depth is already at the network's resolution, as the training scenes are)."""
    s = 1 if strided else config.input_stride
    small = depth_mm[:, ::s, ::s]
    valid = (small > 0) & torch.isfinite(small)
    metres = torch.where(valid, small / 1000.0, torch.zeros_like(small)).clamp(0.0, config.max_depth_m)
    return torch.stack([metres, valid.to(metres.dtype)], dim=1)
