"""Readable summaries of models and of the two training loops, as text (``repr``) and as
HTML (``_repr_html_``, what Jupyter shows for the last expression of a cell).

- A swiftnn model (``FullyConnectedNet``, ``TwoLayerNet``, the 2020 ``TwoLayerNet``) is shown
  layer by layer: each layer's output shape (N is the batch size), its parameters and their
  count, then the total number of parameters and their memory.
- Any other model with a ``params`` dict (the Solver trains any such model) is shown
  parameter by parameter.
- A Solver or Trainer shows its model's summary, the update rule and its hyperparameters,
  batch size, epochs, the data sizes and its progress so far (iterations, last loss, best
  validation accuracy).

Everything here reads attributes only; nothing calls into the library.
"""
import html
import numbers

import numpy as np

__all__ = ["model_table", "model_text", "model_html", "training_items", "training_text",
           "training_html"]


def _count(n):
    return format(int(n), ",")


def _shape(shape):
    return "x".join(str(int(d)) for d in shape) if len(shape) else "scalar"


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def _param(model, name, shape):
    """(size, nbytes, shape) of model.params[name], falling back to the expected shape."""
    params = getattr(model, "params", None) or {}
    value = params.get(name) if isinstance(params, dict) else None
    if value is None:
        size = int(np.prod(shape)) if shape is not None else 0
        return size, None, shape
    arr = np.asarray(value)
    return int(arr.size), int(arr.nbytes), arr.shape


def model_table(model):
    """A dict describing ``model``: ``title``, ``notes`` (list of str), ``rows`` (list of
    (layer, output shape, parameters, count)), ``total`` (parameter count) and ``nbytes``
    (their memory, None when unknown)."""
    name = getattr(model, "_summary_name", None) or type(model).__name__
    if hasattr(model, "_dims") and hasattr(model, "_names") and hasattr(model, "_shapes"):
        return _planned_table(model, name)
    rows, total, nbytes = [], 0, 0
    params = getattr(model, "params", None)
    if isinstance(params, dict):
        for key, value in params.items():
            arr = np.asarray(value)
            rows.append((str(key), "", "%s %s" % (key, _shape(arr.shape)), int(arr.size)))
            total += int(arr.size)
            nbytes += int(arr.nbytes)
    return {"title": name, "notes": [], "rows": rows, "total": total,
            "nbytes": nbytes if rows else None}


def _planned_table(model, name):
    dims = list(model._dims)
    shapes = dict(zip(model._names, model._shapes))
    norm = getattr(model, "_norm", None)
    keep = getattr(model, "_keep", 1.0)
    activation = getattr(model, "_activation", "relu")
    leak = getattr(model, "_leak", 0.01)
    L = len(dims) - 1
    rows = [("input", "(N, %d)" % dims[0], "", 0)]
    total, nbytes, known = 0, 0, True

    def add(layer, width, names):
        nonlocal total, nbytes, known
        count, parts = 0, []
        for p in names:
            size, nb, shape = _param(model, p, shapes.get(p))
            count += size
            if nb is None:
                known = False
            else:
                nbytes += nb
            parts.append("%s %s" % (p, _shape(shape)))
        total += count
        rows.append((layer, "(N, %d)" % width, ", ".join(parts), count))

    for l in range(1, L + 1):
        add("affine%d" % l, dims[l], ["W%d" % l, "b%d" % l])
        if l == L:
            break
        if norm is not None:
            add("%s%d" % (norm, l), dims[l], ["gamma%d" % l, "beta%d" % l])
        act = "relu%d" % l if activation == "relu" else "leaky_relu%d (slope %g)" % (l, leak)
        rows.append((act, "(N, %d)" % dims[l], "", 0))
        if keep < 1:
            rows.append(("dropout%d (keep %g)" % (l, keep), "(N, %d)" % dims[l], "", 0))
    rows.append(("softmax loss", "scalar", "", 0))

    notes = []
    dtype = getattr(model, "dtype", None)
    if dtype is None and hasattr(model, "_compute_dtype"):
        try:
            dtype = model._compute_dtype()
        except Exception:
            dtype = None
    if dtype is not None:
        notes.append(np.dtype(dtype).name)
    if norm is not None:
        notes.append(norm)
    if keep < 1:
        notes.append("dropout keep %g" % keep)
    if activation != "relu":
        notes.append(activation)
    reg = getattr(model, "reg", None)
    if isinstance(reg, numbers.Real):
        notes.append("reg %g" % reg)
    title = "%s: %s" % (name, " -> ".join(str(d) for d in dims))
    return {"title": title, "notes": notes, "rows": rows, "total": total,
            "nbytes": nbytes if known else None}


