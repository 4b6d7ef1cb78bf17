"""ONNX export: every network configuration, exported from a checkpoint with its preprocessing in
the graph, passes onnx's full check and gives swiftnn's probabilities in onnxruntime and in onnx's
reference evaluator on real Fashion-MNIST test rows; exports of models and of estimators through
the export hook; bad input."""
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

from swiftnn import Trainer
from swiftnn import onnx as snn_onnx
from swiftnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from swiftnn.data import DATASETS, apply_preprocessing, fit_preprocessing, load_raw
from swiftnn.experiment import build_model, predict_proba, preprocess
from swiftnn.models import FullyConnectedNet, TwoLayerNet

TOL = 1e-5
N_TRAIN, N_VAL, N_TEST = 400, 100, 300
HIDDEN = [24, 20, 16, 12]
PIXEL_SCALE = DATASETS["fashion-mnist"]["pixel_scale"]
NORMS = ["none", "batchnorm", "layernorm"]
ACTIVATIONS = ["relu", "leaky_relu"]
DTYPES = [np.float32, np.float64]
PREPROCESSING = ["mean", "standardize", "none"]
CONFIGS = list(itertools.product(NORMS, ACTIVATIONS, [1, 2, 3, 4], DTYPES, PREPROCESSING))

largest = {"onnxruntime": 0.0, "reference": 0.0, "configurations": 0}


@pytest.fixture(scope="module")
def raw():
    """The first Fashion-MNIST rows as the dataset stores them: uint8 pixels, 784 per row."""
    try:
        X_train, y_train, X_test, y_test = load_raw("fashion-mnist")
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    yield {"X_train": X_train[:N_TRAIN + N_VAL], "y_train": y_train[:N_TRAIN + N_VAL],
           "X_test": X_test[:N_TEST], "y_test": y_test[:N_TEST]}
    if largest["configurations"]:
        print("\nlargest probability difference from swiftnn over %d configurations: onnxruntime %.3g, "
              "reference evaluator %.3g" % (largest["configurations"], largest["onnxruntime"], largest["reference"]))


def _prepared(raw, method, dtype):
    """A Trainer data dict preprocessed as get_data does, and the fitted statistics."""
    pixels = apply_preprocessing(raw["X_train"], {"method": "none"}, PIXEL_SCALE, dtype)
    stats = fit_preprocessing(pixels[:N_TRAIN], method)
    X = apply_preprocessing(pixels, stats, 1.0, dtype)
    return {"X_train": X[:N_TRAIN], "y_train": raw["y_train"][:N_TRAIN],
            "X_val": X[N_TRAIN:], "y_val": raw["y_train"][N_TRAIN:]}, stats


def _train(cfg, data, dtype, seed=0):
    np.random.seed(seed)
    model = build_model(cfg, 784, 10, dtype=dtype)
    # 16 Adam steps: the weights move away from their start and batchnorm's running statistics
    # (momentum 0.9) are far from their initial zeros and ones.
    Trainer(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3}, batch_size=50, num_epochs=2,
            num_train_samples=100, verbose=False, progress=False, seed=seed).train()
    return model


def _run_ort(model_proto, X):
    session = ort.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": np.asarray(X, np.float32)})


def _compare(probs, labels, expected, which):
    assert probs.dtype == np.float32 and labels.dtype == np.int64
    assert probs.shape == expected.shape and labels.shape == expected.shape[:1]
    diff = float(np.max(np.abs(probs - expected)))
    largest[which] = max(largest[which], diff)
    assert diff <= TOL, "%s: probabilities differ from swiftnn's by %.3g" % (which, diff)
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > TOL
    np.testing.assert_array_equal(labels[clear], np.argmax(expected, axis=1)[clear])


@pytest.mark.parametrize("norm, activation, depth, dtype, method", CONFIGS,
                         ids=["%s-%s-depth%d-%s-%s" % (n, a, d, np.dtype(t).name, m) for n, a, d, t, m in CONFIGS])
