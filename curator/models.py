"""Model registry: ``build_model(name, sample_shape, num_classes)``.

A builder takes the shape of one input sample and the class count and returns an
``nn.Module`` mapping a batch to logits. Image models take (C, H, W); ``cnn`` also takes 1-D
signals (C, L) or vectors (D,).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from curator.errors import ModelError
from curator.plugins import is_import_path, resolve
from curator.registry import Registry

Builder = Callable[[tuple[int, ...], int], nn.Module]
MODELS: Registry[Builder] = Registry("model", error=ModelError)
ProbeFinder = Callable[[nn.Module], list[nn.Module]]


def build_model(name: str, sample_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Build the registered model ``name`` for inputs of ``sample_shape`` and ``num_classes``."""
    if num_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, but the data have {num_classes}")
    if name not in MODELS and is_import_path(name):  # your own: package.module:function
        model = resolve(name, "model")(tuple(sample_shape), num_classes)
        if not isinstance(model, nn.Module):
            raise ModelError(f"model {name!r} returned {type(model).__name__}, not an "
                             "nn.Module", param="model")
        return model
    return MODELS.get(name)(tuple(sample_shape), num_classes)


def list_models() -> list[str]:
    return MODELS.names()


def probe_layers(name: str, model: nn.Module) -> list[nn.Module]:
    """The modules after which prediction depth places a k-NN probe, input to output order
    (the input and the softmax are probes of their own, added by curator.depth). A model
    of your own is probed after each ReLU, or else each convolution and linear layer."""
    if name not in MODELS and is_import_path(name):
        return (_of_type(nn.ReLU)(model)
                or _of_type((nn.Conv1d, nn.Conv2d, nn.Linear))(model)[:-1])
    return MODELS.entry(name).meta["probes"](model)


def _of_type(kind: type[nn.Module] | tuple[type[nn.Module], ...]) -> ProbeFinder:
    return lambda model: [m for m in model.modules() if isinstance(m, kind)]