def _total_line(t):
    line = "total parameters: %s" % _count(t["total"])
    if t["nbytes"] is not None:
        line += " (%s)" % _bytes(t["nbytes"])
    return line


def model_text(model):
    """The model's summary as aligned text lines."""
    t = model_table(model)
    head = t["title"] + ("  [%s]" % ", ".join(t["notes"]) if t["notes"] else "")
    header = ("layer", "output shape", "parameters", "count")
    body = [(r[0], r[1], r[2], _count(r[3]) if r[3] else "") for r in t["rows"]]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(4)]
    lines = [head]
    for row in [header] + body:
        lines.append(("  %-*s  %-*s  %-*s  %*s" % (widths[0], row[0], widths[1], row[1],
                                                   widths[2], row[2], widths[3], row[3])).rstrip())
    lines.append("  " + _total_line(t))
    return "\n".join(lines)


def _table_html(t):
    e = html.escape
    code = lambda text: "<code>%s</code>" % e(text) if text else ""  # noqa: E731
    cells = ["<tr><td style=\"text-align:left\">%s</td><td style=\"text-align:left\">%s</td>"
             "<td style=\"text-align:left\">%s</td><td style=\"text-align:right\">%s</td></tr>"
             % (e(r[0]), code(r[1]), code(r[2]), _count(r[3]) if r[3] else "") for r in t["rows"]]
    notes = (" <span style=\"color:#666\">[%s]</span>" % e(", ".join(t["notes"]))) if t["notes"] else ""
    return ("<div><strong>%s</strong>%s"
            "<table><thead><tr><th style=\"text-align:left\">layer</th>"
            "<th style=\"text-align:left\">output shape</th>"
            "<th style=\"text-align:left\">parameters</th>"
            "<th style=\"text-align:right\">count</th></tr></thead>"
            "<tbody>%s</tbody>"
            "<tfoot><tr><td colspan=\"4\"><strong>%s</strong></td></tr></tfoot></table></div>"
            % (e(t["title"]), notes, "".join(cells), e(_total_line(t))))


def model_html(model):
    """The model's summary as an HTML table."""
    return _table_html(model_table(model))


# ---------------------------------------------------------------------------------------
# Solver and Trainer

def _scalar(v):
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, numbers.Real):
        return "%g" % v
    if isinstance(v, str):
        return v
    return None


def _rule_name(rule):
    if isinstance(rule, str):
        return rule
    return getattr(rule, "__name__", None) or type(rule).__name__


def _num_rows(X):
    try:
        return int(X.shape[0])
    except (AttributeError, IndexError, TypeError):
        return None


