"""Checkpoints of ``swiftnn train``: one ``.npz`` file (NumPy's zip of arrays, read without
pickle) that is enough to evaluate a network or to continue training it exactly.

Keys (format version 2):

- ``param/<name>``: the model parameters to use (W1, b1, ..., gamma1, beta1, ...): the best
  so far by validation accuracy, which is what ``swiftnn evaluate`` scores.
- ``bn/<l>/running_mean``, ``bn/<l>/running_var``: their batchnorm running statistics (hidden
  layer l).
- ``trainer/params``, ``trainer/running``, ``trainer/optim_state``, ``trainer/best_params``,
  ``trainer/best_running``: the native trainer's flat buffers (current parameters and running
  statistics, the update rule's two state buffers, the best snapshot); with ``trainer`` (JSON:
  update rule, next iteration, epochs done, best validation accuracy, the parameter layout)
  and the histories they are :meth:`swiftnn.Trainer.state`, from which ``Trainer.train(resume=)``
  continues exactly as the uninterrupted run. The minibatch, dropout and accuracy-sample
  streams are functions of the seed (in ``config``) and the iteration, so nothing else is needed.
- ``preprocess/mean``, ``preprocess/scale``: the preprocessing fitted on the training rows, so
  that new images are prepared exactly as the training images were.
- ``loss_history``, ``train_acc_history``, ``val_acc_history``: the histories of all epochs so far.
- ``config`` (JSON): the ``swiftnn train`` settings; ``meta`` (JSON): format name and version,
  layer sizes, dataset, epochs done, best validation accuracy and its epoch, test accuracy.
- ``checksum``: ``sha256:<hex>`` over every other entry, in sorted key order, each as its key,
  dtype, shape and bytes (see :func:`checksum`).

Files are written atomically: a temporary file in the same folder, flushed and fsynced, renamed
over the old one with ``os.replace``, then the folder is fsynced; a crash or kill at any moment
leaves either the previous checkpoint or the new one, never a mix. Loading checks the zip's
CRCs, the format name and version and the checksum, and raises :class:`CheckpointError` (a
``ValueError``) naming the file and what is wrong. Version 1 files (written by the Solver-based
``swiftnn train``, without checksum or trainer state) still load for evaluation, not for
``--resume``.
"""
import hashlib
import json
import os
import uuid
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint", "checksum", "Checkpoint", "CheckpointError", "FORMAT",
           "VERSION"]

FORMAT = "swiftnn-checkpoint"
VERSION = 2


class CheckpointError(ValueError):
    """A file that is not a readable swiftnn checkpoint: truncated, damaged, of an unknown format
    version, or not a checkpoint at all. The message names the file."""


class Checkpoint:
    """What load_checkpoint returns. Attributes: path, version, config (dict), meta (dict),
    params (the best parameters), bn_stats (list of {'running_mean', 'running_var'} per hidden
    layer, or []), trainer_state (a dict for ``Trainer.train(resume=)``, or None for a version 1
    file), loss_history, train_acc_history, val_acc_history, preprocess ({'method', 'mean',
    'scale'} or None)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def epoch(self):
        return int(self.meta.get("epoch", 0))

    @property
    def dims(self):
        return list(self.meta["dims"])

    def build_model(self, dtype=np.float32):
        """A FullyConnectedNet with this checkpoint's architecture, (best) parameters and batchnorm
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
        if self.trainer_state is not None:
            layout = [(n, tuple(s)) for n, s in self.trainer_state["layout"]]
            if layout != list(zip(model._names, model._shapes)):
                raise CheckpointError("%s: the trainer state's parameter layout %s does not match the network's"
                                      % (self.path, layout))
        return model


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError("not JSON serializable: %r" % (value,))


def checksum(arrays):
    """``sha256:<hex>`` of a dict of arrays: for each key in sorted order, the length-prefixed
    JSON ``[key, dtype.str, shape]`` and then the length-prefixed C-order bytes of the array."""
    h = hashlib.sha256(b"swiftnn-checkpoint\0")
    for key in sorted(arrays):
        a = np.asarray(arrays[key], order="C")
        head = json.dumps([key, a.dtype.str, list(a.shape)]).encode()
        data = a.tobytes()
        h.update(len(head).to_bytes(8, "little"))
        h.update(head)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return "sha256:" + h.hexdigest()


def _split(flat, names, shapes):
    out, at = {}, 0
    for name, shape in zip(names, shapes):
        size = int(np.prod(shape))
        out[name] = np.asarray(flat[at:at + size]).reshape(shape)
        at += size
    return out


