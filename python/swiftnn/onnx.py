"""ONNX export of a trained network, with its preprocessing inside the graph.

``export(source, path)`` writes an ONNX model that runs in onnxruntime (or any ONNX runtime)
without swiftnn. ``source`` is one of:

- a swiftnn model (``FullyConnectedNet``, ``TwoLayerNet``, ``NeuralNetTwoLayerNet``): the
  graph takes the rows the model's ``loss`` takes, unchanged;
- the path of a checkpoint written by ``swiftnn train`` (format version 2): the graph takes the
  rows as the dataset stores them (Fashion-MNIST: 784 pixel values 0-255 per row; CIFAR-10:
  3072 values 0-255 in the pickles' order) and applies the checkpoint's preprocessing (pixel
  scaling, the mean image, standardization) first, as ``swiftnn evaluate`` does;
- an estimator implementing the export hook: a method ``swiftnn_export_spec()`` returning a
  dict with ``model`` (its fitted swiftnn network), ``task`` ('classifier' or 'regressor'), and
  optionally ``classes`` (the class labels in column order; integers or strings), ``preprocess`` (a
  ``{'method', 'mean', 'scale'}`` applied to the input rows, as in :mod:`swiftnn.data`),
  ``ravel`` (a regressor fitted on 1-D targets: ``prediction`` of shape (N,)) and ``settings``
  (its training settings, stored in the metadata).

The graph: input ``input`` float32 (N, D) with a dynamic batch dimension N; the preprocessing;
per layer Gemm, BatchNormalization (inference: the running statistics and eps) or
LayerNormalization, Relu or LeakyRelu (the model's slope); no dropout (inference scales
nothing: the engine's dropout is inverted). A classifier's outputs are ``probabilities``
(N, C) float32 (softmax of the scores) and ``label`` (N,) int64 (the highest score, or the
class label it stands for; a string tensor when the classes are strings); a regressor's is
``prediction`` float32. A network trained in
float64 computes in float64 inside the graph (the input and outputs stay float32).
Metadata (``metadata_props``): ``swiftnn_version``, ``network`` (JSON: layer sizes,
normalization, eps, activation, slope, dtype), ``training`` (JSON: the settings it was trained
with), ``preprocessing`` (JSON) and, for a checkpoint, ``dataset`` and ``classes``.

The model declares the lowest IR version its opset needs (IR 8 for opset 17), which every
onnxruntime since 1.13 reads.
"""
import json
import os
import uuid
from pathlib import Path

import numpy as np

__all__ = ["export", "to_onnx", "MIN_OPSET"]

# LayerNormalization entered the standard operator set at version 17.
MIN_OPSET = 17
_NORMS = (None, "batchnorm", "layernorm")
_ACTIVATIONS = ("relu", "leaky_relu")


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("swiftnn.onnx needs the onnx package: pip install 'swiftnn[onnx]' "
                          "(or pip install onnx onnxruntime)") from None
    return onnx


def _check_opset(opset, onnx):
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= newest:
        raise ValueError("opset must be an integer from %d (LayerNormalization) to %d (the newest the installed "
                         "onnx %s knows), got %r" % (MIN_OPSET, newest, onnx.__version__, opset))
    return int(opset)


