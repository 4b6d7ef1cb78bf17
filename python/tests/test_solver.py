"""swiftnn.solver.Solver: the course's Solver, plus swiftnn's options.

These tests need neither swiftnn.models nor swiftnn.optim: the model is a linear softmax
classifier defined here (its loss runs through swiftnn.layers) and the update rules are
callables defined here. Where the name lookup in swiftnn.optim is tested and that module
does not exist yet, a stand-in module is put in its place for that test only.
"""
import math
import os
import pickle
import re
import sys
import types

import numpy as np
import pytest

import swiftnn
from swiftnn import layers
from swiftnn.solver import DivergenceError, Solver

CHECKPOINT_KEYS = {
    "model", "update_rule", "lr_decay", "optim_config", "batch_size", "num_train_samples",
    "num_val_samples", "epoch", "loss_history", "train_acc_history", "val_acc_history",
}


# ---------------------------------------------------------------------------------------
# stand-ins (module level, so that checkpoints can pickle them)

class LinearSoftmax(object):
    """scores = X.reshape(N, D) @ W + b, softmax loss, 0.5 * reg * sum(W**2)."""

    def __init__(self, input_dim, num_classes, weight_scale=1e-2, reg=0.0, seed=0):
        r = np.random.RandomState(seed)
        self.params = {
            "W": weight_scale * r.randn(input_dim, num_classes),
            "b": np.zeros(num_classes),
        }
        self.reg = reg

    def loss(self, X, y=None):
        W, b = self.params["W"], self.params["b"]
        scores, cache = layers.affine_forward(X, W, b)
        if y is None:
            return scores
        loss, dscores = layers.softmax_loss(scores, y)
        _, dW, db = layers.affine_backward(dscores, cache)
        if self.reg:
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows
                loss += 0.5 * self.reg * np.sum(W * W)
                dW = dW + self.reg * W
        return loss, {"W": dW, "b": db}


