"""Every registered model, on images of two sizes and the data it refuses."""

from __future__ import annotations

import pytest
import torch

from curator.errors import ModelError
from curator.models import MODELS, build_model


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_model_maps_images_to_logits(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = build_model(name, shape, 7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


@pytest.mark.parametrize("shape", [(40,), (2, 40)])
def test_vector_and_signal_models(shape: tuple[int, ...]) -> None:
    for name in ("mlp", "cnn"):
        assert build_model(name, shape, 3)(torch.randn(4, *shape)).shape == (4, 3)


@pytest.mark.parametrize("name", ["resnet20", "resnet18", "vgg16", "mobilenet_v2"])
def test_image_models_refuse_vectors(name: str) -> None:
    with pytest.raises(ModelError, match="needs image inputs"):
        build_model(name, (40,), 10)


def test_resnet20_has_the_papers_size() -> None:
    n = sum(p.numel() for p in build_model("resnet20", (3, 32, 32), 10).parameters())
    assert 0.26e6 < n < 0.28e6  # He et al. report 0.27 M


def test_unknown_model_suggests() -> None:
    with pytest.raises(ModelError, match="unknown model 'resnet2'") as info:
        build_model("resnet2", (3, 32, 32), 10)
    assert "resnet20" in (info.value.hint or "")


def test_the_cli_lists_the_registered_models_without_importing_them() -> None:
    from curator.config import MODEL_NAMES
    from curator.models import MODELS

    assert sorted(MODELS.names()) == sorted(MODEL_NAMES)
