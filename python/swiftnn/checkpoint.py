"""Checkpoints of ``swiftnn train``: one ``.npz`` file (NumPy's zip of arrays, read without
pickle) that is enough to evaluate a network or to continue training it.

Keys:

- ``param/<name>``: every model parameter (W1, b1, ..., gamma1, beta1, ...).
- ``bn/<l>/running_mean``, ``bn/<l>/running_var``: batchnorm running statistics of hidden layer l.
- ``optim/<name>/<key>``: the update rule's state arrays per parameter (m, v, velocity, cache);
  the scalar state (t, the current learning_rate, ...) is in ``optim_scalars`` (JSON).
- ``preprocess/mean``, ``preprocess/scale``: the preprocessing fitted on the training rows, so
  that new images are prepared exactly as the training images were.
- ``loss_history``, ``train_acc_history``, ``val_acc_history``: the histories of all epochs so far.
- ``config`` (JSON): the ``swiftnn train`` settings; ``meta`` (JSON): format name and version,
  layer sizes, dataset, epochs done, best validation accuracy and its epoch, test accuracy.

Files are written atomically (a temporary file in the same folder, then a rename), so an
interrupted run leaves the previous checkpoint intact.
"""
import io
import json
import os
import uuid
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint", "CheckpointError", "FORMAT", "VERSION"]

FORMAT = "swiftnn-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable swiftnn checkpoint."""


class Checkpoint:
    """What load_checkpoint returns. Attributes: path, config (dict), meta (dict), params,
    bn_stats (list of {'running_mean', 'running_var'} per hidden layer, or []), optim_state
    ({param: {key: array or scalar}}), loss_history, train_acc_history, val_acc_history,
    preprocess ({'method', 'mean', 'scale'})."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def epoch(self):
        return int(self.meta.get("epoch", 0))

    @property
    def dims(self):
        return list(self.meta["dims"])

    def build_model(self, dtype=np.float32):
        """A FullyConnectedNet with this checkpoint's architecture, parameters and batchnorm
        statistics (ready to evaluate, or to train further)."""
        from .experiment import build_model

        dims = self.dims
        model = build_model(self.config, dims[0], dims[-1], dtype=dtype)
        for name, value in self.params.items():
            if name not in model.params or model.params[name].shape != value.shape:
                raise CheckpointError("%s: parameter %s of shape %s does not fit the network %s"
                                      % (self.path, name, value.shape, "-".join(map(str, dims))))
            model.params[name] = np.array(value, dtype=dtype)
        missing = set(model.params) - set(self.params)
        if missing:
            raise CheckpointError("%s: parameters %s are missing" % (self.path, ", ".join(sorted(missing))))
        if model.normalization == "batchnorm":
            if len(self.bn_stats) != len(model.bn_params):
                raise CheckpointError("%s: batchnorm statistics for %d layers, the network has %d"
                                      % (self.path, len(self.bn_stats), len(model.bn_params)))
            for p, stats in zip(model.bn_params, self.bn_stats):
                p["running_mean"] = np.array(stats["running_mean"], dtype=dtype)
                p["running_var"] = np.array(stats["running_var"], dtype=dtype)
        return model


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError("not JSON serializable: %r" % (value,))


def save_checkpoint(path, model, config, *, loss_history=(), train_acc_history=(), val_acc_history=(),
                    optim_state=None, preprocess=None, meta=None):
    """Write model (params and batchnorm statistics), config, histories, optimizer state and
    preprocessing to path (.npz) atomically. meta adds to the stored metadata."""
    arrays = {}
    for name, value in model.params.items():
        arrays["param/" + name] = np.asarray(value)
    for l, p in enumerate(getattr(model, "bn_params", []) or []):
        for key in ("running_mean", "running_var"):
            if key in p:
                arrays["bn/%d/%s" % (l, key)] = np.asarray(p[key])
    scalars = {}
    for name, state in (optim_state or {}).items():
        scalars[name] = {}
        for key, value in state.items():
            if isinstance(value, np.ndarray) and value.ndim > 0:
                arrays["optim/%s/%s" % (name, key)] = value
            elif value is None or isinstance(value, (bool, int, float, str, np.generic, np.ndarray)):
                scalars[name][key] = value.item() if isinstance(value, (np.generic, np.ndarray)) else value
    if preprocess is not None:
        arrays["preprocess/mean"] = np.asarray(preprocess["mean"])
        arrays["preprocess/scale"] = np.asarray(preprocess["scale"])
    arrays["loss_history"] = np.asarray(loss_history, dtype=np.float64)
    arrays["train_acc_history"] = np.asarray(train_acc_history, dtype=np.float64)
    arrays["val_acc_history"] = np.asarray(val_acc_history, dtype=np.float64)
    info = {"format": FORMAT, "version": VERSION, "dims": list(getattr(model, "_dims", [])),
            "preprocess": None if preprocess is None else preprocess["method"]}
    info.update(meta or {})
    arrays["meta"] = np.array(json.dumps(info, default=_json_default))
    arrays["config"] = np.array(json.dumps(config, default=_json_default))
    arrays["optim_scalars"] = np.array(json.dumps(scalars, default=_json_default))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / (".%s.%s.tmp" % (path.name, uuid.uuid4().hex[:12]))
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return path


def load_checkpoint(path):
    """A Checkpoint from path; FileNotFoundError when it is missing, CheckpointError (a
    ValueError) naming the file when it is not a swiftnn checkpoint or is damaged."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError("%s: no such checkpoint (swiftnn train writes model.npz into its --out folder)" % path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, io.UnsupportedOperation) as e:
        raise CheckpointError("%s: not a readable swiftnn checkpoint (%s)" % (path, e)) from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
        config = json.loads(str(arrays.pop("config")))
        scalars = json.loads(str(arrays.pop("optim_scalars", np.array("{}"))))
    except (KeyError, ValueError) as e:
        raise CheckpointError("%s: not a swiftnn checkpoint (no readable meta/config: %s)" % (path, e)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError("%s: not a swiftnn checkpoint (format %r)" % (path, meta.get("format") if isinstance(meta, dict) else meta))
    if int(meta.get("version", 0)) > VERSION:
        raise CheckpointError("%s: checkpoint format version %s is newer than this swiftnn reads (%d)"
                              % (path, meta.get("version"), VERSION))
    params, bn, optim = {}, {}, {}
    for key, value in arrays.items():
        parts = key.split("/")
        if parts[0] == "param" and len(parts) == 2:
            params[parts[1]] = value
        elif parts[0] == "bn" and len(parts) == 3:
            bn.setdefault(int(parts[1]), {})[parts[2]] = value
        elif parts[0] == "optim" and len(parts) == 3:
            optim.setdefault(parts[1], {})[parts[2]] = value
    for name, values in scalars.items():
        optim.setdefault(name, {}).update(values)
    if not params:
        raise CheckpointError("%s: the checkpoint holds no parameters" % path)
    for key in ("hidden",):
        if key not in config:
            raise CheckpointError("%s: the checkpoint's config has no %r" % (path, key))
    preprocess = None
    if "preprocess/mean" in arrays:
        preprocess = {"method": meta.get("preprocess") or "mean", "mean": arrays["preprocess/mean"],
                      "scale": arrays["preprocess/scale"]}
    return Checkpoint(path=path, config=config, meta=meta, params=params,
                      bn_stats=[bn[l] for l in sorted(bn)], optim_state=optim,
                      loss_history=list(arrays.get("loss_history", [])),
                      train_acc_history=list(arrays.get("train_acc_history", [])),
                      val_acc_history=list(arrays.get("val_acc_history", [])), preprocess=preprocess)
