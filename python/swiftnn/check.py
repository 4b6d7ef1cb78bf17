"""``swiftnn check``: the sanity checks of CS231n lecture 7 ("babysitting the learning
process") for one network configuration, each printed with PASS/FAIL and, on failure, what to
change.

1. Initial loss: with regularization off, the loss of the untrained network is close to
   ln(C) for C classes (every class equally likely): within 25% passes. (He initialization
   of the output layer gives scores of unit scale, which starts about 15-20% above ln(C).)
2. Regularization: turning it on raises the loss, by 0.5 * reg * sum ||W||^2.
3. Overfitting a small subset: 20 training images, no regularization and no dropout, reach 100%
   training accuracy.
4. Update/weight ratio: after a few steps, ||update|| / ||W|| of each weight matrix is near 1e-3
   (between 1e-4 and 1e-2 passes).

Built on :mod:`swiftnn.experiment` (data, model, short runs); the command's flags are in
:mod:`swiftnn.cli.check`.
"""
import math
import time

import numpy as np

from .experiment import Diverged, build_model, load_dataset, short_train, solver_options

__all__ = ["run_checks", "initial_loss_check", "regularization_check", "overfit_check", "update_ratio_check"]


class Result:
    def __init__(self, name, passed, detail, advice=""):
        self.name, self.passed, self.detail, self.advice = name, passed, detail, advice

    def __str__(self):
        line = "%s  %s: %s" % ("PASS" if self.passed else "FAIL", self.name, self.detail)
        if not self.passed and self.advice:
            line += "\n      -> " + self.advice
        return line


def _subset(data, n, seed):
    rng = np.random.RandomState(seed)
    idx = rng.choice(len(data["X_train"]), size=min(n, len(data["X_train"])), replace=False)
    return data["X_train"][idx], data["y_train"][idx]


def initial_loss_check(cfg, data, num_classes, tolerance=0.25):
    """The loss of a fresh network without regularization on up to 1000 training rows, against
    ln(num_classes): passes within tolerance (relative)."""
    np.random.seed(cfg["seed"])
    model = build_model(cfg, data["X_train"].shape[1], num_classes, reg=0.0)
    X, y = _subset(data, 1000, cfg["seed"])
    if model.use_dropout:
        model.dropout_param["seed"] = cfg["seed"]
    loss, _ = model.loss(X, y)
    expected = math.log(num_classes)
    ratio = loss / expected
    ok = math.isfinite(loss) and abs(ratio - 1) <= tolerance
    detail = "%.4f with reg = 0, expected about ln(%d) = %.4f (%+.1f%%)" % (loss, num_classes, expected, 100 * (ratio - 1))
    if not math.isfinite(loss) or ratio > 1:
        smaller = ("a smaller --weight-scale (e.g. %g)" % (cfg["weight_scale"] / 10) if cfg["init"] == "scale"
                   else "--init scale with a small --weight-scale such as 1e-3" if cfg["init"] == "he"
                   else "--init scale with a small --weight-scale such as 1e-3")
        advice = ("the initial scores are too large: start from smaller weights (%s) and make sure the inputs "
                  "are centred (--preprocess mean or standardize)" % smaller)
    else:
        advice = ("the loss is below chance before any training: the labels may leak into the inputs, or the "
                  "loss is not averaged over the batch")
    return Result("initial loss", ok, detail, advice), model, (X, y)


def regularization_check(cfg, model, batch):
    """The same batch with regularization on: the loss must rise by 0.5 * reg * sum ||W||^2."""
    X, y = batch
    reg = cfg["reg"] if cfg["reg"] > 0 else 1e-3
    model.reg = 0.0
    loss0, _ = model.loss(X, y)
    model.reg = reg
    loss1, _ = model.loss(X, y)
    model.reg = 0.0
    weights = sum(float(np.sum(np.asarray(v, np.float64) ** 2)) for k, v in model.params.items() if k.startswith("W"))
    expected = 0.5 * reg * weights
    rise = loss1 - loss0
    ok = rise > 0 and abs(rise - expected) <= 1e-3 * max(expected, 1e-6) + 1e-4
    detail = "reg %g raises the loss from %.4f to %.4f (+%.4g; 0.5*reg*sum W^2 = %.4g)" % (reg, loss0, loss1, rise, expected)
    advice = ("the loss ignores the regularization term, or computes it wrongly: the L2 term is 0.5 * reg * "
              "sum of every W squared (biases and batchnorm parameters excluded)")
    return Result("regularization", ok, detail, advice)


