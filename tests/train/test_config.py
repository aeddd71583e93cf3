"""Config loading: YAML, overrides, and loud errors that name the key and the valid choices."""

from pathlib import Path

import pytest

from metagen.errors import ConfigError
from metagen.train.config import RunConfig, config_from_dict, load_config
from tests.conftest import REPO


def test_overrides_and_types():
    cfg = config_from_dict({"meta": {"inner_steps": 2}}, ["meta.inner_lr=0.01", "train.steps=7", "data.channels=null"])
    assert cfg.meta.inner_steps == 2 and cfg.meta.inner_lr == 0.01 and cfg.train.steps == 7
    assert cfg.data.channels is None
    assert isinstance(config_from_dict({}, ["meta.outer_lr=1"]).meta.outer_lr, float)
    assert config_from_dict({}, ["meta.inner_lr=1e-4"]).meta.inner_lr == 1e-4  # YAML reads this as a string


def test_unknown_key_names_key_and_choices():
    with pytest.raises(
        ConfigError, match=r"unknown config key meta\.inner_stepz; valid keys here: algorithm, n_way, k_shot"
    ):
        config_from_dict({}, ["meta.inner_stepz=3"])
    with pytest.raises(ConfigError, match=r"unknown config key trian"):
        config_from_dict({"trian": {}})


def test_bad_values():
    with pytest.raises(
        ConfigError,
        match=r"meta\.algorithm: 'mamal' is not a valid choice; choose one of: reptile, fomaml, maml, metasgd",
    ):
        config_from_dict({}, ["meta.algorithm=mamal"])
    with pytest.raises(ConfigError, match=r"train\.steps: expected an integer"):
        config_from_dict({}, ["train.steps=many"])
    with pytest.raises(ConfigError, match=r"meta\.meta_batch must be at least 1"):
        config_from_dict({}, ["meta.meta_batch=0"])
    with pytest.raises(ConfigError, match="must look like key=value"):
        config_from_dict({}, ["meta.inner_steps"])
    with pytest.raises(ConfigError, match="train.device"):
        config_from_dict({}, ["train.device=tpu"])
    with pytest.raises(ConfigError, match=r"meta\.workers must be 0 or more"):
        config_from_dict({}, ["meta.batching=threads", "meta.workers=-1"])
    with pytest.raises(
        ConfigError, match=r"meta\.batching: 'process' is not a valid choice; choose one of: loop, vmap, threads"
    ):
        config_from_dict({}, ["meta.batching=process"])


def test_yaml_errors(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("meta: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "recipe",
    sorted((REPO / "configs").rglob("*.yaml")) + sorted((REPO / "src/metagen/recipes").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_every_recipe_loads_and_builds(recipe: Path):
    """Every recipe's network, family options and learner build (at the recipe's image geometry;
    restorers take any size)."""
    from metagen.train.experiment import build_experiment, network_spec_for
    from metagen.train.sources import is_restoration

    config = load_config(recipe)
    assert isinstance(config, RunConfig)
    size = None if is_restoration(config) else (config.data.size or 28)
    exp = build_experiment(config, network_spec_for(config, size, config.data.channels or 1, train_classes=10))
    assert exp.learner.model is not None