def test_an_exported_checkpoint_gives_swiftnn_probabilities_on_raw_rows(raw, tmp_path, norm, activation, depth,
                                                                        dtype, method):
    data, stats = _prepared(raw, method, dtype)
    cfg = {"dataset": "fashion-mnist", "preprocess": method, "hidden": HIDDEN[:depth], "normalization": norm,
           "activation": activation, "init": "he", "lr": 5e-3, "update_rule": "adam"}
    model = _train(cfg, data, dtype)
    if norm == "batchnorm":
        for p in model.bn_params:
            assert np.abs(p["running_mean"]).max() > 0.05 and np.abs(p["running_var"] - 1).max() > 0.05
    ckpt = save_checkpoint(tmp_path / "model.npz", model, cfg, preprocess=stats, meta={"dataset": "fashion-mnist"})
    path = snn_onnx.export(ckpt, tmp_path / "model.onnx")

    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    expected = predict_proba(model, apply_preprocessing(raw["X_test"], stats, PIXEL_SCALE, dtype))
    X = raw["X_test"].astype(np.float32)
    _compare(*_run_ort(proto, X), expected, "onnxruntime")
    _compare(*ReferenceEvaluator(proto).run(None, {"input": X}), expected, "reference")
    largest["configurations"] += 1


def test_the_graph_holds_the_layers_preprocessing_metadata_and_a_dynamic_batch(raw, tmp_path):
    data, stats = _prepared(raw, "standardize", np.float32)
    cfg = {"dataset": "fashion-mnist", "preprocess": "standardize", "hidden": [16, 12], "normalization": "batchnorm",
           "activation": "leaky_relu", "lr": 5e-3, "update_rule": "adam", "dropout": 0.5}
    model = _train(cfg, data, np.float32)
    save_checkpoint(tmp_path / "m.npz", model, cfg, preprocess=stats, meta={"dataset": "fashion-mnist"})
    proto = snn_onnx.to_onnx(tmp_path / "m.npz")
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Mul", "Sub", "Div", "Gemm", "BatchNormalization", "LeakyRelu", "Gemm", "BatchNormalization",
                   "LeakyRelu", "Gemm", "Softmax", "ArgMax"]
    assert "Dropout" not in ops
    nodes = {n.name: n for n in proto.graph.node}
    assert onnx.helper.get_attribute_value(nodes["batchnorm2"].attribute[0]) == pytest.approx(1e-5)
    assert onnx.helper.get_attribute_value(nodes["leaky_relu1"].attribute[0]) == pytest.approx(0.01)
    (inp,) = proto.graph.input
    assert inp.name == "input" and inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    batch, width = inp.type.tensor_type.shape.dim
    assert batch.dim_param == "N" and width.dim_value == 784
    assert [o.name for o in proto.graph.output] == ["probabilities", "label"]
    assert proto.opset_import[0].version == 17 and proto.ir_version == 8
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["swiftnn_version"] and meta["dataset"] == "fashion-mnist"
    network = json.loads(meta["network"])
    assert network["dims"] == [784, 16, 12, 10] and network["normalization"] == "batchnorm"
    assert network["activation"] == "leaky_relu" and network["leak"] == 0.01 and network["eps"] == [1e-5, 1e-5]
    assert json.loads(meta["training"])["dropout"] == 0.5
    assert json.loads(meta["preprocessing"]) == {"method": "standardize", "pixel_scale": PIXEL_SCALE}
    assert json.loads(meta["classes"])[0] == "T-shirt/top"
    # one session, batches of 1, 7 and 300 rows
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = predict_proba(model, apply_preprocessing(raw["X_test"], stats, PIXEL_SCALE))
    for n in (1, 7, N_TEST):
        probs, labels = session.run(None, {"input": raw["X_test"][:n].astype(np.float32)})
        assert probs.shape == (n, 10) and labels.shape == (n,)
        np.testing.assert_allclose(probs, expected[:n], rtol=0, atol=TOL)


