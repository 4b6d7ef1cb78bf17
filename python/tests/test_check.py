"""`swiftnn check`: each of the lecture's checks passes on a sound configuration and fails, with
advice, on a broken one."""
import numpy as np
import pytest

from swiftnn.check import (initial_loss_check, overfit_check, regularization_check, update_ratio_check)
from swiftnn.cli import _parse, settings
from swiftnn.experiment import load_dataset as _load_data
from test_cli import run
from test_data import write_learnable_fashion_mnist


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion-mnist")
    write_learnable_fashion_mnist(folder, n_train=600, n_test=50)
    return folder


def _cfg(fmnist, *flags):
    args, _ = _parse(["check", "--data", str(fmnist), "--num-train", "500", "--hidden", "64"] + list(flags))
    return settings(args)


@pytest.fixture(scope="module")
def data(fmnist):
    return _load_data(_cfg(fmnist), num_test=0)[0]


def test_check_passes_a_sound_configuration(fmnist):
    p = run("check", "--data", fmnist, "--num-train", "500", "--hidden", "64")
    lines = [l for l in p.stdout.splitlines() if l.startswith(("PASS", "FAIL"))]
    assert [l.split(":")[0] for l in lines] == ["PASS  initial loss", "PASS  regularization",
                                                 "PASS  overfit a small subset", "PASS  update/weight ratio"]
    assert "ln(10) = 2.3026" in p.stdout and "checks: 4 of 4 passed" in p.stdout


def test_check_fails_large_initial_weights_and_says_what_to_change(fmnist):
    p = run("check", "--data", fmnist, "--num-train", "500", "--hidden", "64", "--normalization", "none",
            "--init", "scale", "--weight-scale", "1", check=False)
    assert p.returncode == 1
    assert "FAIL  initial loss" in p.stdout and "a smaller --weight-scale (e.g. 0.1)" in p.stdout


def test_initial_loss_is_measured_without_regularization(fmnist, data):
    result, model, batch = initial_loss_check(_cfg(fmnist, "--reg", "10"), data, 10)
    assert model.reg == 0.0 and result.passed, result


def test_regularization_check_catches_a_loss_without_the_l2_term(fmnist, data):
    cfg = _cfg(fmnist)
    _, model, batch = initial_loss_check(cfg, data, 10)
    good = regularization_check(cfg, model, batch)
    assert good.passed, good

    class IgnoresReg:
        params, reg = model.params, 0.0

        def loss(self, X, y):
            return model.loss(X, y)  # model.reg stays 0: the term never arrives

    model.reg = 0.0
    bad = regularization_check(cfg, IgnoresReg(), batch)
    assert not bad.passed and "0.5 * reg" in bad.advice


def test_overfit_check_fails_when_the_learning_rate_is_too_small(fmnist, data):
    result = overfit_check(_cfg(fmnist, "--lr", "1e-8", "--normalization", "none"), data, 10, max_iterations=50)
    assert not result.passed and "larger --lr" in result.advice


@pytest.mark.parametrize("lr, fragment", [(1.0, "lower --lr"), (1e-8, "raise --lr")])
def test_update_ratio_check_flags_a_learning_rate_far_from_the_rule_of_thumb(fmnist, data, lr, fragment):
    result = update_ratio_check(_cfg(fmnist, "--lr", str(lr), "--normalization", "none", "--dropout", "1"), data, 10,
                                steps=20)
    assert not result.passed and fragment in result.advice, result