def _split_running(running, hidden):
    out, at = [], 0
    for h in hidden:
        out.append({"running_mean": np.asarray(running[at:at + h]), "running_var": np.asarray(running[at + h:at + 2 * h])})
        at += 2 * h
    return out


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # e.g. Windows, where directories cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path, model, config, *, trainer_state=None, loss_history=(), train_acc_history=(),
                    val_acc_history=(), preprocess=None, meta=None, model_params=False):
    """Write a checkpoint of model to path (.npz) atomically.

    trainer_state: a :meth:`swiftnn.Trainer.state` of a trainer of model. When given, the stored
    parameters are its best snapshot (or, with model_params, the model's current ones), its
    histories are stored, and the file can be resumed; otherwise the model's current parameters
    and the given histories are stored. config: the settings; preprocess: {'method', 'mean',
    'scale'}; meta adds to the stored metadata.
    """
    arrays = {}
    names, shapes = list(model._names), list(model._shapes)
    hidden = list(model._dims[1:-1])
    norm = getattr(model, "normalization", None)
    if trainer_state is not None:
        if model_params:
            params = model.params
            bn_stats = [p for p in (getattr(model, "bn_params", None) or []) if norm == "batchnorm"]
        else:
            params = _split(trainer_state["best_flat"], names, shapes)
            bn_stats = [] if trainer_state.get("best_running") is None else _split_running(trainer_state["best_running"], hidden)
        loss_history = trainer_state["loss_history"]
        train_acc_history = trainer_state["train_acc_history"]
        val_acc_history = trainer_state["val_acc_history"]
        for key, name in (("params", "params"), ("running", "running"), ("optim_state", "optim_state"),
                          ("best_flat", "best_params"), ("best_running", "best_running")):
            if trainer_state.get(key) is not None:
                arrays["trainer/" + name] = np.asarray(trainer_state[key])
        trainer_info = {"update_rule": trainer_state["update_rule"], "iteration": int(trainer_state["iteration"]),
                        "epoch": int(trainer_state["epoch"]), "best_val_acc": float(trainer_state["best_val_acc"]),
                        "layout": [[n, list(s)] for n, s in zip(names, shapes)]}
        arrays["trainer"] = np.array(json.dumps(trainer_info))
    else:
        params = model.params
        bn_stats = [p for p in (getattr(model, "bn_params", None) or []) if norm == "batchnorm"]
    for name, value in params.items():
        arrays["param/" + name] = np.asarray(value)
    for l, p in enumerate(bn_stats):
        for key in ("running_mean", "running_var"):
            if p.get(key) is not None:
                arrays["bn/%d/%s" % (l, key)] = np.asarray(p[key])
    if preprocess is not None:
        arrays["preprocess/mean"] = np.asarray(preprocess["mean"])
        arrays["preprocess/scale"] = np.asarray(preprocess["scale"])
    arrays["loss_history"] = np.asarray(loss_history, dtype=np.float64)
    arrays["train_acc_history"] = np.asarray(train_acc_history, dtype=np.float64)
    arrays["val_acc_history"] = np.asarray(val_acc_history, dtype=np.float64)
    info = {"format": FORMAT, "version": VERSION, "dims": list(model._dims),
            "preprocess": None if preprocess is None else preprocess["method"]}
    info.update(meta or {})
    arrays["meta"] = np.array(json.dumps(info, default=_json_default))
    arrays["config"] = np.array(json.dumps(config, default=_json_default))
    arrays = {k: np.asarray(v, order="C") for k, v in arrays.items()}
    arrays["checksum"] = np.array(checksum(arrays))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name lets a later save remove what a killed writer left behind.
    tmp = path.parent / (".%s.%d.%s.tmp" % (path.name, os.getpid(), uuid.uuid4().hex[:12]))
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
    _fsync_dir(path.parent)
    _remove_orphans(path)
    return path


def _remove_orphans(path):
    """Deletes temporary files of path left by writers that no longer run (killed mid-write)."""
    for tmp in path.parent.glob(".%s.*.tmp" % path.name):
        parts = tmp.name[len(path.name) + 2:].split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        try:
            os.kill(int(parts[0]), 0)
            continue  # its writer still runs
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            tmp.unlink()
        except OSError:
            pass


