"""The benchmark's workloads: networks, optimizers, batch sizes, FLOP counts and data.

Every contestant trains the same network on the same random data: of CIFAR-10's shape (49,000
training rows of D = 3072 float32 features, C = 10 classes) for W1-W3, of Fashion-MNIST's
(55,000 rows of 784 features) for W4 and W4', which are `swiftnn train`'s default network. A training step is:
draw a minibatch of `batch` rows with replacement (as the course Solver and the native
trainer do), forward, softmax loss, backward, one update of every parameter.
"""
from dataclasses import dataclass, field

import numpy as np

D = 3072
C = 10
N_TRAIN = 49_000
DATA_SEED = 231


@dataclass(frozen=True)
class Workload:
    key: str                 # command-line id
    name: str                # display name
    hidden: tuple            # hidden layer sizes
    batch: int
    rule: str                # "sgd" or "adam"
    learning_rate: float
    normalization: str = None  # None, "batchnorm" or "layernorm"
    keep: float = 1.0        # dropout keep probability (1 = no dropout)
    eps: float = 1e-5        # batchnorm / layernorm epsilon
    d: int = D               # input features
    n_train: int = N_TRAIN   # training rows
    notes: str = field(default="", compare=False)

    @property
    def dims(self):
        return [self.d, *self.hidden, C]

    @property
    def steps_per_epoch(self):
        return max(self.n_train // self.batch, 1)

    @property
    def num_params(self):
        dims = self.dims
        n = sum(dims[i] * dims[i + 1] + dims[i + 1] for i in range(len(dims) - 1))
        if self.normalization:
            n += 2 * sum(self.hidden)
        return n

    def gemms(self):
        """The (M, N, K, trans_a, trans_b) of every matrix product of one step, in the order a
        step does them: forward X @ W per layer, then per layer from the last dW = X^T @ dZ and,
        except for the first layer (nobody needs the input's gradient), dX = dZ @ W^T."""
        dims, b = self.dims, self.batch
        out = []
        for l in range(len(dims) - 1):
            out.append((b, dims[l + 1], dims[l], False, False))         # Z = X @ W
        for l in range(len(dims) - 2, -1, -1):
            out.append((dims[l], dims[l + 1], b, True, False))          # dW = X^T @ dZ
            if l > 0:
                out.append((b, dims[l], dims[l + 1], False, True))      # dX = dZ @ W^T
        return out

    @property
    def flops(self):
        """Floating-point operations of the step's GEMMs (2*M*N*K each); the elementwise work
        (bias, ReLU, normalization, dropout, softmax, update) is not counted."""
        return sum(2 * m * n * k for m, n, k, _, _ in self.gemms())

    @property
    def sklearn_can_train(self):
        """scikit-learn's MLPClassifier has no batchnorm or dropout; this bench runs it with Adam."""
        return self.normalization is None and self.keep == 1 and self.rule == "adam"

    def describe(self):
        parts = ["%s-%s" % (self.d, "-".join(map(str, self.hidden))) + "-%d" % C]
        if self.normalization:
            parts.append(self.normalization)
        if self.keep < 1:
            parts.append("dropout keep %g" % self.keep)
        parts.append("%s lr %g" % ("SGD" if self.rule == "sgd" else "Adam", self.learning_rate))
        parts.append("batch %d" % self.batch)
        return ", ".join(parts)


WORKLOADS = {
    "W1": Workload("W1", "W1", (50,), 200, "sgd", 1e-3),
    "W1p": Workload("W1p", "W1'", (800,), 200, "sgd", 1e-3),
    "W2": Workload("W2", "W2", (100,) * 4, 100, "adam", 1e-3, normalization="batchnorm", keep=0.78),
    "W3": Workload("W3", "W3", (512, 256), 256, "adam", 1e-3, normalization="layernorm"),
    # The main job (`swiftnn train`'s defaults, reg and lr decay aside) on Fashion-MNIST's shapes.
    "W4": Workload("W4", "W4", (512, 256), 128, "adam", 1e-3, normalization="batchnorm", keep=0.6,
                   d=784, n_train=55_000),
    # The same network plain, as scikit-learn's MLPClassifier trains it.
    "W4p": Workload("W4p", "W4'", (512, 256), 128, "adam", 1e-3, d=784, n_train=55_000),
}


def make_data(workload=None, seed=DATA_SEED):
    """Standard-normal float32 features (roughly the data after mean subtraction and scaling)
    and uniform int64 labels of the workload's shape (CIFAR-10's by default); the same arrays
    in every contestant's process."""
    n, d = (workload.n_train, workload.d) if workload else (N_TRAIN, D)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    y = rng.integers(0, C, size=n, dtype=np.int64)
    return X, y


def initial_params(workload, seed=0, weight_scale=1e-2):
    """Course-style initial parameters (float32): W ~ weight_scale * randn, b = 0, gamma = 1,
    beta = 0, named W1, b1, ..., gamma1, beta1, ..."""
    rng = np.random.default_rng(seed)
    dims = workload.dims
    params = {}
    for l in range(1, len(dims)):
        params["W%d" % l] = (weight_scale * rng.standard_normal((dims[l - 1], dims[l]))).astype(np.float32)
        params["b%d" % l] = np.zeros(dims[l], np.float32)
        if workload.normalization and l < len(dims) - 1:
            params["gamma%d" % l] = np.ones(dims[l], np.float32)
            params["beta%d" % l] = np.zeros(dims[l], np.float32)
    return params