@pytest.mark.parametrize("make", [
    lambda: FullyConnectedNet([20, 16], input_dim=784, num_classes=10, normalization="layernorm", dtype=np.float64),
    lambda: FullyConnectedNet([20], input_dim=784, num_classes=10, normalization="batchnorm", dropout_keep_ratio=0.5),
    lambda: TwoLayerNet(input_dim=784, hidden_dim=20, num_classes=10, weight_scale=1e-2),
], ids=["fc-layernorm-float64", "fc-batchnorm-dropout", "two-layer-net"])
def test_an_exported_model_takes_the_rows_its_loss_takes(raw, make):
    data, _ = _prepared(raw, "mean", np.float32)
    np.random.seed(1)
    model = make()
    for _ in range(5):  # a few steps in train mode: weights and running statistics move
        _, grads = model.loss(data["X_train"][:100], data["y_train"][:100])
        for k in model.params:
            model.params[k] -= 1e-2 * grads[k]
    proto = snn_onnx.to_onnx(model)
    assert [n.op_type for n in proto.graph.node][0] == ("Cast" if model.params["W1"].dtype == np.float64 else "Gemm")
    X = data["X_val"]
    expected = predict_proba(model, X)
    _compare(*_run_ort(proto, X), expected, "onnxruntime")
    _compare(*ReferenceEvaluator(proto).run(None, {"input": X}), expected, "reference")


def test_a_models_own_slope_and_eps_are_exported(raw):
    data, _ = _prepared(raw, "mean", np.float32)
    np.random.seed(2)
    model = FullyConnectedNet([20, 16], input_dim=784, num_classes=10, normalization="batchnorm",
                              activation="leaky_relu", leak=0.2)
    model.bn_params[1]["eps"] = 1e-2
    model.loss(data["X_train"][:100], data["y_train"][:100])  # running statistics of one batch
    proto = snn_onnx.to_onnx(model)
    nodes = {n.name: n for n in proto.graph.node}
    assert onnx.helper.get_attribute_value(nodes["batchnorm1"].attribute[0]) == pytest.approx(1e-5)
    assert onnx.helper.get_attribute_value(nodes["batchnorm2"].attribute[0]) == pytest.approx(1e-2)
    assert onnx.helper.get_attribute_value(nodes["leaky_relu1"].attribute[0]) == pytest.approx(0.2)
    network = json.loads({p.key: p.value for p in proto.metadata_props}["network"])
    assert network["leak"] == 0.2 and network["eps"] == [1e-5, 1e-2]
    X = data["X_val"]
    expected = predict_proba(model, X)
    _compare(*_run_ort(proto, X), expected, "onnxruntime")
    _compare(*ReferenceEvaluator(proto).run(None, {"input": X}), expected, "reference")


@pytest.mark.parametrize("opset", [17, 21])
def test_newer_opsets_give_the_same_model(raw, opset):
    data, _ = _prepared(raw, "mean", np.float32)
    model = _train({"hidden": [16], "normalization": "layernorm", "lr": 5e-3}, data, np.float32)
    proto = snn_onnx.to_onnx(model, opset=opset)
    assert proto.opset_import[0].version == opset and proto.ir_version == onnx.helper.find_min_ir_version_for(
        list(proto.opset_import))
    _compare(*_run_ort(proto, data["X_val"]), predict_proba(model, data["X_val"]), "onnxruntime")


class _HookedClassifier:
    """The export hook as an estimator implements it: its fitted network, its class labels and
    the preprocessing it applies to the rows it is given."""

    def __init__(self, model, classes, preprocess):
        self.model_, self.classes_, self.preprocess_ = model, classes, preprocess

    def swiftnn_export_spec(self):
        return {"model": self.model_, "task": "classifier", "classes": self.classes_, "preprocess": self.preprocess_,
                "settings": {"hidden_layer_sizes": [16]}}