def _read_arrays(path):
    """Every array of the .npz at path, or CheckpointError saying why they cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise CheckpointError("%s: cannot read the checkpoint (%s)" % (path, e.strerror or e)) from None
    if head[:4] != b"PK\x03\x04":
        what = "it is empty" if not head else "a .npy array" if head[:1] == b"\x93" else "no zip header"
        raise CheckpointError("%s: not a readable swiftnn checkpoint: not an .npz archive (%s)" % (path, what))
    try:
        with zipfile.ZipFile(path) as z:
            z.namelist()
    except zipfile.BadZipFile as e:
        raise CheckpointError("%s: not a readable swiftnn checkpoint: the .npz archive is truncated or damaged "
                              "(%s)" % (path, e)) from None
    except Exception as e:  # noqa: BLE001 - a damaged directory can fail in many ways
        raise CheckpointError("%s: not a readable swiftnn checkpoint: the .npz archive is damaged (%s: %s)"
                              % (path, type(e).__name__, e)) from None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except MemoryError:
        raise CheckpointError("%s: damaged checkpoint: an array header asks for more memory than there is" % path) from None
    except Exception as e:  # noqa: BLE001 - bad CRC, bad .npy header, object arrays, short data...
        raise CheckpointError("%s: damaged checkpoint: an entry cannot be read (%s: %s)"
                              % (path, type(e).__name__, e)) from None


def _json(path, arrays, key, default=None):
    if key not in arrays:
        if default is not None:
            return default
        raise CheckpointError("%s: not a swiftnn checkpoint (no %r entry)" % (path, key))
    value = arrays[key]
    if value.shape != () or value.dtype.kind != "U":
        raise CheckpointError("%s: not a swiftnn checkpoint (%r is not a text entry)" % (path, key))
    try:
        return json.loads(str(value))
    except ValueError as e:
        raise CheckpointError("%s: damaged checkpoint: %r is not valid JSON (%s)" % (path, key, e)) from None


def load_checkpoint(path):
    """A Checkpoint from path; FileNotFoundError when it is missing, CheckpointError (a
    ValueError) naming the file when it is truncated, damaged, of an unknown format version or
    not a swiftnn checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError("%s: no such checkpoint (swiftnn train writes model.npz into its --out folder)" % path)
    arrays = _read_arrays(path)
    stored_sum = arrays.pop("checksum", None)
    if stored_sum is not None and (stored_sum.shape != () or stored_sum.dtype.kind != "U"):
        raise CheckpointError("%s: not a swiftnn checkpoint ('checksum' is not a text entry)" % path)
    computed_sum = checksum(arrays)
    damaged = stored_sum is not None and str(stored_sum) != computed_sum
    try:
        meta = _json(path, arrays, "meta")
    except CheckpointError:
        if damaged:
            raise CheckpointError("%s: damaged checkpoint: checksum mismatch" % path) from None
        raise
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        if damaged:
            raise CheckpointError("%s: damaged checkpoint: checksum mismatch" % path)
        raise CheckpointError("%s: not a swiftnn checkpoint (format %r)"
                              % (path, meta.get("format") if isinstance(meta, dict) else meta))
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError("%s: unknown checkpoint format version %r" % (path, version))
    if version > VERSION:
        raise CheckpointError("%s: checkpoint format version %d is newer than this swiftnn reads (up to %d); "
                              "upgrade swiftnn to read it" % (path, version, VERSION))
    if version >= 2:
        if stored_sum is None:
            raise CheckpointError("%s: damaged checkpoint: the checksum entry is missing" % path)
        if damaged:
            raise CheckpointError("%s: damaged checkpoint: checksum mismatch (stored %s, computed %s)"
                                  % (path, str(stored_sum)[:19] + "...", computed_sum[:19] + "..."))
    config = _json(path, arrays, "config")
    if not isinstance(config, dict) or "hidden" not in config:
        raise CheckpointError("%s: the checkpoint's config has no 'hidden'" % path)
    if "dims" not in meta:
        raise CheckpointError("%s: the checkpoint's metadata has no layer sizes ('dims')" % path)
    params, bn = {}, {}
    for key, value in arrays.items():
        parts = key.split("/")
        if parts[0] == "param" and len(parts) == 2:
            params[parts[1]] = value
        elif parts[0] == "bn" and len(parts) == 3 and parts[1].isdigit():
            bn.setdefault(int(parts[1]), {})[parts[2]] = value
    if not params:
        raise CheckpointError("%s: the checkpoint holds no parameters" % path)
    histories = {k: [float(v) for v in arrays.get(k, ())] for k in ("loss_history", "train_acc_history",
                                                                   "val_acc_history")}
    trainer_state = None
    if version >= 2 and "trainer" in arrays:
        info = _json(path, arrays, "trainer")
        missing = [k for k in ("trainer/params", "trainer/optim_state", "trainer/best_params") if k not in arrays]
        if not isinstance(info, dict) or missing:
            raise CheckpointError("%s: the trainer state is incomplete (missing %s)" % (path, ", ".join(missing) or "its fields"))
        trainer_state = dict(info, params=arrays["trainer/params"], running=arrays.get("trainer/running"),
                             optim_state=arrays["trainer/optim_state"], best_flat=arrays["trainer/best_params"],
                             best_running=arrays.get("trainer/best_running"), **histories)
    preprocess = None
    if "preprocess/mean" in arrays:
        preprocess = {"method": meta.get("preprocess") or "mean", "mean": arrays["preprocess/mean"],
                      "scale": arrays.get("preprocess/scale", np.array(1.0))}
    return Checkpoint(path=path, version=version, config=config, meta=meta, params=params,
                      bn_stats=[bn[l] for l in sorted(bn)], trainer_state=trainer_state, preprocess=preprocess,
                      **histories)