def training_items(loop, kind):
    """(title, [(key, value)...]) describing a Solver (kind 'python') or Trainer ('native')."""
    get = lambda name, default=None: getattr(loop, name, default)  # noqa: E731
    title = "%s (%s loop)" % (type(loop).__name__, kind)
    items = []

    rule = _rule_name(get("update_rule"))
    config = dict(get("optim_config") or {})
    hyper = []
    lr = config.get("learning_rate")
    if lr is None and kind == "native":
        from .optim import DEFAULT_LR
        lr = DEFAULT_LR.get(rule)
    hyper.append("learning_rate %s" % (_scalar(lr) if lr is not None else "(the rule's default)"))
    for k, v in config.items():
        s = _scalar(v)
        if k != "learning_rate" and s is not None:
            hyper.append("%s %s" % (k, s))
    items.append(("update rule", "%s: %s" % (rule, ", ".join(hyper))))

    schedule = []
    decay = get("lr_decay", 1.0)
    lr_schedule = get("lr_schedule")
    if lr_schedule == "cosine":
        schedule.append("cosine annealing")
    elif decay != 1.0:
        schedule.append("times %g after every epoch" % decay)
    if get("warmup_iters", 0):
        schedule.append("linear warm-up over %d iterations" % get("warmup_iters"))
    current = _current_lr(loop, lr)
    if current is not None and lr is not None and current != lr:
        schedule.append("now %g" % current)
    items.append(("learning rate schedule", ", ".join(schedule) if schedule else "constant"))

    n_train, n_val = _num_rows(get("X_train")), _num_rows(get("X_val"))
    batch = get("batch_size")
    epochs = get("num_epochs")
    per_epoch = max(n_train // batch, 1) if n_train and batch else None
    total = per_epoch * epochs if per_epoch and epochs else None
    items.append(("training", "batch size %s, %s epochs%s" % (
        batch, epochs, (" (%s iterations per epoch, %s in all)" % (_count(per_epoch), _count(total)))
        if total else "")))
    data = "%s training rows, %s validation rows" % (
        _count(n_train) if n_train is not None else "?", _count(n_val) if n_val is not None else "?")
    samples, val_samples = get("num_train_samples"), get("num_val_samples")
    if kind == "native":
        val_samples = None  # the Trainer subsamples the validation rows once, when it is made
    checked = "accuracy checks on %s training rows and %s validation rows" % (
        "all" if samples is None or (n_train is not None and samples >= n_train) else "%s sampled" % _count(samples),
        "all" if val_samples is None or (n_val is not None and val_samples >= n_val)
        else "%s sampled" % _count(val_samples))
    items.append(("data", data + "; " + checked))

    options = []
    if get("early_stopping_patience") is not None:
        options.append("early stopping after %d epochs without a better validation accuracy"
                       % get("early_stopping_patience"))
    if kind == "native":
        options.append("seed %s" % get("seed"))
    if get("record_update_ratios"):
        options.append("recording update/weight ratios")
    if kind == "python" and get("stop_on_divergence") is not None:
        options.append("NaN/Inf loss %s" % ("raises DivergenceError" if get("stop_on_divergence")
                                            else "is recorded and training goes on"))
    if options:
        items.append(("options", "; ".join(options)))

    losses = get("loss_history") or []
    if not losses:
        items.append(("progress", "not trained yet"))
    else:
        done = "epoch %s / %s, iteration %s%s, last loss %.4f" % (
            get("epoch"), epochs, _count(len(losses)), (" / %s" % _count(total)) if total else "",
            float(losses[-1]))
        vals = get("val_acc_history") or []
        trains = get("train_acc_history") or []
        if vals:
            done += "; train acc %.4f, val acc %.4f, best val acc %.4f" % (
                float(trains[-1]) if trains else float("nan"), float(vals[-1]), float(get("best_val_acc")))
        flags = [f for f, on in (("stopped early", get("stopped_early")),
                                 ("interrupted", get("interrupted"))) if on]
        if flags:
            done += " (%s)" % ", ".join(flags)
        seconds = get("train_seconds")
        if seconds is not None:
            done += "; %.1f s" % seconds
        items.append(("progress", done))
    return title, items


def _current_lr(loop, lr):
    """The learning rate the next step would use before any warm-up/cosine factor."""
    configs = getattr(loop, "optim_configs", None)
    if isinstance(configs, dict) and configs:
        first = next(iter(configs.values()))
        value = first.get("learning_rate") if isinstance(first, dict) else None
        return value if isinstance(value, numbers.Real) else None
    if lr is None or getattr(loop, "lr_schedule", None) == "cosine":
        return None
    epoch = getattr(loop, "epoch", 0) or 0
    decay = getattr(loop, "lr_decay", 1.0)
    return lr * decay ** epoch if isinstance(decay, numbers.Real) else None


def _indent(text, prefix="  "):
    return "\n".join(prefix + line for line in text.splitlines())


def training_text(loop, kind):
    title, items = training_items(loop, kind)
    width = max(len(k) + 1 for k, _ in items)
    lines = [title]
    lines += ["  %-*s  %s" % (width, k + ":", v) for k, v in items]
    lines.append("  model:")
    lines.append(_indent(model_text(loop.model), "    "))
    return "\n".join(lines)


def training_html(loop, kind):
    e = html.escape
    title, items = training_items(loop, kind)
    rows = "".join("<tr><th style=\"text-align:left\">%s</th><td style=\"text-align:left\">%s</td></tr>"
                   % (e(k), e(v)) for k, v in items)
    return ("<div><strong>%s</strong><table><tbody>%s</tbody></table>%s</div>"
            % (e(title), rows, model_html(loop.model)))
