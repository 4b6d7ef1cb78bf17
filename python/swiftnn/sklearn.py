"""scikit-learn estimators on the native Trainer: ``MLPClassifier`` and ``MLPRegressor``.

Parameters, fitted attributes and behaviour follow scikit-learn's own MLP estimators
(sklearn.neural_network) wherever they apply; training runs in swiftnn's engine through
swiftnn.Trainer (epochs that visit every row once, shuffled or in order, scikit-learn's
alpha convention, weighted losses). This module validates, converts and keeps the
scikit-learn bookkeeping (loss curve, tolerance-based stopping, the adaptive learning rate);
it has no training loop and no numerics of its own.

Differences from scikit-learn's MLP, by design:
  - solver: 'adam', 'sgd' (with momentum / nesterovs_momentum), and ours 'rmsprop', 'adagrad';
    no 'lbfgs'. activation: 'relu', and ours 'leaky_relu'.
  - The classifier's output is always a softmax over the classes (two units for two classes,
    where scikit-learn uses one logistic unit): out_activation_ is 'softmax', n_outputs_ the
    number of classes. Multilabel targets are not supported.
  - Adam divides by sqrt(v_hat) + epsilon (the lecture's form); scikit-learn by
    sqrt(v) + epsilon with the bias correction folded into the rate. Equal up to epsilon.
  - MLPRegressor's loss_ is the mean over rows of 0.5 * sum over outputs of the squared error
    (the loss whose gradient is used, in scikit-learn too); scikit-learn reports its mean over
    outputs as well.
  - Ours: normalization (None, 'batchnorm', 'layernorm'), dropout (keep probability), init
    ('glorot', scikit-learn's uniform Glorot, or 'he'), dtype ('float32', the fast path, or
    'float64').
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.extmath import softmax
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from .models import FullyConnectedNet
from .trainer import Trainer

__all__ = ["MLPClassifier", "MLPRegressor"]

_SOLVERS = ("adam", "sgd", "rmsprop", "adagrad")
_ACTIVATIONS = ("relu", "leaky_relu")
_SCHEDULES = ("constant", "invscaling", "adaptive")
_NORMALIZATIONS = (None, "batchnorm", "layernorm")
_INITS = ("glorot", "he")
_DTYPES = {"float32": np.float32, "float64": np.float64}


def _number(name, value, low=None, high=None, low_open=False, high_open=False, integer=False):
    kinds = (numbers.Integral,) if integer else (numbers.Real,)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        raise TypeError("The '%s' parameter must be %s, got %r." % (name, "an int" if integer else "a float", value))
    if not np.isfinite(value) \
            or (low is not None and (value <= low if low_open else value < low)) \
            or (high is not None and (value >= high if high_open else value > high)):
        bounds = "%s%s, %s%s" % ("(" if low_open else "[", "-inf" if low is None else low,
                                 "inf" if high is None else high, ")" if high_open or high is None else "]")
        raise ValueError("The '%s' parameter must be a finite number in %s, got %r." % (name, bounds, value))
    return value


def _choice(name, value, options):
    if isinstance(value, np.bool_):
        value = bool(value)
    if not any(value is o or (isinstance(value, str) and value == o) for o in options):
        raise ValueError("The '%s' parameter must be one of %s, got %r." % (name, ", ".join(map(repr, options)), value))
    return value


class _BaseMLP(BaseEstimator):
    """What the two estimators share: parameters, validation, the Trainer run, prediction."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, normalization=None,
                 dropout=1.0, init="glorot", dtype="float32"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.normalization = normalization
        self.dropout = dropout
        self.init = init
        self.dtype = dtype

    # ---- parameters ---------------------------------------------------------------------
    def _check_params(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if not sizes or any(isinstance(h, (bool, np.bool_)) or not isinstance(h, numbers.Integral) for h in sizes):
            raise ValueError("hidden_layer_sizes must be a non-empty sequence of positive ints, got %r."
                             % (self.hidden_layer_sizes,))
        if any(h <= 0 for h in sizes):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % sizes)
        _choice("activation", self.activation, _ACTIVATIONS)
        _choice("solver", self.solver, _SOLVERS)
        _number("alpha", self.alpha, 0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _number("batch_size", self.batch_size, 1, integer=True)
        _choice("learning_rate", self.learning_rate, _SCHEDULES)
        _number("learning_rate_init", self.learning_rate_init, 0, low_open=True)
        _number("power_t", self.power_t, 0)
        _number("max_iter", self.max_iter, 1, integer=True)
        _choice("shuffle", self.shuffle, (True, False))
        _number("tol", self.tol, 0)
        _number("momentum", self.momentum, 0, 1)
        _choice("nesterovs_momentum", self.nesterovs_momentum, (True, False))
        _choice("early_stopping", self.early_stopping, (True, False))
        _choice("warm_start", self.warm_start, (True, False))
        _number("validation_fraction", self.validation_fraction, 0, 1, low_open=True, high_open=True)
        _number("beta_1", self.beta_1, 0, 1, high_open=True)
        _number("beta_2", self.beta_2, 0, 1, high_open=True)
        _number("epsilon", self.epsilon, 0, low_open=True)
        _number("n_iter_no_change", self.n_iter_no_change, 1, integer=True)
        _choice("normalization", self.normalization, _NORMALIZATIONS)
        _number("dropout", self.dropout, 0, 1, low_open=True)
        _choice("init", self.init, _INITS)
        dtype = np.dtype(self.dtype).name if not isinstance(self.dtype, str) else self.dtype
        _choice("dtype", dtype, tuple(_DTYPES))
        return [int(h) for h in sizes], np.dtype(_DTYPES[dtype])

    # ---- the network --------------------------------------------------------------------
    def _new_model(self, n_features, n_outputs, dtype, sizes, rng):
        """A FullyConnectedNet with scikit-learn's initialization drawn from rng."""
        # The model's constructor draws its own weights from NumPy's global generator; they are
        # replaced below, and the caller's global state is left as it was.
        state = np.random.get_state()
        try:
            model = FullyConnectedNet(sizes, input_dim=n_features, num_classes=n_outputs,
                                      dropout_keep_ratio=float(self.dropout), normalization=self.normalization,
                                      reg=float(self.alpha), weight_scale=0.0, dtype=dtype,
                                      activation=self.activation,
                                      loss_function="softmax" if is_classifier(self) else "squared")
        finally:
            np.random.set_state(state)
        dims = [n_features] + sizes + [n_outputs]
        for l in range(1, len(dims)):
            fan_in, fan_out = dims[l - 1], dims[l]
            if self.init == "glorot":
                bound = np.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-bound, bound, (fan_in, fan_out))
                b = rng.uniform(-bound, bound, fan_out)
            else:
                w = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
                b = np.zeros(fan_out)
            model.params["W%d" % l] = w.astype(dtype)
            model.params["b%d" % l] = b.astype(dtype)
        return model

    def _trainer_config(self):
        if self.solver == "adam":
            return "adam", {"learning_rate": self.learning_rate_init, "beta1": self.beta_1, "beta2": self.beta_2,
                            "epsilon": self.epsilon}
        if self.solver == "sgd":
            if self.momentum == 0:
                return "sgd", {"learning_rate": self.learning_rate_init}
            return "sgd_momentum", {"learning_rate": self.learning_rate_init, "momentum": self.momentum,
                                    "nesterov": bool(self.nesterovs_momentum)}
        return self.solver, {"learning_rate": self.learning_rate_init, "epsilon": self.epsilon}

    # ---- fitting ------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, incremental, classes=None):
        sizes, dtype = self._check_params()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X, y = validate_data(self, X, y, reset=first_pass, dtype=dtype, multi_output=not is_classifier(self),
                             y_numeric=not is_classifier(self), order="C")
        if not first_pass and X.dtype != self._model._compute_dtype():
            # warm start / partial_fit continue in the precision the network was built in
            X = X.astype(self._model._compute_dtype())
            dtype = X.dtype
        targets = self._encode_targets(y, incremental, first_pass, classes)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
        sample_weight = self._class_weights(targets, sample_weight, dtype)
        if sample_weight is not None and not sample_weight.sum() > 0:
            raise ValueError("sample_weight sums to %r; at least one sample needs a positive weight"
                             % (float(sample_weight.sum()),))

        rng = check_random_state(self.random_state)
        n_outputs = self._n_network_outputs(targets)
        if first_pass:
            self._model = self._new_model(X.shape[1], n_outputs, dtype, sizes, rng)
            self.n_outputs_ = n_outputs
            self.n_layers_ = len(sizes) + 2
            self.out_activation_ = "softmax" if is_classifier(self) else "identity"
            self.t_ = 0
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self._optimizer_state = None
            self._learning_rate = float(self.learning_rate_init)
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None
        elif not incremental:
            self._optimizer_state = None   # a warm start keeps the weights, with a new optimizer
            self._learning_rate = float(self.learning_rate_init)

        if self.early_stopping:
            stratify = targets if is_classifier(self) else None
            parts = train_test_split(X, targets, *(() if sample_weight is None else (sample_weight,)),
                                     random_state=rng, test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, t_train, t_val = parts[:4]
            w_train, w_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                                 "of your dataset.")
        else:
            X_train, t_train, w_train = X, targets, sample_weight
            X_val = t_val = w_val = None

        n = X_train.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch = int(np.clip(self.batch_size, 1, n))
        self._run_trainer(X_train, t_train, w_train, X_val, t_val, w_val, batch,
                          epochs=1 if incremental else int(self.max_iter), incremental=incremental,
                          seed=int(rng.randint(0, 2**31 - 1)))
        return self

    def _run_trainer(self, X_train, t_train, w_train, X_val, t_val, w_val, batch, epochs, incremental, seed):
        model = self._model
        rule, config = self._trainer_config()
        config["learning_rate"] = self._learning_rate
        schedule = "invscaling" if self.solver == "sgd" and self.learning_rate == "invscaling" else None
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        n, early = X_train.shape[0], self.early_stopping
        per_epoch = -(-n // batch)
        rows = [batch] * (per_epoch - 1) + [n - batch * (per_epoch - 1)]
        self.n_iter_ = 0   # as scikit-learn's: epochs of this call (1 after a partial_fit)
        best = {}

        def on_epoch(trainer):
            # The epoch's loss as scikit-learn's: each minibatch's loss weighted by its rows.
            losses = trainer.loss_history[-per_epoch:]
            self.loss_ = float(np.dot(losses, rows) / n)
            self.loss_curve_.append(self.loss_)
            self.n_iter_ += 1
            self.t_ += n
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            if early:
                score = trainer.val_acc_history[-1]
                self.validation_scores_.append(score)
                if self.verbose:
                    print("Validation score: %f" % score)
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if score < self.best_validation_score_ + self.tol else 0)
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best["params"] = {k: v.copy() for k, v in model.params.items()}
                    best["running"] = [{k: np.array(v) for k, v in p.items() if k.startswith("running")}
                                       for p in model.bn_params]
            else:
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if self.loss_ > self.best_loss_ - self.tol else 0)
                self.best_loss_ = min(self.best_loss_, self.loss_)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early else "Training loss"
                message = ("%s did not improve more than tol=%f for %d consecutive epochs."
                           % (what, self.tol, self.n_iter_no_change))
                if adaptive and self._learning_rate > 1e-6:
                    self._learning_rate /= 5.0
                    trainer.set_learning_rate(self._learning_rate)
                    if self.verbose:
                        print(message + " Setting learning rate to %f" % self._learning_rate)
                    self._no_improvement_count = 0
                else:
                    if self.verbose:
                        print(message + " Stopping.")
                    self._converged = True
                    return True
            return False

        self._converged = False
        data = {"X_train": X_train, "y_train": t_train, "X_val": X_val if early else X_train[:0],
                "y_val": t_val if early else t_train[:0], "w_train": w_train, "w_val": w_val}
        trainer = Trainer(model, data, update_rule=rule, optim_config=config, batch_size=batch, num_epochs=epochs,
                          num_train_samples=1, seed=seed, sampling="shuffled" if self.shuffle else "ordered",
                          reg_per_weight=True, checks="epoch" if early else None, lr_schedule=schedule,
                          power_t=float(self.power_t), progress=False, verbose=False, on_epoch=on_epoch)
        try:
            trainer.train(continue_from=self._optimizer_state)
            self._optimizer_state = {k: v for k, v in trainer.state().items()
                                     if k in ("optim_state", "updates", "rows_seen")}
        finally:
            # The network's parameters outlive the trainer (they are views of its buffer).
            del trainer
        if early and best:
            for k, v in best["params"].items():
                model.params[k][...] = v
            for p, saved in zip(model.bn_params, best["running"]):
                for k, v in saved.items():
                    p[k][...] = v
        for arr in model.params.values():
            if not np.isfinite(arr).all():
                raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                                 "values and need to be preprocessed.")
        if not incremental and not self._converged and self.n_iter_ == self.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % self.max_iter, ConvergenceWarning)

    def _class_weights(self, targets, sample_weight, dtype):
        return sample_weight

    # ---- fitted attributes --------------------------------------------------------------
    @property
    def coefs_(self):
        """The weight matrices, coefs_[i] of shape (units in layer i, units in layer i + 1)."""
        model = self.__dict__.get("_model")
        if model is None:
            raise AttributeError("coefs_")
        return [model.params["W%d" % l] for l in range(1, model.num_layers + 1)]

    @property
    def intercepts_(self):
        """The bias vectors, intercepts_[i] of shape (units in layer i + 1,)."""
        model = self.__dict__.get("_model")
        if model is None:
            raise AttributeError("intercepts_")
        return [model.params["b%d" % l] for l in range(1, model.num_layers + 1)]

    def swiftnn_export_spec(self):
        """The export hook of swiftnn.onnx.export: the fitted network, the task, the labels or
        output shape predict gives, and get_params() as the stored training settings. Raises
        NotFittedError before fit."""
        check_is_fitted(self, "_model")
        spec = {"model": self._model, "settings": self.get_params()}
        if is_classifier(self):
            spec.update(task="classifier", classes=self.classes_)
        else:
            # as predict: one output gives (n_samples,)
            spec.update(task="regressor", ravel=self.n_outputs_ == 1)
        return spec

    def _scores(self, X):
        check_is_fitted(self, "_model")
        X = validate_data(self, X, reset=False, dtype=self._model._compute_dtype(), order="C")
        return self._model.loss(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by swiftnn's engine, scikit-learn's MLPClassifier
    API (see the module docstring for what differs). Beyond it: class_weight (None, 'balanced' or
    a dict {class: weight}) multiplies the sample weights, as in scikit-learn's linear models.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, normalization=None,
                 dropout=1.0, init="glorot", dtype="float32", class_weight=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
                         normalization=normalization, dropout=dropout, init=init, dtype=dtype)
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Fits the network to X (n_samples, n_features) and class labels y (n_samples,)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing the weights and the optimizer state; the first call
        needs ``classes`` (every class that will ever appear)."""
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode_targets(self, y, incremental, first_pass, classes):
        if np.ndim(y) == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if np.ndim(y) != 1 or type_of_target(y) == "multilabel-indicator":
            raise ValueError("MLPClassifier: y must be 1-D class labels; multilabel and multi-output "
                             "targets are not supported, got y of shape %s" % (np.shape(y),))
        check_classification_targets(y)
        if incremental:
            if classes is not None and hasattr(self, "classes_") and not first_pass:
                if not np.array_equal(self.classes_, unique_labels(classes)):
                    raise ValueError("`classes=%r` is not the same as on last call to partial_fit, was: %r"
                                     % (classes, self.classes_))
            elif classes is not None:
                self.classes_ = unique_labels(classes)
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if unseen.size:
                raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has %s. 'y' has %s."
                                 % (self.classes_, unique_labels(y)))
        elif first_pass:
            self.classes_ = unique_labels(y)
        elif not np.isin(unique_labels(y), self.classes_).all():
            raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                             "call to fit. Previously got %s, `y` has %s" % (self.classes_, unique_labels(y)))
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_network_outputs(self, targets):
        return len(self.classes_)

    def _class_weights(self, targets, sample_weight, dtype):
        if self.class_weight is None:
            return sample_weight
        if not (isinstance(self.class_weight, dict) or
                (isinstance(self.class_weight, str) and self.class_weight == "balanced")):
            raise ValueError("The 'class_weight' parameter must be None, 'balanced' or a dict, got %r."
                             % (self.class_weight,))
        if isinstance(self.class_weight, dict):
            unknown = [c for c in self.class_weight if not np.isin(c, self.classes_)]
            if unknown:
                raise ValueError("class_weight has classes %r that are not in y's classes %s"
                                 % (unknown, self.classes_))
        per_row = compute_sample_weight(self.class_weight, self.classes_[targets]).astype(dtype)
        return per_row if sample_weight is None else per_row * sample_weight

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of classes_."""
        return softmax(self._scores(X).astype(np.float64), copy=False)

    def predict_log_proba(self, X):
        """The logarithm of predict_proba."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The class of highest probability for each row of X."""
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by swiftnn's engine with the squared-error loss
    (identity output; one or several outputs), scikit-learn's MLPRegressor API (see the module
    docstring for what differs)."""

    def fit(self, X, y, sample_weight=None):
        """Fits the network to X (n_samples, n_features) and targets y (n_samples,) or
        (n_samples, n_outputs)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the weights and the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, incremental, first_pass, classes):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = y.reshape(len(y), -1)
        if not first_pass and y.shape[1] != self.n_outputs_:
            raise ValueError("y has %d outputs but the network was fitted with %d" % (y.shape[1], self.n_outputs_))
        return y

    def _n_network_outputs(self, targets):
        return targets.shape[1]

    def predict(self, X):
        """Predicted targets, float64: (n_samples,) for one output, else (n_samples, n_outputs)."""
        scores = self._scores(X).astype(np.float64)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
