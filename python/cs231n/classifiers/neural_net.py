"""The course's ``cs231n/classifiers/neural_net.py`` (assignment 1, 2019/2020): TwoLayerNet
with ``std`` initialization, ``loss(X, y=None, reg=0.0)``, ``train`` and ``predict``,
implemented in swiftnn.models."""
import numpy as np

from swiftnn.models import NeuralNetTwoLayerNet as TwoLayerNet  # noqa: F401
