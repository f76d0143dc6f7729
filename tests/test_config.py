from __future__ import annotations

from pathlib import Path

import pytest

from curator.config import TrainConfig, config_from_dict, load_config
from curator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_default_toml_mirrors_the_defaults() -> None:
    assert load_config(ROOT / "configs" / "default.toml") == TrainConfig()


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_config_loads_and_validates(path: Path) -> None:
    load_config(path).validate()


def test_unknown_key_suggests() -> None:
    with pytest.raises(ConfigError, match="unknown key 'epoch'") as info:
        config_from_dict({"epoch": 3})
    assert "epochs" in (info.value.hint or "")


def test_wrong_type() -> None:
    with pytest.raises(ConfigError, match="epochs in config must be an int, but got '3'"):
        config_from_dict({"epochs": "3"})


@pytest.mark.parametrize(("key", "value", "message"), [
    ("epochs", 0, "epochs must be >= 1, but got 0"),
    ("batch_size", -1, "batch_size must be >= 1"),
    ("lr", 0.0, "lr must be > 0"),
    ("label_noise", 1.0, r"label_noise must be in \[0, 1\), but got 1.0"),
    ("probe", "both", "unknown probe 'both'"),
    ("schedule", "linear", "unknown schedule 'linear'"),
])
def test_validation_quotes_the_value(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{key: value}).validate()