class NaNAfter(LinearSoftmax):
    """Returns a NaN loss from the `bad_call`-th training call of loss on (1-based)."""

    def __init__(self, *args, bad_call=3, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0
        self.bad_call = bad_call

    def loss(self, X, y=None):
        out = super().loss(X, y)
        if y is None:
            return out
        self.calls += 1
        loss, grads = out
        return (float("nan") if self.calls >= self.bad_call else loss), grads


def plain_sgd(w, dw, config=None):
    """The course's sgd, written out (the real one lives in swiftnn.optim)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config


class RecordingRule(object):
    """An sgd that records the learning rate and parameter name order it is called with."""

    def __init__(self):
        self.lrs = []

    def __call__(self, w, dw, config=None):
        if config is None:
            config = {}
        config.setdefault("learning_rate", 1e-2)
        self.lrs.append(config["learning_rate"])
        return w - config["learning_rate"] * dw, config


def frozen_rule(w, dw, config=None):
    """Never moves a parameter."""
    return w, config


def make_data(n_train=200, n_val=60, dim=6, classes=3, seed=0):
    r = np.random.RandomState(seed)
    centers = 2.0 * r.randn(classes, dim)

    def draw(n):
        y = r.randint(classes, size=n)
        return centers[y] + r.randn(n, dim), y

    X_train, y_train = draw(n_train)
    X_val, y_val = draw(n_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


@pytest.fixture
def data():
    return make_data()


def model_for(data, cls=LinearSoftmax, **kwargs):
    return cls(data["X_train"].shape[1], int(data["y_train"].max()) + 1, **kwargs)


# ---------------------------------------------------------------------------------------
# the course's Solver, transcribed (assignment 2, 2023/2024), as the behavioural reference

class CourseSolver(object):
    def __init__(self, model, data, update_rule, optim_config, lr_decay, batch_size,
                 num_epochs, num_train_samples, num_val_samples, print_every, verbose):
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.update_rule, self.optim_config, self.lr_decay = update_rule, optim_config, lr_decay
        self.batch_size, self.num_epochs = batch_size, num_epochs
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self.print_every, self.verbose = print_every, verbose
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {}
        for p in self.model.params:
            self.optim_configs[p] = {k: v for k, v in self.optim_config.items()}

    def _step(self):
        num_train = self.X_train.shape[0]
        batch_mask = np.random.choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]
        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss)
        for p, w in self.model.params.items():
            dw = grads[p]
            config = self.optim_configs[p]
            next_w, next_config = self.update_rule(w, dw, config)
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = np.random.choice(N, num_samples)
            N = num_samples
            X = X[mask]
            y = y[mask]
        num_batches = N // batch_size
        if N % batch_size != 0:
            num_batches += 1
        y_pred = []
        for i in range(num_batches):
            start = i * batch_size
            end = (i + 1) * batch_size
            scores = self.model.loss(X[start:end])
            y_pred.append(np.argmax(scores, axis=1))
        y_pred = np.hstack(y_pred)
        return np.mean(y_pred == y)

    def train(self):
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print("(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, self.loss_history[-1]))
            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for k in self.optim_configs:
                    self.optim_configs[k]["learning_rate"] *= self.lr_decay
            first_it = t == 0
            last_it = t == num_iterations - 1
            if first_it or last_it or epoch_end:
                train_acc = self.check_accuracy(self.X_train, self.y_train,
                                                num_samples=self.num_train_samples)
                val_acc = self.check_accuracy(self.X_val, self.y_val,
                                              num_samples=self.num_val_samples)
                self.train_acc_history.append(train_acc)
                self.val_acc_history.append(val_acc)
                if self.verbose:
                    print("(Epoch %d / %d) train acc: %f; val_acc: %f"
                          % (self.epoch, self.num_epochs, train_acc, val_acc))
                if val_acc > self.best_val_acc:
                    self.best_val_acc = val_acc
                    self.best_params = {}
                    for k, v in self.model.params.items():
                        self.best_params[k] = v.copy()
        self.model.params = self.best_params


# ---------------------------------------------------------------------------------------
# construction

def test_unknown_keyword_raises_value_error(data):
    with pytest.raises(ValueError, match='Unrecognized arguments "learning_rate"'):
        Solver(model_for(data), data, update_rule=plain_sgd, learning_rate=1e-3)


def _optim_module(monkeypatch):
    """swiftnn.optim, or a stand-in with the course's `sgd` while the real one is not written."""
    try:
        from swiftnn import optim
        return optim
    except ImportError:
        fake = types.ModuleType("swiftnn.optim")
        fake.sgd = plain_sgd
        monkeypatch.setitem(sys.modules, "swiftnn.optim", fake)
        monkeypatch.setattr(swiftnn, "optim", fake, raising=False)
        return fake


def test_update_rule_is_looked_up_by_name_in_optim(data, monkeypatch):
    optim = _optim_module(monkeypatch)
    solver = Solver(model_for(data), data, verbose=False)  # default 'sgd'
    assert solver.update_rule is optim.sgd


def test_unknown_update_rule_name_raises_value_error(data, monkeypatch):
    _optim_module(monkeypatch)
    with pytest.raises(ValueError, match='Invalid update_rule "no_such_rule"'):
        Solver(model_for(data), data, update_rule="no_such_rule")
    with pytest.raises(ValueError, match="Invalid update_rule"):
        Solver(model_for(data), data, update_rule="__name__")


def test_update_rule_that_is_neither_name_nor_callable_raises(data):
    with pytest.raises(ValueError, match="Invalid update_rule"):
        Solver(model_for(data), data, update_rule=3)


@pytest.mark.parametrize("kwargs", [
    {"progress": "bar"},
    {"lr_schedule": "linear"},
    {"lr_schedule": "cosine", "lr_decay": 0.9},
    {"warmup_iters": -1},
    {"early_stopping_patience": 0},
])
def test_invalid_swiftnn_options_raise_value_error(data, kwargs):
    with pytest.raises(ValueError):
        Solver(model_for(data), data, update_rule=plain_sgd, **kwargs)


def test_reset_attributes_and_per_parameter_config_copies(data):
    config = {"learning_rate": 0.05}
    solver = Solver(model_for(data), data, update_rule=plain_sgd, optim_config=config)
    assert solver.epoch == 0 and solver.best_val_acc == 0 and solver.best_params == {}
    assert solver.loss_history == [] and solver.train_acc_history == []
    assert solver.val_acc_history == []
    assert set(solver.optim_configs) == {"W", "b"}
    assert solver.optim_configs["W"] == config and solver.optim_configs["W"] is not config
    assert solver.optim_configs["W"] is not solver.optim_configs["b"]
    # defaults of the course
    assert (solver.lr_decay, solver.batch_size, solver.num_epochs) == (1.0, 100, 10)
    assert (solver.num_train_samples, solver.num_val_samples) == (1000, None)
    assert (solver.checkpoint_name, solver.print_every, solver.verbose) == (None, 10, True)


# ---------------------------------------------------------------------------------------
# training, with the defaults: the course's behaviour

def test_same_numbers_and_lines_as_the_course_solver(data, capsys):
    kwargs = dict(optim_config={"learning_rate": 0.05}, lr_decay=0.9, batch_size=32,
                  num_epochs=3, num_train_samples=50, num_val_samples=40, print_every=2,
                  verbose=True)
    np.random.seed(123)
    course = CourseSolver(model_for(data), data, update_rule=plain_sgd, **kwargs)
    course.train()
    course_out = capsys.readouterr().out

    np.random.seed(123)
    ours = Solver(model_for(data), data, update_rule=plain_sgd, **kwargs)
    ours.train()
    ours_out = capsys.readouterr().out

    assert ours.loss_history == course.loss_history
    assert ours.train_acc_history == course.train_acc_history
    assert ours.val_acc_history == course.val_acc_history
    assert ours.best_val_acc == course.best_val_acc
    for p in ("W", "b"):
        np.testing.assert_array_equal(ours.model.params[p], course.model.params[p])
    assert ours_out == course_out
    assert "(Iteration 1 / 18) loss: " in ours_out
    assert re.search(r"^\(Epoch 0 / 3\) train acc: \d\.\d{6}; val_acc: \d\.\d{6}$", ours_out, re.M)
    # the same draws from NumPy's global generator, no more and no fewer
    np.random.seed(123)
    Solver(model_for(data), data, update_rule=plain_sgd, **dict(kwargs, verbose=False)).train()
    after_ours = np.random.rand()
    np.random.seed(123)
    CourseSolver(model_for(data), data, update_rule=plain_sgd, **dict(kwargs, verbose=False)).train()
    assert np.random.rand() == after_ours


def test_history_lengths_and_epoch_count(data):
    # 200 rows, batch 50: 4 iterations per epoch, 3 epochs -> 12 iterations, and accuracy
    # checks at the first iteration and at each of the 3 epoch ends.
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=3,
                    verbose=False)
    solver.train()
    assert len(solver.loss_history) == 12
    assert len(solver.train_acc_history) == 4
    assert len(solver.val_acc_history) == 4
    assert solver.epoch == 3