def test_the_estimator_hook_maps_columns_to_class_labels_and_preprocesses(raw):
    data, stats = _prepared(raw, "standardize", np.float32)
    model = _train({"hidden": [16], "normalization": "batchnorm", "lr": 5e-3}, data, np.float32)
    classes = np.array([10, 11, 12, 13, 14, 15, 16, 17, 18, 99])
    # the estimator's rows are already on the 0..1 scale; its preprocessing standardizes them
    X = raw["X_test"].astype(np.float32) * np.float32(PIXEL_SCALE)
    proto = snn_onnx.to_onnx(_HookedClassifier(model, classes, stats))
    probs, labels = _run_ort(proto, X)
    expected = predict_proba(model, apply_preprocessing(X, stats))
    np.testing.assert_allclose(probs, expected, rtol=0, atol=TOL)
    np.testing.assert_array_equal(labels, classes[np.argmax(model.loss(apply_preprocessing(X, stats)), axis=1)])
    assert json.loads({p.key: p.value for p in proto.metadata_props}["training"]) == {"hidden_layer_sizes": [16]}


def test_a_regressor_through_the_hook_outputs_its_prediction(raw):
    model = FullyConnectedNet([16], input_dim=784, num_classes=1, normalization="layernorm")
    X = raw["X_test"].astype(np.float32) * np.float32(PIXEL_SCALE)

    class Regressor:
        def swiftnn_export_spec(self):
            return {"model": model, "task": "regressor", "ravel": True}

    proto = snn_onnx.to_onnx(Regressor())
    assert [o.name for o in proto.graph.output] == ["prediction"]
    (prediction,) = _run_ort(proto, X)
    assert prediction.shape == (N_TEST,) and prediction.dtype == np.float32
    np.testing.assert_allclose(prediction, model.loss(X)[:, 0], rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits (8x8 images, 16 grey levels) scaled to 0..1: exact in float32, so
    the graph's float32 input is the estimator's input."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


@pytest.mark.parametrize("labels", ["strings", "sparse_integers"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_fitted_mlpclassifier_exports_its_predict_proba_and_its_class_labels(digits, dtype, labels):
    from swiftnn.sklearn import MLPClassifier

    X, digit = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    y = names[digit] if labels == "strings" else digit * 7 - 20   # -20, -13, ..., 43
    est = MLPClassifier((24, 16), normalization="batchnorm", max_iter=15, random_state=0, dtype=dtype)
    with pytest.warns(Warning):   # ConvergenceWarning: 15 epochs are enough to test with
        est.fit(X[:500], y[:500])
    proto = snn_onnx.to_onnx(est)
    probs, label = _run_ort(proto, X[500:])
    expected = est.predict_proba(X[500:])
    np.testing.assert_allclose(probs, expected, rtol=0, atol=TOL)
    assert label.dtype == (object if labels == "strings" else np.int64)
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > TOL
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(label[clear], est.predict(X[500:])[clear])
    training = json.loads({p.key: p.value for p in proto.metadata_props}["training"])
    assert training["hidden_layer_sizes"] == [24, 16] and training["dtype"] == dtype
    assert json.loads({p.key: p.value for p in proto.metadata_props}["network"])["dtype"] == dtype


@pytest.mark.parametrize("outputs", [1, 2])
def test_a_fitted_mlpregressor_exports_its_predict(digits, outputs):
    from swiftnn.sklearn import MLPRegressor

    X, digit = digits
    y = digit / 9.0 if outputs == 1 else np.stack([digit / 9.0, X[:, 20:30].mean(axis=1)], axis=1)
    est = MLPRegressor((16,), normalization="layernorm", max_iter=10, random_state=0)
    with pytest.warns(Warning):
        est.fit(X[:500], y[:500])
    proto = snn_onnx.to_onnx(est)
    (prediction,) = _run_ort(proto, X[500:])
    expected = est.predict(X[500:])
    assert prediction.shape == expected.shape == ((100,) if outputs == 1 else (100, 2))
    np.testing.assert_allclose(prediction, expected, rtol=0, atol=TOL)


def test_an_unfitted_estimator_is_not_exported():
    from sklearn.exceptions import NotFittedError

    from swiftnn.sklearn import MLPClassifier, MLPRegressor

    for est in (MLPClassifier(), MLPRegressor()):
        with pytest.raises(NotFittedError):
            snn_onnx.to_onnx(est)


def test_float_class_labels_are_refused_naming_the_estimator(digits):
    from swiftnn.sklearn import MLPClassifier

    X, digit = digits
    est = MLPClassifier((8,), max_iter=2, random_state=0)
    with pytest.warns(Warning):
        est.fit(X[:100], digit[:100] + 1.0)   # float labels: classes_ 1.0 ... 10.0
    with pytest.raises(ValueError, match="MLPClassifier: classes must be 10 integer or string labels"):
        snn_onnx.to_onnx(est)


# ------------------------------------------------------------------------------------------
# bad input

@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    np.random.seed(0)
    cfg = {"dataset": "fashion-mnist", "hidden": [8], "normalization": "batchnorm", "lr": 1e-3}
    model = build_model(cfg, 784, 10)
    X = np.random.rand(20, 784)
    model.loss(X, np.arange(20) % 10)  # batchnorm's running statistics
    path = tmp_path_factory.mktemp("ckpt") / "model.npz"
    save_checkpoint(path, model, cfg, preprocess=fit_preprocessing(X, "mean"))
    return path, model, cfg


def test_a_format_1_checkpoint_is_refused_naming_the_file(small_checkpoint, tmp_path):
    path, model, cfg = small_checkpoint
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "checksum"}
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 1
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "v1.npz", **arrays)
    with pytest.raises(ValueError, match="v1.npz: checkpoint format version 1 .* is not exported"):
        snn_onnx.export(tmp_path / "v1.npz", tmp_path / "v1.onnx")
    assert not (tmp_path / "v1.onnx").exists()


def test_damaged_and_missing_files_are_refused_naming_the_file(small_checkpoint, tmp_path):
    path, _, _ = small_checkpoint
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.npz: .*truncated or damaged"):
        snn_onnx.to_onnx(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="text.npz: not a readable swiftnn checkpoint"):
        snn_onnx.to_onnx(str(tmp_path / "text.npz"))
    with pytest.raises(FileNotFoundError, match="nothing.npz: no such checkpoint"):
        snn_onnx.to_onnx(tmp_path / "nothing.npz")


def test_unknown_layer_kinds_are_refused(small_checkpoint, tmp_path):
    path, model, cfg = small_checkpoint
    save_checkpoint(tmp_path / "gn.npz", model, dict(cfg, normalization="groupnorm"))
    with pytest.raises(ValueError, match="gn.npz: unknown layer kind: normalization 'groupnorm'"):
        snn_onnx.to_onnx(tmp_path / "gn.npz")
    save_checkpoint(tmp_path / "tanh.npz", model, dict(cfg, activation="tanh"))
    with pytest.raises(ValueError, match="tanh.npz: unknown layer kind: activation 'tanh'"):
        snn_onnx.to_onnx(tmp_path / "tanh.npz")
    model._activation = "gelu"
    with pytest.raises(ValueError, match="FullyConnectedNet: unknown layer kind: activation 'gelu'"):
        snn_onnx.to_onnx(model)


def test_the_small_checkpoint_itself_exports(small_checkpoint):
    path, model, _ = small_checkpoint
    (probs, _), X = _run_ort(snn_onnx.to_onnx(path), np.full((2, 784), 128.0)), np.full((2, 784), 128.0)
    ckpt = load_checkpoint(path)
    np.testing.assert_allclose(probs, predict_proba(model, preprocess(X, ckpt.preprocess, "fashion-mnist")),
                               rtol=0, atol=TOL)


def test_other_bad_sources_and_options_are_refused(small_checkpoint):
    _, _, cfg = small_checkpoint
    model = build_model(cfg, 784, 10)
    with pytest.raises(TypeError, match="source must be a swiftnn model, a checkpoint path or a fitted"):
        snn_onnx.to_onnx(np.zeros((3, 3)))
    for opset in (16, 10**6, 17.0, True):
        with pytest.raises(ValueError, match="opset must be an integer from 17"):
            snn_onnx.to_onnx(model, opset=opset)
    model.params["W1"][3, 4] = np.nan
    with pytest.raises(ValueError, match="W1 holds NaN or infinite values"):
        snn_onnx.to_onnx(model)
    model = build_model(cfg, 784, 10)
    model.params["b1"] = np.zeros(7, np.float32)
    with pytest.raises(ValueError, match=r"params\['b1'\] has shape \(7,\)"):
        snn_onnx.to_onnx(model)


# ------------------------------------------------------------------------------------------
# swiftnn export

def swiftnn(*args, timeout=300):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("SWIFTNN_DATA", None)
    return subprocess.run([sys.executable, "-m", "swiftnn"] + [str(a) for a in args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_an_exported_train_checkpoint_scores_what_evaluate_scores_on_the_raw_test_images(raw, tmp_path):
    out = tmp_path / "run"
    p = swiftnn("train", "--num-train", "1000", "--num-val", "200", "--hidden", "32", "16", "--batch-size", "100",
                "--epochs", "2", "--preprocess", "standardize", "--no-plots", "--out", out)
    assert p.returncode == 0, p.stderr
    p = swiftnn("export", out / "model.npz", "-o", tmp_path / "model.onnx")
    assert p.returncode == 0 and "wrote %s" % (tmp_path / "model.onnx") in p.stdout, p.stderr
    ev = swiftnn("evaluate", out / "model.npz")
    assert ev.returncode == 0, ev.stderr

    _, _, X_test, y_test = load_raw("fashion-mnist")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    probs, labels = session.run(None, {"input": X_test.astype(np.float32)})
    ckpt = load_checkpoint(out / "model.npz")
    ours = predict_proba(ckpt.build_model(), preprocess(X_test, ckpt.preprocess, "fashion-mnist"))
    np.testing.assert_allclose(probs, ours, rtol=0, atol=TOL)
    np.testing.assert_array_equal(labels, np.argmax(ours, axis=1))
    accuracy = float(np.mean(labels == y_test))
    line = next(l for l in ev.stdout.splitlines() if "model.npz" in l)
    assert "%6.2f%%" % (100 * accuracy) in line, (line, accuracy)
    assert "%6.2f%%" % (100 * ckpt.meta["test_acc"]) in line


def test_swiftnn_export_refuses_bad_input_with_one_line_and_exit_status_2(small_checkpoint, tmp_path):
    path, model, cfg = small_checkpoint
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "checksum"}
    arrays["meta"] = np.array(json.dumps(dict(json.loads(str(arrays["meta"])), version=1)))
    np.savez(tmp_path / "v1.npz", **arrays)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 3])
    save_checkpoint(tmp_path / "gn.npz", model, dict(cfg, normalization="groupnorm"))
    cases = [(tmp_path / "v1.npz", "checkpoint format version 1"), (tmp_path / "cut.npz", "truncated or damaged"),
             (tmp_path / "gn.npz", "unknown layer kind: normalization 'groupnorm'"),
             (tmp_path / "none.npz", "no such checkpoint")]
    for bad, message in cases:
        p = swiftnn("export", bad, "-o", tmp_path / "out.onnx")
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
        assert lines[0].startswith("swiftnn export: error: ") and str(bad) in lines[0] and message in lines[0], lines
        assert not (tmp_path / "out.onnx").exists()
    p = swiftnn("export", path, "-o", tmp_path / "no" / "such" / "folder" / "m.onnx")
    assert p.returncode == 2 and "cannot write the model" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = swiftnn("export", path, "-o", tmp_path / "m.onnx", "--opset", "12")
    assert p.returncode == 2 and "opset must be an integer from 17" in p.stderr
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"
