"""Summaries of models, the Solver and the native Trainer (text repr and Jupyter HTML), and
the progress bars: tqdm.auto (a widget bar in Jupyter) when asked for, nothing extra printed
by the course package."""
import re
import sys
import types

import numpy as np
import pytest

import swiftnn
from swiftnn.models import FullyConnectedNet, NeuralNetTwoLayerNet, TwoLayerNet, summary
from swiftnn.solver import Solver


def small_data(n=300, d=12, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"X_train": rng.normal(size=(n, d)), "y_train": rng.integers(0, c, n),
            "X_val": rng.normal(size=(60, d)), "y_val": rng.integers(0, c, 60)}


def total_in(text):
    match = re.search(r"total parameters: ([\d,]+)", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def row(text, layer):
    """The summary line of a layer: (output shape, parameters, count or 0)."""
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == layer:
            count = int(cells[-1].replace(",", "")) if re.fullmatch(r"[\d,]+", cells[-1]) else 0
            return cells[1], (cells[2] if len(cells) > 3 else ""), count
    raise AssertionError("no row %r in\n%s" % (layer, text))


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("keep", [1, 0.7])
def test_fully_connected_net_summary_lists_every_layer_with_correct_counts(normalization, keep):
    model = FullyConnectedNet([64, 32, 16], input_dim=3 * 8 * 8, num_classes=7,
                              normalization=normalization, dropout_keep_ratio=keep, dtype=np.float64)
    text = repr(model)
    assert text == str(model) == model.summary() == summary(model)
    assert text.splitlines()[0].startswith("FullyConnectedNet: 192 -> 64 -> 32 -> 16 -> 7")
    assert "float64" in text.splitlines()[0]
    expected_total = sum(v.size for v in model.params.values())
    assert total_in(text) == expected_total
    assert "(%.1f KiB)" % (sum(v.nbytes for v in model.params.values()) / 1024) in text
    dims = [192, 64, 32, 16, 7]
    assert row(text, "input")[0] == "(N, 192)"
    for l in range(1, 5):
        shape, params, count = row(text, "affine%d" % l)
        assert shape == "(N, %d)" % dims[l]
        assert params == "W%d %dx%d, b%d %d" % (l, dims[l - 1], dims[l], l, dims[l])
        assert count == dims[l - 1] * dims[l] + dims[l]
    for l in range(1, 4):
        assert row(text, "relu%d" % l) == ("(N, %d)" % dims[l], "", 0)
        if normalization:
            assert row(text, "%s%d" % (normalization, l)) == (
                "(N, %d)" % dims[l], "gamma%d %d, beta%d %d" % (l, dims[l], l, dims[l]), 2 * dims[l])
        else:
            assert "norm%d" % l not in text
        if keep < 1:
            assert row(text, "dropout%d (keep 0.7)" % l)[0] == "(N, %d)" % dims[l]
        else:
            assert "dropout" not in text
    assert "relu4" not in text and "softmax loss" in text
    assert "layer" in text.splitlines()[1] and "output shape" in text.splitlines()[1]


def test_summary_counts_follow_the_params_actually_held():
    # the Solver replaces params with new arrays; the summary reads them on every call
    model = TwoLayerNet(input_dim=10, hidden_dim=5, num_classes=3)
    assert total_in(repr(model)) == 10 * 5 + 5 + 5 * 3 + 3
    model.params["W1"] = np.zeros((10, 5), np.float32)
    assert "(%d B)" % sum(v.nbytes for v in model.params.values()) in repr(model)


def test_two_layer_nets_summaries():
    model = TwoLayerNet(input_dim=784, hidden_dim=200, num_classes=10, reg=1e-4)
    text = repr(model)
    assert text.startswith("TwoLayerNet: 784 -> 200 -> 10")
    assert "reg 0.0001" in text.splitlines()[0]
    assert total_in(text) == 784 * 200 + 200 + 200 * 10 + 10 == 159010
    assert "159,010" in text
    old = NeuralNetTwoLayerNet(4, 10, 3)
    text = repr(old)
    assert text.startswith("TwoLayerNet (neural_net): 4 -> 10 -> 3")
    assert total_in(text) == 4 * 10 + 10 + 10 * 3 + 3


def test_leaky_relu_summary_names_the_slope():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, activation="leaky_relu", leak=0.05)
    assert row(repr(model), "leaky_relu1 (slope 0.05)")[0] == "(N, 5)"


def test_model_html_is_a_table_with_the_same_numbers():
    model = FullyConnectedNet([32], input_dim=16, num_classes=4, normalization="batchnorm")
    page = model._repr_html_()
    assert page.startswith("<div>") and page.count("<table>") == 1 and page.endswith("</div>")
    assert "<th style=\"text-align:left\">layer</th>" in page and "output shape" in page
    assert "FullyConnectedNet: 16 -&gt; 32 -&gt; 4" in page  # escaped
    assert ">batchnorm1<" in page and "gamma1 32, beta1 32" in page
    assert "total parameters: %s" % format(16 * 32 + 32 + 64 + 32 * 4 + 4, ",") in page


