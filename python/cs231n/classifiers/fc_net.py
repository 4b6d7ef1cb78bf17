"""The course's ``cs231n/classifiers/fc_net.py``: FullyConnectedNet and the modular
assignment 1 TwoLayerNet, implemented in swiftnn.models.

As in the course, ``from cs231n.classifiers.fc_net import *`` also brings every name of
``cs231n.layers`` and ``cs231n.layer_utils`` (the BatchNormalization and Dropout notebooks
rely on it) and ``np``.
"""
import numpy as np

from ..layers import *  # noqa: F401,F403
from ..layer_utils import *  # noqa: F401,F403
from swiftnn.models import FullyConnectedNet, TwoLayerNet  # noqa: F401
