"""A CS231n assignment folder as a student unzips it, for the tests that run notebooks there:
the course's skeleton ``cs231n`` package (the student's unfinished TODOs: every function
returns None, and the package imports ``past``, which is not installed here, as the course's
does) and CIFAR-10 in ``cs231n/datasets/cifar-10-batches-py`` in the real pickle format.
The course's zip is not ours to commit; this writes the same shape."""
import shutil
import textwrap

SKELETON = {
    "__init__.py": """\
        # the course's package imports python-future's helpers
        from past.builtins import xrange  # noqa: F401
        import cs231n_skeleton_only_dependency  # noqa: F401  (not installed anywhere)
        """,
    "layers.py": """\
        from builtins import range
        import numpy as np


        def affine_forward(x, w, b):
            out = None
            # TODO: Implement the affine forward pass.
            return out, None


        def relu_forward(x):
            return None, None


        def softmax_loss(x, y):
            return None, None
        """,
    "layer_utils.py": "from .layers import *\n",
    "optim.py": """\
        def sgd(w, dw, config=None):
            return None, config


        def adam(w, dw, config=None):
            return None, config
        """,
    "solver.py": """\
        class Solver(object):
            def __init__(self, model, data, **kwargs):
                pass

            def train(self):
                pass
        """,
    "gradient_check.py": """\
        def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
            return None


        def eval_numerical_gradient_array(f, x, df, h=1e-5):
            return None
        """,
    "data_utils.py": """\
        def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True):
            return None


        def load_CIFAR10(ROOT):
            return None
        """,
    "classifiers/__init__.py": "",
    "classifiers/fc_net.py": """\
        from builtins import object
        import os
        import numpy as np

        from ..layers import *
        from ..layer_utils import *


        class TwoLayerNet(object):
            def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
                self.params = {}

            def loss(self, X, y=None):
                return None


        class FullyConnectedNet(object):
            def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                         normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
                self.params = {}

            def loss(self, X, y=None):
                return None
        """,
    "classifiers/k_nearest_neighbor.py": """\
        class KNearestNeighbor(object):
            \"\"\" a kNN classifier with L2 distance: the student's own, swiftnn has none \"\"\"

            def train(self, X, y):
                self.X_train, self.y_train = X, y
        """,
    "datasets/get_datasets.sh": """\
        if [ ! -d "cifar-10-batches-py" ]; then
          wget http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz -O cifar-10-python.tar.gz
          tar -xzvf cifar-10-python.tar.gz
          rm cifar-10-python.tar.gz
        fi
        """,
}


def make_assignment_folder(folder, cifar10=None):
    """Writes the skeleton package into folder/cs231n and, when cifar10 (a
    cifar-10-batches-py folder) is given, copies it to folder/cs231n/datasets/. Returns folder."""
    for name, text in SKELETON.items():
        path = folder / "cs231n" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if cifar10 is not None:
        shutil.copytree(cifar10, folder / "cs231n" / "datasets" / "cifar-10-batches-py")
    return folder
