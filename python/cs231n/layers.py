"""The course's ``cs231n/layers.py``: every layer is computed by libswiftnn (swiftnn.layers).

Names: affine_forward, affine_backward, relu_forward, relu_backward, softmax_loss, svm_loss,
batchnorm_forward, batchnorm_backward, batchnorm_backward_alt, layernorm_forward,
layernorm_backward, dropout_forward, dropout_backward. Like the course module, a star import
of this module also brings ``np``.
"""
import numpy as np

from swiftnn.layers import *  # noqa: F401,F403
from swiftnn.layers import (  # noqa: F401  (the course's names, spelled out)
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
