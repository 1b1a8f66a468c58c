"""The V2V-PoseNet building blocks, named as in the public PyTorch port so its checkpoints load."""
from __future__ import annotations

from torch import nn


class Basic3DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv3d(cin, cout, kernel, stride=1, padding=(kernel - 1) // 2),
            nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.block(x)


class Res3DBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.res_branch = nn.Sequential(
            nn.Conv3d(cin, cout, 3, padding=1), nn.BatchNorm3d(cout), nn.ReLU(inplace=True),
            nn.Conv3d(cout, cout, 3, padding=1), nn.BatchNorm3d(cout),
        )
        self.skip_con = nn.Sequential() if cin == cout else nn.Sequential(nn.Conv3d(cin, cout, 1), nn.BatchNorm3d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.res_branch(x) + self.skip_con(x))


class Pool3DBlock(nn.Module):
    def __init__(self, size: int = 2):
        super().__init__()
        self.pool = nn.MaxPool3d(size, stride=size)

    def forward(self, x):
        return self.pool(x)


class Upsample3DBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ConvTranspose3d(cin, cout, 2, stride=2), nn.BatchNorm3d(cout), nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.block(x)


class Res2DBlock(nn.Module):
    """2D residual block used by the lite network (depth bins travel as channels)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.res_branch = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        )
        self.skip_con = nn.Sequential() if cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.res_branch(x) + self.skip_con(x))