def test_iterations_per_epoch_is_at_least_one(data):
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=500, num_epochs=2,
                    verbose=False)
    solver.train()
    assert len(solver.loss_history) == 2
    assert len(solver.val_acc_history) == 2  # the first iteration is also the first epoch end


def test_learning_rate_decays_once_per_epoch(data):
    rule = RecordingRule()
    solver = Solver(model_for(data), data, update_rule=rule, optim_config={"learning_rate": 0.1},
                    lr_decay=0.5, batch_size=50, num_epochs=3, verbose=False)
    solver.train()
    for p in ("W", "b"):
        assert solver.optim_configs[p]["learning_rate"] == pytest.approx(0.1 * 0.5 ** 3)
    # two parameters per step, four steps per epoch
    seen = np.array(rule.lrs).reshape(3, 4, 2)
    for epoch in range(3):
        np.testing.assert_allclose(seen[epoch], 0.1 * 0.5 ** epoch)


def test_print_every_and_verbose_false(data, capsys):
    Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
           print_every=3, verbose=True).train()
    out = capsys.readouterr().out
    iterations = re.findall(r"^\(Iteration (\d+) / 8\) loss: [-\d.]+$", out, re.M)
    assert iterations == ["1", "4", "7"]
    epochs = re.findall(r"^\(Epoch (\d+) / 2\) train acc: ", out, re.M)
    assert epochs == ["0", "1", "2"]

    Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
           verbose=False).train()
    assert capsys.readouterr().out == ""