class _Spec:
    """What the graph is built from: the network's layers and parameters, the preprocessing of the
    input rows, the task and the metadata."""

    def __init__(self, model, *, task="classifier", classes=None, preprocess=None, pixel_scale=1.0,
                 ravel=False, settings=None, extra_meta=None, where="model"):
        from .models import _PlannedNet

        if not isinstance(model, _PlannedNet):
            raise TypeError("%s: expected a swiftnn model (FullyConnectedNet, TwoLayerNet or NeuralNetTwoLayerNet), "
                            "got %s" % (where, type(model).__name__))
        norm = getattr(model, "_norm", None)
        activation = getattr(model, "_activation", None)
        if norm not in _NORMS:
            raise ValueError("%s: unknown layer kind: normalization %r (ONNX export knows batchnorm and layernorm)"
                             % (where, norm))
        if activation not in _ACTIVATIONS:
            raise ValueError("%s: unknown layer kind: activation %r (ONNX export knows relu and leaky_relu)"
                             % (where, activation))
        if task not in ("classifier", "regressor"):
            raise ValueError("%s: task must be 'classifier' or 'regressor', got %r" % (where, task))
        self.where = where
        self.dims = [int(d) for d in model._dims]
        self.norm, self.activation, self.leak = norm, activation, float(model._leak)
        self.dtype = np.dtype(model._compute_dtype())
        self.task, self.ravel = task, bool(ravel)
        self.params = {}
        for name, shape in zip(model._names, model._shapes):
            if name not in model.params:
                raise ValueError("%s: params has no %r" % (where, name))
            value = np.asarray(model.params[name])
            if value.dtype.kind not in "biuf" or value.shape != tuple(shape):
                raise ValueError("%s: params[%r] has shape %s and dtype %s, expected shape %s of real numbers"
                                 % (where, name, value.shape, value.dtype, tuple(shape)))
            self.params[name] = self._finite(name, value)
        hidden = len(self.dims) - 2
        bn_params = list(getattr(model, "bn_params", None) or [{} for _ in range(hidden)])
        if norm is not None and len(bn_params) != hidden:
            raise ValueError("%s: bn_params has %d entries for %d hidden layers" % (where, len(bn_params), hidden))
        self.eps = [float(p.get("eps", 1e-5)) for p in bn_params] if norm is not None else []
        self.running = []
        if norm == "batchnorm":
            for l, p in enumerate(bn_params):
                h = self.dims[l + 1]
                # The engine runs a model without statistics on zeros, as the course initializes them.
                stats = [np.zeros(h) if p.get(k) is None else np.asarray(p[k]) for k in ("running_mean", "running_var")]
                for key, s in zip(("running_mean", "running_var"), stats):
                    if s.shape != (h,):
                        raise ValueError("%s: bn_params[%d][%r] has shape %s, expected (%d,)" % (where, l, key, s.shape, h))
                    self._finite("bn_params[%d][%r]" % (l, key), s)
                self.running.append(stats)
        self.num_classes = self.dims[-1]
        self.classes = None
        if classes is not None:
            classes = np.asarray(classes)
            strings = classes.dtype.kind == "U" or (classes.dtype.kind == "O" and
                                                    all(isinstance(c, str) for c in classes.ravel()))
            if not (classes.dtype.kind in "iub" or strings) or classes.shape != (self.num_classes,):
                raise ValueError("%s: classes must be %d integer or string labels (one per output column), got %s "
                                 "of %s" % (where, self.num_classes, classes.shape, classes.dtype))
            # string labels make a string `label` output, as the estimator's predict returns them
            self.classes = np.array([str(c) for c in classes], dtype=object) if strings else classes.astype(np.int64)
        self.preprocess = None
        if preprocess is not None and (preprocess.get("method") != "none" or pixel_scale != 1.0):
            method = preprocess.get("method")
            if method not in ("mean", "standardize", "none"):
                raise ValueError("%s: unknown preprocessing %r" % (where, method))
            D = self.dims[0]
            mean = np.asarray(preprocess.get("mean", np.zeros(D)))
            scale = np.asarray(preprocess.get("scale", np.ones(D)))
            for key, a in (("mean", mean), ("scale", scale)):
                if method != "none" and a.shape not in ((D,), ()):
                    raise ValueError("%s: the preprocessing %s has shape %s; the network takes %d inputs"
                                     % (where, key, a.shape, D))
                self._finite("preprocessing " + key, a)
            self.preprocess = {"method": method, "mean": mean, "scale": scale, "pixel_scale": float(pixel_scale)}
        self.settings = dict(settings or {})
        self.extra_meta = dict(extra_meta or {})

    def _finite(self, name, value):
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ValueError("%s: %s holds NaN or infinite values" % (self.where, name))
        return value

    def network_info(self):
        return {"dims": self.dims, "normalization": self.norm or "none", "eps": self.eps,
                "activation": self.activation, "leak": self.leak, "dtype": self.dtype.name,
                "task": self.task}


def _model_spec(model):
    settings = {}
    for key in ("reg", "use_dropout", "dropout_param", "normalization", "num_layers"):
        if hasattr(model, key):
            settings[key] = getattr(model, key)
    # a model trained with the squared-error loss outputs its scores as they are
    task = "regressor" if getattr(model, "_loss", "softmax") == "squared" else "classifier"
    return _Spec(model, task=task, settings=settings, where=type(model).__name__)