def test_solver_summary_before_and_after_training():
    data = small_data()
    model = FullyConnectedNet([16], input_dim=12, num_classes=4)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 2e-3},
                    lr_decay=0.5, num_epochs=2, batch_size=50, verbose=False)
    text = repr(solver)
    assert text.startswith("Solver (python loop)")
    assert "adam: learning_rate 0.002" in text
    assert "times 0.5 after every epoch" in text and "now" not in text
    assert "batch size 50, 2 epochs (6 iterations per epoch, 12 in all)" in text
    assert "300 training rows, 60 validation rows" in text
    assert "not trained yet" in text
    assert "NaN/Inf loss raises DivergenceError" in text
    assert repr(model) in "\n".join(line[4:] for line in text.splitlines())  # the model, indented
    solver.train()
    text = repr(solver)
    assert "epoch 2 / 2, iteration 12 / 12, last loss %.4f" % solver.loss_history[-1] in text
    assert "best val acc %.4f" % solver.best_val_acc in text
    assert "now 0.0005" in text  # 2e-3 * 0.5 ** 2
    page = solver._repr_html_()
    assert page.count("<table>") == 2 and "Solver (python loop)" in page and "best val acc" in page


def test_solver_summary_of_a_plain_python_model():
    class Linear:
        def __init__(self):
            self.params = {"W": np.zeros((12, 4)), "b": np.zeros(4)}

        def loss(self, X, y=None):
            scores = X.reshape(len(X), -1) @ self.params["W"] + self.params["b"]
            if y is None:
                return scores
            return 0.0, {k: np.zeros_like(v) for k, v in self.params.items()}

    solver = Solver(Linear(), small_data(), update_rule=lambda w, dw, config: (w, config),
                    verbose=False, stop_on_divergence=False)
    text = repr(solver)
    assert "update rule:" in text and "<lambda>" in text
    assert "learning_rate (the rule's default)" in text
    assert "NaN/Inf loss is recorded and training goes on" in text
    assert "W 12x4" in text and total_in(text) == 52
    assert "<table>" in solver._repr_html_()


def test_trainer_summary_before_and_after_training():
    data = small_data(n=500)
    model = FullyConnectedNet([16], input_dim=12, num_classes=4, dropout_keep_ratio=0.9)
    trainer = swiftnn.Trainer(model, data, update_rule="sgd_momentum", lr_decay=0.9, num_epochs=3,
                              batch_size=50, verbose=False, progress=False, seed=7,
                              early_stopping_patience=5)
    text = repr(trainer)
    assert text.startswith("Trainer (native loop)")
    assert "sgd_momentum: learning_rate 0.01" in text  # the rule's default, shown
    assert "batch size 50, 3 epochs (10 iterations per epoch, 30 in all)" in text
    assert "500 training rows, 60 validation rows" in text
    assert "seed 7" in text and "early stopping after 5 epochs" in text
    assert "not trained yet" in text
    assert "dropout1 (keep 0.9)" in text
    trainer.train()
    text = repr(trainer)
    assert "epoch 3 / 3, iteration 30 / 30" in text
    assert "best val acc %.4f" % trainer.best_val_acc in text
    assert "now %g" % (0.01 * 0.9 ** 3) in text
    assert total_in(text) == sum(v.size for v in model.params.values()) == 12 * 16 + 16 + 16 * 4 + 4
    assert trainer._repr_html_().count("<table>") == 2


# ---------------------------------------------------------------------------------------
# progress bars

class FakeBar:
    made = []

    def __init__(self, *args, **kwargs):
        self.kwargs = kwargs
        self.n = 0
        self.closed = False
        FakeBar.made.append(self)

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def write(self, s):
        print(s)

    def close(self):
        self.closed = True


@pytest.fixture
def fake_auto(monkeypatch):
    """tqdm.auto picks the notebook bar in Jupyter; here it is replaced by a recorder, so
    the tests see that both loops ask tqdm.auto (not tqdm.tqdm) for their bar."""
    pytest.importorskip("tqdm")
    FakeBar.made = []
    module = types.ModuleType("tqdm.auto")
    module.tqdm = FakeBar
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    return FakeBar


def test_solver_bar_comes_from_tqdm_auto(fake_auto):
    solver = Solver(FullyConnectedNet([8], input_dim=12, num_classes=4), small_data(),
                    num_epochs=2, batch_size=50, verbose=False, progress="tqdm")
    solver.train()
    assert len(fake_auto.made) == 1 and fake_auto.made[0].n == 12 and fake_auto.made[0].closed


def test_trainer_bar_comes_from_tqdm_auto(fake_auto):
    trainer = swiftnn.Trainer(FullyConnectedNet([8], input_dim=12, num_classes=4), small_data(),
                              num_epochs=2, batch_size=50, verbose=False)
    trainer.train()
    assert len(fake_auto.made) == 1 and fake_auto.made[0].n == 12 and fake_auto.made[0].closed


def test_no_bar_unless_asked(fake_auto):
    Solver(FullyConnectedNet([8], input_dim=12, num_classes=4), small_data(), num_epochs=1,
           batch_size=50, verbose=False).train()
    swiftnn.Trainer(FullyConnectedNet([8], input_dim=12, num_classes=4), small_data(), num_epochs=1,
                    batch_size=50, verbose=False, progress=False).train()
    assert fake_auto.made == []


def test_course_solver_prints_only_the_course_lines(capsys):
    from cs231n.classifiers.fc_net import FullyConnectedNet as CourseNet
    from cs231n.solver import Solver as CourseSolver

    model = CourseNet([8], input_dim=12, num_classes=4)
    solver = CourseSolver(model, small_data(), num_epochs=1, batch_size=50, print_every=2)
    solver.train()
    out = capsys.readouterr()
    assert out.err == ""
    for line in out.out.splitlines():
        assert re.fullmatch(r"\(Iteration \d+ / \d+\) loss: [\d.]+|"
                            r"\(Epoch \d+ / \d+\) train acc: [\d.]+; val_acc: [\d.]+", line), line
    assert "total parameters" in repr(solver)  # a repr, not printed