def test_check_accuracy_uses_all_rows_or_a_sample(data):
    solver = Solver(model_for(data), data, update_rule=plain_sgd, verbose=False)
    X, y = data["X_val"], data["y_val"]
    expected = np.mean(np.argmax(solver.model.loss(X), axis=1) == y)
    assert solver.check_accuracy(X, y) == expected
    assert solver.check_accuracy(X, y, batch_size=7) == expected
    np.random.seed(3)
    sampled = solver.check_accuracy(X, y, num_samples=25)
    np.random.seed(3)
    mask = np.random.choice(X.shape[0], 25)
    assert sampled == np.mean(np.argmax(solver.model.loss(X[mask]), axis=1) == y[mask])


def test_best_params_are_restored_at_the_end(data):
    # Good steps in the first epoch, then a rule that wrecks the weights: the last
    # validation accuracy is worse than the best, and training ends on the best weights.
    state = {"calls": 0}

    def good_then_bad(w, dw, config=None):
        state["calls"] += 1
        if state["calls"] <= 2 * 4:  # 4 steps of 2 parameters: the first epoch
            return w - 0.5 * dw, config
        return -3.0 * w + np.random.randn(*w.shape), config

    np.random.seed(0)
    solver = Solver(model_for(data), data, update_rule=good_then_bad, batch_size=50,
                    num_epochs=4, verbose=False)
    solver.train()
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert solver.val_acc_history[-1] < solver.best_val_acc
    assert solver.model.params is solver.best_params
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_checkpoints_written_atomically_with_the_course_keys(data, tmp_path, capsys):
    name = str(tmp_path / "ck")
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
                    checkpoint_name=name, verbose=True, optim_config={"learning_rate": 0.2},
                    lr_decay=0.9)
    solver.train()
    out = capsys.readouterr().out
    assert 'Saving checkpoint to "%s_epoch_0.pkl"' % name in out
    files = sorted(os.listdir(tmp_path))
    assert files == ["ck_epoch_0.pkl", "ck_epoch_1.pkl", "ck_epoch_2.pkl"]  # no temp files left
    with open(tmp_path / "ck_epoch_2.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert set(checkpoint) == CHECKPOINT_KEYS
    assert checkpoint["epoch"] == 2
    assert checkpoint["update_rule"] is plain_sgd
    assert checkpoint["lr_decay"] == 0.9 and checkpoint["batch_size"] == 50
    assert checkpoint["optim_config"] == {"learning_rate": 0.2}
    assert checkpoint["num_train_samples"] == 1000 and checkpoint["num_val_samples"] is None
    assert checkpoint["loss_history"] == solver.loss_history
    assert checkpoint["train_acc_history"] == solver.train_acc_history
    assert checkpoint["val_acc_history"] == solver.val_acc_history
    assert isinstance(checkpoint["model"], LinearSoftmax)
    with open(tmp_path / "ck_epoch_0.pkl", "rb") as f:
        first = pickle.load(f)
    assert first["epoch"] == 0 and len(first["loss_history"]) == 1


def test_checkpoint_replaces_an_existing_file(data, tmp_path):
    target = tmp_path / "run_epoch_0.pkl"
    target.write_bytes(b"old")
    solver = Solver(model_for(data), data, update_rule=plain_sgd, checkpoint_name=str(tmp_path / "run"),
                    verbose=False)
    solver._save_checkpoint()
    with open(target, "rb") as f:
        assert pickle.load(f)["epoch"] == 0
    assert os.listdir(tmp_path) == ["run_epoch_0.pkl"]


def test_no_checkpoint_without_a_name(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=1,
           verbose=False).train()
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------
# swiftnn options

def _diverge(data, lr, reg):
    solver = Solver(model_for(data, reg=reg), data, update_rule=plain_sgd,
                    optim_config={"learning_rate": lr}, batch_size=50, num_epochs=100,
                    verbose=False)
    with pytest.raises(DivergenceError) as info:
        solver.train()
    err = info.value
    assert isinstance(err, RuntimeError)
    message = str(err)
    match = re.search(r"loss diverged at iteration (\d+) — lower the learning rate", message)
    assert match, message
    assert int(match.group(1)) == err.iteration
    assert err.iteration < 400
    return solver, err


def test_huge_learning_rate_raises_divergence_error_naming_the_iteration(data):
    # lr * reg = 1e3: the weights grow ~1000x per step until the loss overflows to inf
    solver, err = _diverge(data, lr=1e3, reg=1.0)
    assert err.loss == math.inf
    assert len(solver.loss_history) == err.iteration
    assert all(math.isfinite(v) for v in solver.loss_history[:-1])
    assert err.iteration > 10  # it did train for a while
    assert all(np.all(np.isfinite(v)) for v in solver.model.params.values())


def test_scores_the_engine_refuses_become_a_divergence_error(data):
    # weights of ~1e308 overflow the scores; softmax_loss refuses NaN/Inf scores
    solver, err = _diverge(data, lr=1e308, reg=0.0)
    assert isinstance(err.__cause__, swiftnn.SwiftNNError)
    assert "NaN or Inf" in str(err)
    assert len(solver.loss_history) == err.iteration - 1


def test_nan_loss_raises_divergence_error_before_the_update(data):
    model = model_for(data, NaNAfter, bad_call=3)
    solver = Solver(model, data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
                    verbose=False)
    with pytest.raises(DivergenceError, match="loss diverged at iteration 3 — lower the learning rate") as info:
        solver.train()
    assert info.value.iteration == 3
    assert math.isnan(info.value.loss)
    assert len(solver.loss_history) == 3 and math.isnan(solver.loss_history[-1])
    assert np.all(np.isfinite(model.params["W"]))


def test_stop_on_divergence_false_keeps_the_course_behaviour(data):
    model = model_for(data, NaNAfter, bad_call=3)
    solver = Solver(model, data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
                    verbose=False, stop_on_divergence=False)
    solver.train()
    assert len(solver.loss_history) == 8
    assert all(math.isnan(v) for v in solver.loss_history[2:])


def test_early_stopping_stops_and_keeps_best_params(data, capsys):
    solver = Solver(model_for(data), data, update_rule=frozen_rule, batch_size=50,
                    num_epochs=20, early_stopping_patience=2, verbose=True)
    solver.train()
    out = capsys.readouterr().out
    assert solver.best_val_acc > 0  # the first check set the best
    assert solver.stopped_early
    assert solver.epoch == 2  # epochs 1 and 2 did not improve
    assert len(solver.loss_history) == 8
    assert len(solver.val_acc_history) == 3
    assert re.search(r"^Early stopping at epoch 2 / 20: val_acc has not improved for 2 epochs",
                     out, re.M), out
    assert solver.model.params is solver.best_params


def test_early_stopping_does_not_stop_an_improving_run(data):
    solver = Solver(model_for(data, weight_scale=1e-4), data, update_rule=plain_sgd,
                    optim_config={"learning_rate": 1e-3}, batch_size=50, num_epochs=3,
                    early_stopping_patience=3, verbose=False)
    solver.train()
    assert not solver.stopped_early and solver.epoch == 3


def test_update_ratios_recorded(data):
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
                    record_update_ratios=True, optim_config={"learning_rate": 1e-2},
                    verbose=False)
    assert solver.update_ratio_history == {"W": [], "b": []}
    W0 = solver.model.params["W"].copy()
    solver.train()
    ratios = solver.update_ratio_history
    assert len(ratios["W"]) == len(ratios["b"]) == 8
    assert all(np.isfinite(ratios["W"])) and all(r > 0 for r in ratios["W"])
    assert ratios["b"][0] == math.inf  # b starts at zero
    assert all(np.isfinite(ratios["b"][1:]))

    # the first ratio by hand
    np.random.seed(0)
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50,
                    record_update_ratios=True, optim_config={"learning_rate": 1e-2})
    np.testing.assert_array_equal(solver.model.params["W"], W0)
    solver._step()
    W1 = solver.model.params["W"]
    assert solver.update_ratio_history["W"][0] == pytest.approx(
        np.linalg.norm(W1 - W0) / np.linalg.norm(W0), rel=1e-12)


