"""MAML's outer loss at every inner step (MAML++'s multi-step loss, with the start included)
against the hand-unrolled reference of tests/meta/test_learners.py, one inner-loop length at a time."""

import pytest
import torch

from metagen.errors import ConfigError
from metagen.meta.inner import InnerLoop, ParamGroup
from metagen.meta.learners import MAML, make_learner
from metagen.train.config import config_from_dict
from tests.meta.test_learners import make, reference_meta_grad


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("weights", [[1, 1, 1, 1], [2, 0, 1, 1], [0, 0, 0, 1], [1, 0, 0, 0]])
def test_step_weights_give_the_weighted_sum_of_each_steps_meta_gradient(first_order, weights):
    model, loss, task = make()
    learner = MAML(model, loss, InnerLoop(3, 0.3, "sgd"), outer_lr=0.1, first_order=first_order, step_weights=weights)
    grads, outer = learner.meta_gradients(task, torch.Generator())
    share = [w / sum(weights) for w in weights]
    per_step = [reference_meta_grad(model, task, j, 0.3, first_order) for j in range(4)]
    for i, g in enumerate(grads):
        expected = sum(w * step[i] for w, step in zip(share, per_step))
        torch.testing.assert_close(g, expected, rtol=1e-6, atol=1e-12)
    assert outer > 0


def test_only_the_last_step_is_plain_maml():
    model, loss, task = make()
    plain, _ = MAML(model, loss, InnerLoop(2, 0.3, "sgd"), outer_lr=0.1).meta_gradients(task, torch.Generator())
    last, _ = MAML(model, loss, InnerLoop(2, 0.3, "sgd"), outer_lr=0.1, step_weights=[0, 0, 5]).meta_gradients(
        task, torch.Generator()
    )
    for a, b in zip(plain, last):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("weights", [[1, 1], [1, -1, 1], [0, 0, 0]])
def test_bad_step_weights_are_refused(weights):
    model, loss, _ = make()
    with pytest.raises(ConfigError, match="step weights"):
        MAML(model, loss, InnerLoop(2, 0.3, "sgd"), outer_lr=0.1, step_weights=weights)


def test_step_weights_are_for_maml_only():
    model, loss, _ = make()
    with pytest.raises(ConfigError, match="reptile"):
        make_learner("reptile", model, loss, InnerLoop(2, 0.3), 0.1, step_weights=[1, 1, 1])


def test_the_config_checks_step_weights_against_the_inner_steps():
    config = config_from_dict({"meta": {"algorithm": "fomaml", "inner_steps": 2}}, ["meta.step_weights=[1,0,1]"])
    assert config.meta.step_weights == [1.0, 0.0, 1.0]
    with pytest.raises(ConfigError, match="one weight per inner step"):
        config_from_dict({"meta": {"algorithm": "fomaml", "inner_steps": 3}}, ["meta.step_weights=[1,0,1]"])
    with pytest.raises(ConfigError, match="meta.step_weights\\[1\\]: expected a number"):
        config_from_dict({"meta": {"algorithm": "fomaml", "inner_steps": 2}}, ["meta.step_weights=[1,a,1]"])
    with pytest.raises(ConfigError, match="has none"):
        config_from_dict({"meta": {"algorithm": "reptile", "inner_steps": 2}}, ["meta.step_weights=[1,0,1]"])


def test_what_the_multi_step_loss_cannot_run_with_is_refused():
    model, loss, task = make()
    inner = InnerLoop(1, 0.1)
    groups = [ParamGroup("body", ("conv.", "norm."), inner), ParamGroup("head", ("head.",), inner)]
    with pytest.raises(ConfigError, match="one parameter group"):
        MAML(model, loss, inner, outer_lr=0.1, step_weights=[1, 1], groups=groups, schedule=["body", "head"])
    learner = MAML(model, loss, InnerLoop(1, 0.1), outer_lr=0.1, step_weights=[1, 1])
    learner.batching = "vmap"
    with pytest.raises(ConfigError, match="no vectorised form"):
        learner.outer_step([task], [torch.Generator()])
    with pytest.raises(ConfigError, match="meta.step_weights: expected a list"):
        config_from_dict({"meta": {"algorithm": "fomaml", "inner_steps": 2}}, ["meta.step_weights=3"])