def _checkpoint_spec(path):
    from .checkpoint import load_checkpoint
    from .data import DATASETS

    ckpt = load_checkpoint(path)  # FileNotFoundError / CheckpointError naming the file
    if ckpt.version < 2:
        raise ValueError("%s: checkpoint format version %d (no checksum, so its contents cannot be verified) is "
                         "not exported; train it anew or resume it with this swiftnn's swiftnn train"
                         % (path, ckpt.version))
    dataset = ckpt.config.get("dataset", "fashion-mnist")
    if dataset not in DATASETS:
        raise ValueError("%s: unknown dataset %r in the checkpoint's settings" % (path, dataset))
    info = DATASETS[dataset]
    w1 = np.asarray(ckpt.params.get("W1", np.zeros(0, np.float32)))
    dtype = np.float64 if w1.dtype == np.float64 else np.float32
    norm = ckpt.config.get("normalization", "none")
    if norm not in ("none", None, "batchnorm", "layernorm"):
        raise ValueError("%s: unknown layer kind: normalization %r" % (path, norm))
    activation = ckpt.config.get("activation", "relu")
    if activation not in _ACTIVATIONS:
        raise ValueError("%s: unknown layer kind: activation %r" % (path, activation))
    try:
        model = ckpt.build_model(dtype=dtype)
    except (TypeError, ValueError) as e:
        msg = str(e)
        raise ValueError(msg if str(path) in msg else "%s: %s" % (path, msg)) from None
    preprocess = ckpt.preprocess or {"method": "none"}
    if len(info["classes"]) != model._dims[-1]:
        raise ValueError("%s: the network has %d outputs but %s has %d classes"
                         % (path, model._dims[-1], dataset, len(info["classes"])))
    extra = {"dataset": dataset, "classes": json.dumps(list(info["classes"])),
             "checkpoint": json.dumps({k: ckpt.meta.get(k) for k in ("epoch", "best_val_acc", "best_epoch",
                                                                     "test_acc") if k in ckpt.meta})}
    return _Spec(model, preprocess=preprocess, pixel_scale=info["pixel_scale"], settings=ckpt.config,
                 extra_meta=extra, where=str(path))


def _hook_spec(estimator):
    where = type(estimator).__name__
    spec = estimator.swiftnn_export_spec()
    if not isinstance(spec, dict) or "model" not in spec:
        raise TypeError("%s.swiftnn_export_spec() must return a dict with 'model', got %r" % (where, type(spec).__name__))
    unknown = set(spec) - {"model", "task", "classes", "preprocess", "ravel", "settings"}
    if unknown:
        raise ValueError("%s.swiftnn_export_spec(): unknown key(s) %s" % (where, ", ".join(sorted(unknown))))
    return _Spec(spec["model"], task=spec.get("task", "classifier"), classes=spec.get("classes"),
                 preprocess=spec.get("preprocess"), ravel=spec.get("ravel", False), settings=spec.get("settings"),
                 where=where)


def _spec(source):
    from .models import _PlannedNet

    if isinstance(source, _PlannedNet):
        return _model_spec(source)
    if isinstance(source, (str, os.PathLike)):
        return _checkpoint_spec(Path(source))
    if callable(getattr(source, "swiftnn_export_spec", None)):
        return _hook_spec(source)
    raise TypeError("export: source must be a swiftnn model, a checkpoint path or a fitted swiftnn estimator, got %s"
                    % type(source).__name__)


def _json(value):
    def default(v):
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
        return str(v)
    return json.dumps(value, default=default, sort_keys=True)