def test_update_ratios_with_an_in_place_rule(data):
    def in_place_sgd(w, dw, config=None):  # the course's sgd updates w in place
        w -= 1e-2 * dw
        return w, config

    solver = Solver(model_for(data), data, update_rule=in_place_sgd, batch_size=50,
                    record_update_ratios=True)
    solver._step()
    assert solver.update_ratio_history["W"][0] > 0


def test_update_ratio_history_is_empty_when_not_recorded(data):
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=1,
                    verbose=False)
    solver.train()
    assert solver.update_ratio_history == {}


def test_tqdm_progress_runs_without_iteration_lines(data, capsys):
    pytest.importorskip("tqdm")
    np.random.seed(7)
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
                    progress="tqdm", print_every=1, verbose=True)
    solver.train()
    captured = capsys.readouterr()
    assert "(Iteration" not in captured.out
    assert "(Epoch 2 / 2) train acc:" in captured.out + captured.err
    assert len(solver.loss_history) == 8 and len(solver.val_acc_history) == 3
    # same numbers as the print mode
    np.random.seed(7)
    plain = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=2,
                   verbose=False)
    plain.train()
    assert plain.loss_history == solver.loss_history


def test_tqdm_missing_falls_back_to_print(data, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    solver = Solver(model_for(data), data, update_rule=plain_sgd, batch_size=50, num_epochs=1,
                    progress="tqdm", verbose=True)
    with pytest.warns(RuntimeWarning, match="tqdm is not installed"):
        solver.train()
    assert "(Iteration 1 / 4) loss:" in capsys.readouterr().out


def test_step_schedule_is_the_course_decay(data):
    seen = {}
    for schedule in (None, "step"):
        rule = RecordingRule()
        np.random.seed(1)
        Solver(model_for(data), data, update_rule=rule, optim_config={"learning_rate": 0.1},
               lr_decay=0.5, lr_schedule=schedule, batch_size=50, num_epochs=2,
               verbose=False).train()
        seen[schedule] = rule.lrs
    assert seen[None] == seen["step"]


def test_linear_warmup_then_step_decay(data):
    rule = RecordingRule()
    solver = Solver(model_for(data), data, update_rule=rule, optim_config={"learning_rate": 0.1},
                    lr_decay=0.5, warmup_iters=4, batch_size=50, num_epochs=2, verbose=False)
    solver.train()
    used = np.array(rule.lrs)[::2]  # W's rate at every iteration
    np.testing.assert_allclose(used, [0.025, 0.05, 0.075, 0.1, 0.05, 0.05, 0.05, 0.05])
    # the config keeps the nominal (decayed) rate
    assert solver.optim_configs["W"]["learning_rate"] == pytest.approx(0.1 * 0.25)


def test_cosine_schedule_with_warmup(data):
    rule = RecordingRule()
    solver = Solver(model_for(data), data, update_rule=rule, optim_config={"learning_rate": 0.2},
                    lr_schedule="cosine", warmup_iters=2, batch_size=50, num_epochs=3,
                    verbose=False)
    solver.train()
    used = np.array(rule.lrs)[::2]
    T, W = 12, 2
    expected = [0.2 * (t + 1) / W if t < W else 0.1 * (1 + math.cos(math.pi * (t - W) / (T - W)))
                for t in range(T)]
    np.testing.assert_allclose(used, expected, rtol=1e-12)
    assert used[W] == pytest.approx(0.2) and used[-1] < 0.2 * 0.05
    assert solver.optim_configs["W"]["learning_rate"] == 0.2


def test_cosine_schedule_uses_the_rules_default_rate(data):
    rule = RecordingRule()  # default learning_rate 1e-2, optim_config without one
    Solver(model_for(data), data, update_rule=rule, lr_schedule="cosine", batch_size=50,
           num_epochs=1, verbose=False).train()
    used = np.array(rule.lrs)
    # the first entry is the rule answering the probe for its default
    assert used[1] == pytest.approx(1e-2)
    assert used[-1] < 1e-2