def overfit_check(cfg, data, num_classes, rows=20, max_iterations=300):
    """Train on `rows` training images without regularization and dropout; pass when the training
    accuracy reaches 100%."""
    X, y = _subset(data, rows, cfg["seed"] + 1)
    tiny = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    try:
        r = short_train(cfg, tiny, max_iterations, seed=cfg["seed"], explode_factor=None, reg=0.0, dropout=1.0,
                        batch_size=len(X), lr_decay=1.0, num_train_samples=None)
        accs = r["solver"].train_acc_history
        reached = next((i for i, a in enumerate(accs) if a >= 1.0), None)
        final = float(r["loss_history"][-1])
        ok = reached is not None
        detail = ("%d images reach %.0f%% training accuracy %s; final loss %.4f"
                  % (len(X), 100 * max(accs), ("after %d iterations" % max(reached, 1)) if ok
                     else "at best within %d iterations" % max_iterations, final))
    except Diverged as e:
        ok, detail = False, "training on %d images diverged: %s" % (len(X), e.reason)
    advice = ("the network cannot even memorize %d images: try a larger --lr (or a smaller one if the loss "
              "explodes), check the update rule and the gradients, or use a bigger network" % rows)
    return Result("overfit a small subset", ok, detail, advice)


def update_ratio_check(cfg, data, num_classes, steps=50, rows=5000, low=1e-4, high=1e-2):
    """Train `steps` iterations with the configuration; the median ||update|| / ||W|| of the last
    10 steps of every weight matrix must lie in [low, high] (the rule of thumb is about 1e-3)."""
    # The Python Solver here: it records each step's update/weight ratios, which the native
    # Trainer (one update over a flat buffer in Swift) does not report.
    from .solver import DivergenceError, Solver
    np.random.seed(cfg["seed"])
    X, y = _subset(data, rows, cfg["seed"] + 2)
    model = build_model(cfg, X.shape[1], num_classes)
    epochs = int(math.ceil(steps / max(len(X) // cfg["batch_size"], 1)))
    options = solver_options(cfg)
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X[:200], "y_val": y[:200]}, num_epochs=epochs,
                    verbose=False, record_update_ratios=True, num_train_samples=200, **options)
    try:
        solver.train()
    except DivergenceError as e:
        return Result("update/weight ratio", False, "training diverged: %s" % e, "lower --lr")
    ratios = {k: float(np.median(v[-10:])) for k, v in solver.update_ratio_history.items() if k.startswith("W")}
    names = sorted(ratios, key=lambda k: int(k[1:]))
    detail = "after %d steps: %s" % (len(solver.loss_history), ", ".join("%s %.1e" % (k, ratios[k]) for k in names))
    too_big = [k for k in names if ratios[k] > high]
    too_small = [k for k in names if ratios[k] < low]
    ok = not too_big and not too_small
    if too_big:
        advice = ("updates of %s are too large compared with the weights: lower --lr (about %.1e)"
                  % (", ".join(too_big), cfg["lr"] * 1e-3 / max(ratios[k] for k in too_big)))
    elif too_small:
        advice = ("updates of %s are too small compared with the weights: raise --lr (about %.1e)"
                  % (", ".join(too_small), cfg["lr"] * 1e-3 / max(min(ratios[k] for k in too_small), 1e-12)))
    else:
        advice = ""
    return Result("update/weight ratio", ok, detail + " (want about 1e-3, between %.0e and %.0e)" % (low, high), advice)


def run_checks(cfg):
    """Run the four checks for the `swiftnn train` settings cfg; print them; 0 if all pass, else 1."""
    from .data import DATASETS

    started = time.perf_counter()
    data, _ = load_dataset(dict(cfg), num_test=0)
    num_classes = len(DATASETS[cfg["dataset"]]["classes"])
    print("checking %s, lr %g, reg %g, %s on %s (%d training rows)"
          % ("-".join(map(str, [data["X_train"].shape[1]] + list(cfg["hidden"]) + [num_classes])), cfg["lr"],
             cfg["reg"], cfg["update_rule"], cfg["dataset"], len(data["X_train"])))
    results = []
    first, model, batch = initial_loss_check(cfg, data, num_classes)
    for r in (first, regularization_check(cfg, model, batch), overfit_check(cfg, data, num_classes),
              update_ratio_check(cfg, data, num_classes)):
        results.append(r)
        print(r, flush=True)
    failed = sum(not r.passed for r in results)
    print("checks: %d of %d passed (%.1f s)" % (len(results) - failed, len(results), time.perf_counter() - started))
    return 1 if failed else 0