def _graph(spec):
    from onnx import TensorProto, helper, numpy_helper

    dt = spec.dtype
    elem = TensorProto.DOUBLE if dt == np.float64 else TensorProto.FLOAT
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dt), name))
        return name

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    x = "input"
    if dt != np.float32:
        x = node("Cast", [x], "input_" + dt.name, to=elem)
    pre = spec.preprocess
    if pre is not None:
        # The same operations in the same order and precision as data.apply_preprocessing.
        if pre["pixel_scale"] != 1.0:
            x = node("Mul", [x, const("pixel_scale", dt.type(pre["pixel_scale"]))], "scaled")
        if pre["method"] != "none":
            x = node("Sub", [x, const("mean", pre["mean"])], "centered")
        if pre["method"] == "standardize":
            x = node("Div", [x, const("scale", pre["scale"])], "standardized")
    layers = len(spec.dims) - 1
    for l in range(1, layers + 1):
        x = node("Gemm", [x, const("W%d" % l, spec.params["W%d" % l]), const("b%d" % l, spec.params["b%d" % l])],
                 "affine%d" % l)
        if l == layers:
            break
        gamma = "gamma%d" % l
        if spec.norm == "batchnorm":
            mean, var = spec.running[l - 1]
            x = node("BatchNormalization", [x, const(gamma, spec.params[gamma]),
                                            const("beta%d" % l, spec.params["beta%d" % l]),
                                            const("running_mean%d" % l, mean), const("running_var%d" % l, var)],
                     "batchnorm%d" % l, epsilon=spec.eps[l - 1])
        elif spec.norm == "layernorm":
            x = node("LayerNormalization", [x, const(gamma, spec.params[gamma]),
                                            const("beta%d" % l, spec.params["beta%d" % l])],
                     "layernorm%d" % l, axis=-1, epsilon=spec.eps[l - 1])
        if spec.activation == "relu":
            x = node("Relu", [x], "relu%d" % l)
        else:
            x = node("LeakyRelu", [x], "leaky_relu%d" % l, alpha=spec.leak)
    scores = x
    n = "N"
    outputs = []
    if spec.task == "classifier":
        probs = node("Softmax", [scores], "probabilities" if dt == np.float32 else "probabilities_" + dt.name, axis=1)
        if dt != np.float32:
            probs = node("Cast", [probs], "probabilities", to=TensorProto.FLOAT)
        if spec.classes is None:
            node("ArgMax", [scores], "label", axis=1, keepdims=0)
        else:
            column = node("ArgMax", [scores], "column", axis=1, keepdims=0)
            inits.append(numpy_helper.from_array(spec.classes, "classes"))
            node("Gather", ["classes", column], "label", axis=0)
        strings = spec.classes is not None and spec.classes.dtype == object
        label_type = TensorProto.STRING if strings else TensorProto.INT64
        outputs = [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [n, spec.num_classes]),
                   helper.make_tensor_value_info("label", label_type, [n])]
    else:
        out = scores
        if spec.ravel:
            if spec.num_classes != 1:
                raise ValueError("%s: ravel is for a network with one output, this one has %d"
                                 % (spec.where, spec.num_classes))
            inits.append(numpy_helper.from_array(np.array([-1], np.int64), "flat_shape"))
            out = node("Reshape", [out, "flat_shape"], "prediction" if dt == np.float32 else "prediction_" + dt.name)
        elif dt == np.float32:
            out = node("Identity", [out], "prediction")
        if dt != np.float32:
            node("Cast", [out], "prediction", to=TensorProto.FLOAT)
        shape = [n] if spec.ravel else [n, spec.num_classes]
        outputs = [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, shape)]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, spec.dims[0]])]
    return helper.make_graph(nodes, "swiftnn", inputs, outputs, inits,
                             doc_string="swiftnn %s network %s" % (spec.task, "-".join(map(str, spec.dims))))


def to_onnx(source, *, opset=MIN_OPSET):
    """The ``onnx.ModelProto`` of source (see the module docstring), checked by
    ``onnx.checker.check_model(full_check=True)``."""
    onnx = _onnx()
    from onnx import helper

    from . import __version__

    opset = _check_opset(opset, onnx)
    spec = _spec(source)
    graph = _graph(spec)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="swiftnn", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets),
                              doc_string="Exported by swiftnn.onnx.export: preprocessing and network in one graph.")
    meta = {"swiftnn_version": __version__, "network": _json(spec.network_info()), "training": _json(spec.settings),
            "preprocessing": _json(None if spec.preprocess is None else
                                   {"method": spec.preprocess["method"], "pixel_scale": spec.preprocess["pixel_scale"]})}
    meta.update(spec.extra_meta)
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    return model


def export(source, path, *, opset=MIN_OPSET):
    """Write source (a swiftnn model, a checkpoint path or an estimator with the export hook) to
    path as an ONNX model; returns path. The file is written to a temporary name in the same
    folder and renamed, so path never holds half a model; an OSError names path when it cannot
    be written."""
    model = to_onnx(source, opset=opset)
    path = Path(path)
    tmp = path.parent / (".%s.%s.tmp" % (path.name, uuid.uuid4().hex[:12]))
    try:
        with open(tmp, "wb") as f:
            f.write(model.SerializeToString())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OSError("%s: cannot write the model (%s)" % (path, e.strerror or e)) from None
        raise
    return path
