"""V2V-PoseNet networks: the paper layout (`v2v-full`) and a CPU real-time variant (`v2v-lite`).

Both map a binary occupancy grid [N, 1, S, S, S] (axes z, y, x) to one heatmap per joint
[N, J, H, H, H] over the same cube: voxel-to-voxel, as in the paper.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import UserError
from .blocks import Basic3DBlock, Pool3DBlock, Res2DBlock, Res3DBlock, Upsample3DBlock


@dataclass(frozen=True)
class V2VConfig:
    arch: str = "v2v-full"     # "v2v-full" (paper) or "v2v-lite" (2D-to-3D hourglass)
    num_joints: int = 21
    input_grid: int = 88       # S: input voxels per axis
    output_grid: int = 44      # H: heatmap voxels per axis
    width: int = 32            # lite: channels of the 2D trunk (full: fixed paper widths)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "v2v-full": V2VConfig("v2v-full", 21, 88, 44, 32),
    "v2v-lite": V2VConfig("v2v-lite", 21, 64, 32, 64),
}


def preset(arch: str, num_joints: int = 21) -> V2VConfig:
    if arch not in PRESETS:
        raise UserError(f"unknown architecture '{arch}' (known: {', '.join(PRESETS)})")
    c = PRESETS[arch]
    return V2VConfig(c.arch, num_joints, c.input_grid, c.output_grid, c.width)


class EncoderDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder_pool1 = Pool3DBlock(2)
        self.encoder_res1 = Res3DBlock(32, 64)
        self.encoder_pool2 = Pool3DBlock(2)
        self.encoder_res2 = Res3DBlock(64, 128)
        self.mid_res = Res3DBlock(128, 128)
        self.decoder_res2 = Res3DBlock(128, 128)
        self.decoder_upsample2 = Upsample3DBlock(128, 64)
        self.decoder_res1 = Res3DBlock(64, 64)
        self.decoder_upsample1 = Upsample3DBlock(64, 32)
        self.skip_res1 = Res3DBlock(32, 32)
        self.skip_res2 = Res3DBlock(64, 64)

    def forward(self, x):
        skip_x1 = self.skip_res1(x)
        x = self.encoder_res1(self.encoder_pool1(x))
        skip_x2 = self.skip_res2(x)
        x = self.encoder_res2(self.encoder_pool2(x))
        x = self.decoder_res2(self.mid_res(x))
        x = self.decoder_upsample2(x) + skip_x2
        x = self.decoder_upsample1(self.decoder_res1(x)) + skip_x1
        return x


class V2VNet(nn.Module):
    """The paper layout, attribute for attribute as in the PyTorch port (3,410,453 params at J=21)."""

    def __init__(self, config: V2VConfig = PRESETS["v2v-full"]):
        super().__init__()
        self.config = config
        self.front_layers = nn.Sequential(
            Basic3DBlock(1, 16, 7), Pool3DBlock(2), Res3DBlock(16, 32), Res3DBlock(32, 32), Res3DBlock(32, 32),
        )
        self.encoder_decoder = EncoderDecoder()
        self.back_layers = nn.Sequential(Res3DBlock(32, 32), Basic3DBlock(32, 32, 1), Basic3DBlock(32, 32, 1))
        self.output_layer = nn.Conv3d(32, config.num_joints, 1)
        _init_weights(self)

    def forward(self, voxels):
        x = self.front_layers(voxels)
        x = self.encoder_decoder(x)
        x = self.back_layers(x)
        return self.output_layer(x)


class V2VLite(nn.Module):
    """Voxel-to-voxel at CPU real-time cost: the depth axis of the grid travels as channels.

    [N,1,S,S,S] -> [N,S,S,S] (z bins as channels) -> stride-2 stem -> 2D hourglass over the
    image plane (3 scales) -> 1x1 conv to J*H channels -> [N,J,H,H,H] heatmaps. 3D structure
    is kept because every z bin is its own input and output channel; 2D convolutions are what
    CPU inference engines run fastest (see docs/architecture.md for the measured trade-off).
    """

    def __init__(self, config: V2VConfig = PRESETS["v2v-lite"]):
        super().__init__()
        if config.input_grid != 2 * config.output_grid:
            raise UserError("v2v-lite needs input_grid == 2 * output_grid")
        self.config = config
        s, w, h = config.input_grid, config.width, config.output_grid
        self.stem = nn.Sequential(
            nn.Conv2d(s, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            Res2DBlock(w, w),
        )
        self.down1 = nn.Sequential(nn.MaxPool2d(2), Res2DBlock(w, w * 2))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), Res2DBlock(w * 2, w * 2), Res2DBlock(w * 2, w * 2))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(w * 2, w * 2, 2, stride=2, bias=False), nn.BatchNorm2d(w * 2),
                                 nn.ReLU(inplace=True))
        self.skip1 = Res2DBlock(w * 2, w * 2)
        self.dec1 = Res2DBlock(w * 2, w)
        self.up1 = nn.Sequential(nn.ConvTranspose2d(w, w, 2, stride=2, bias=False), nn.BatchNorm2d(w),
                                 nn.ReLU(inplace=True))
        self.skip0 = Res2DBlock(w, w)
        self.back = Res2DBlock(w, w)
        self.output_layer = nn.Conv2d(w, config.num_joints * h, 1)
        _init_weights(self)

    def forward(self, voxels):
        n = voxels.shape[0]
        s, h, j = self.config.input_grid, self.config.output_grid, self.config.num_joints
        x0 = self.stem(voxels.reshape(n, s, s, s))
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x = self.up2(x2) + self.skip1(x1)
        x = self.up1(self.dec1(x)) + self.skip0(x0)
        x = self.output_layer(self.back(x))
        return x.reshape(n, j, h, h, h)


def _init_weights(model: nn.Module) -> None:
    """The paper's init: conv weights ~ N(0, 0.001), biases 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)


NETWORKS: dict[str, type[nn.Module]] = {"v2v-full": V2VNet, "v2v-lite": V2VLite}   # arch -> network (PRESETS' keys)


def build_model(config: V2VConfig) -> nn.Module:
    network = NETWORKS.get(config.arch)
    if network is None:
        raise UserError(f"unknown architecture '{config.arch}' (known: {', '.join(PRESETS)})")
    if network is V2VNet and config.input_grid != 2 * config.output_grid:
        raise UserError("v2v-full needs input_grid == 2 * output_grid")
    return network(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, config: V2VConfig) -> int:
    """Multiply-accumulates of one forward pass at batch 1 (convolutions only)."""
    macs = 0

    def hook(mod, inp, out):
        nonlocal macs
        w = mod.weight
        if isinstance(mod, (nn.ConvTranspose3d, nn.ConvTranspose2d)):
            macs += inp[0].numel() * w.shape[1] * w[0, 0].numel()
        else:
            macs += out.numel() * w.shape[1] * w[0, 0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d, nn.Conv2d, nn.ConvTranspose2d))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        s = config.input_grid
        model(torch.zeros(1, 1, s, s, s))
    model.train(was_training)
    for h in handles:
        h.remove()
    return macs