def _need_image(name: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ModelError(f"model {name!r} needs image inputs (C, H, W), but samples have shape "
                         f"{shape}", hint="use --model mlp or cnn for vectors and signals")
    c, h, w = shape
    return c, h, w


# --------------------------------------------------------------------------------------
# Small models
# --------------------------------------------------------------------------------------


@MODELS.register("mlp", probes=_of_type(nn.ReLU))
def mlp(shape: tuple[int, ...], num_classes: int, width: int = 256, depth: int = 2) -> nn.Module:
    """Flatten, then ``depth`` hidden layers of ``width`` ReLU units."""
    dims = 1
    for s in shape:
        dims *= s
    layers: list[nn.Module] = [nn.Flatten()]
    for _ in range(depth):
        layers += [nn.Linear(dims, width), nn.ReLU(inplace=True)]
        dims = width
    layers.append(nn.Linear(dims, num_classes))
    return nn.Sequential(*layers)


class _AddChannel(nn.Module):
    """(B, D) vectors -> (B, 1, D) single-channel signals."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1)


def _cnn_probes(model: nn.Module) -> list[nn.Module]:
    """After each conv block and after global pooling."""
    return [m for m in model if isinstance(m, nn.Sequential | nn.AdaptiveAvgPool1d
                                           | nn.AdaptiveAvgPool2d)]


@MODELS.register("cnn", probes=_cnn_probes)
def cnn(shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Three conv-BN-ReLU blocks (32, 64, 128 channels), a max-pool after the second, global
    average pooling and a linear head. 2-D for images (C, H, W); 1-D for signals (C, L) and
    vectors (D,)."""
    if len(shape) not in (1, 2, 3):
        raise ModelError(f"model 'cnn' needs samples of shape (D,), (C, L) or (C, H, W), "
                         f"but got {shape}")
    two_d = len(shape) == 3
    conv, bn = (nn.Conv2d, nn.BatchNorm2d) if two_d else (nn.Conv1d, nn.BatchNorm1d)
    channels = 1 if len(shape) == 1 else shape[0]

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(conv(cin, cout, 3, padding=1, bias=False), bn(cout),
                             nn.ReLU(inplace=True))

    layers: list[nn.Module] = [_AddChannel()] if len(shape) == 1 else []
    layers += [block(channels, 32), block(32, 64),
               nn.MaxPool2d(2) if two_d else nn.MaxPool1d(2), block(64, 128),
               nn.AdaptiveAvgPool2d(1) if two_d else nn.AdaptiveAvgPool1d(1),
               nn.Flatten(), nn.Linear(128, num_classes)]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------
# ResNet-20: the CIFAR ResNet of He et al. (2016), section 4.2, as used by seed 001
# --------------------------------------------------------------------------------------


class _ShortcutA(nn.Module):
    """Option A: identity with stride-2 subsampling and zero-padded extra channels."""

    def __init__(self, extra: int) -> None:
        super().__init__()
        self.extra = extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::2, ::2]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = (_ShortcutA(cout - cin) if stride != 1 or cin != cout
                                    else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class CifarResNet(nn.Module):
    """6n+2 layers: a 3x3 stem of 16 channels, three stages of n blocks (16, 32, 64 channels,
    strides 1, 2, 2), global average pooling and a linear head."""

    def __init__(self, in_channels: int, num_classes: int, n: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        stages, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(cin, cout, stride if b == 0 else 1))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def _resnet20_probes(model: nn.Module) -> list[nn.Module]:
    """After the stem, each residual block and global pooling (the 64-d features)."""
    assert isinstance(model, CifarResNet)
    blocks = [m for m in model.stages.modules() if isinstance(m, BasicBlock)]
    return [model.stem, *blocks, model.head[1]]


@MODELS.register("resnet20", probes=_resnet20_probes)
def resnet20(shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """ResNet-20 for CIFAR (He et al. 2016, option-A shortcuts), 0.27 M parameters."""
    c, _, _ = _need_image("resnet20", shape)
    return CifarResNet(c, num_classes, n=3)


# --------------------------------------------------------------------------------------
# torchvision architectures, adapted to small inputs, any channel count and class count
# --------------------------------------------------------------------------------------


def _replace_conv(conv: nn.Conv2d, *, in_channels: int | None = None, kernel: int | None = None,
                  stride: int | None = None) -> nn.Conv2d:
    k = kernel or conv.kernel_size[0]
    return nn.Conv2d(in_channels or conv.in_channels, conv.out_channels, k,
                     stride or conv.stride[0], k // 2, bias=conv.bias is not None)


def _torchvision_resnet_probes(model: nn.Module) -> list[nn.Module]:
    """After the stem (its ReLU), each residual block and global pooling."""
    blocks = [b for layer in (model.layer1, model.layer2, model.layer3, model.layer4)
              for b in layer]
    return [model.relu, *blocks, model.avgpool]


@MODELS.register("resnet18", probes=_torchvision_resnet_probes)
def resnet18(shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """torchvision's ResNet-18; below 64 px the stem is the CIFAR one (3x3 stride 1, no
    max-pool), as in the standard CIFAR ResNet-18."""
    from torchvision.models import resnet18 as tv_resnet18

    c, h, w = _need_image("resnet18", shape)
    model = tv_resnet18(num_classes=num_classes)
    if min(h, w) < 64:
        model.conv1 = _replace_conv(model.conv1, in_channels=c, kernel=3, stride=1)
        model.maxpool = nn.Identity()
    elif c != 3:
        model.conv1 = _replace_conv(model.conv1, in_channels=c)
    return model


def _vgg_probes(model: nn.Module) -> list[nn.Module]:
    """After each convolution's ReLU and global pooling."""
    return [m for m in model.features if isinstance(m, nn.ReLU)] + [model.avgpool]


@MODELS.register("vgg16", probes=_vgg_probes)
def vgg16(shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """torchvision's VGG-16 with batch norm, CIFAR style: a max-pool is kept only while the
    feature map is at least 2 px, then global average pooling and one linear layer (512 -> C)."""
    from torchvision.models import vgg16_bn

    c, h, w = _need_image("vgg16", shape)
    model = vgg16_bn(num_classes=num_classes)
    layers, size = [], min(h, w)
    for layer in model.features:
        if isinstance(layer, nn.MaxPool2d):
            if size < 2:
                continue
            size //= 2
        layers.append(layer)
    if c != 3:
        layers[0] = _replace_conv(layers[0], in_channels=c)
    model.features = nn.Sequential(*layers)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = nn.Linear(512, num_classes)
    return model


def _mobilenet_probes(model: nn.Module) -> list[nn.Module]:
    """After the stem, each inverted-residual block and the last 1x1 convolution."""
    return list(model.features)


@MODELS.register("mobilenet_v2", probes=_mobilenet_probes)
def mobilenet_v2(shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """torchvision's MobileNetV2; below 64 px the stem has stride 1 (the CIFAR variant)."""
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    c, h, w = _need_image("mobilenet_v2", shape)
    model = tv_mobilenet_v2(num_classes=num_classes)
    stem = model.features[0][0]
    if min(h, w) < 64 or c != 3:
        model.features[0][0] = _replace_conv(stem, in_channels=c,
                                             stride=1 if min(h, w) < 64 else None)
    return model
