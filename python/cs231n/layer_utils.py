"""The course's ``cs231n/layer_utils.py``: convenience layers that chain the basic ones.

``affine_relu_forward/backward`` run as one fused call in libswiftnn; their cache has the
course's structure ``(fc_cache, relu_cache) = ((x, w, b), a)``. The normalized variants
used by a FullyConnectedNet chain swiftnn.layers calls:

- ``affine_bn_relu_forward(x, w, b, gamma, beta, bn_param) -> out, cache`` and
  ``affine_bn_relu_backward(dout, cache) -> dx, dw, db, dgamma, dbeta``;
- ``affine_ln_relu_forward(x, w, b, gamma, beta, ln_param)`` and its backward, the same
  with layer normalization;
- ``affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, normalization)`` with
  ``normalization`` in (None, 'batchnorm', 'layernorm'), and its backward.
"""
import numpy as np

from .layers import *  # noqa: F401,F403
from swiftnn.layers import affine_relu_backward, affine_relu_forward  # noqa: F401
from swiftnn.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
)


def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param):
    """affine - batchnorm - relu. Returns (out, cache = (fc_cache, bn_cache, relu_cache))."""
    a, fc_cache = affine_forward(x, w, b)
    an, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, bn_cache, relu_cache)


def affine_bn_relu_backward(dout, cache):
    """Backward pass of affine_bn_relu_forward: dx, dw, db, dgamma, dbeta."""
    fc_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = batchnorm_backward_alt(dan, bn_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def affine_ln_relu_forward(x, w, b, gamma, beta, ln_param):
    """affine - layernorm - relu. Returns (out, cache = (fc_cache, ln_cache, relu_cache))."""
    a, fc_cache = affine_forward(x, w, b)
    an, ln_cache = layernorm_forward(a, gamma, beta, ln_param)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, ln_cache, relu_cache)


def affine_ln_relu_backward(dout, cache):
    """Backward pass of affine_ln_relu_forward: dx, dw, db, dgamma, dbeta."""
    fc_cache, ln_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = layernorm_backward(dan, ln_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, normalization):
    """affine - [batchnorm | layernorm] - relu, chosen by ``normalization``
    (None, 'batchnorm' or 'layernorm'; gamma, beta and norm_param are unused with None).
    Returns (out, cache); the cache remembers the choice."""
    if normalization is None:
        out, cache = affine_relu_forward(x, w, b)
    elif normalization == "batchnorm":
        out, cache = affine_bn_relu_forward(x, w, b, gamma, beta, norm_param)
    elif normalization == "layernorm":
        out, cache = affine_ln_relu_forward(x, w, b, gamma, beta, norm_param)
    else:
        raise ValueError("normalization is %r; expected None, 'batchnorm' or 'layernorm'"
                         % (normalization,))
    return out, (normalization, cache)


def affine_norm_relu_backward(dout, cache):
    """Backward pass of affine_norm_relu_forward: dx, dw, db, dgamma, dbeta (dgamma and
    dbeta are None without normalization)."""
    normalization, inner = cache
    if normalization is None:
        dx, dw, db = affine_relu_backward(dout, inner)
        return dx, dw, db, None, None
    if normalization == "batchnorm":
        return affine_bn_relu_backward(dout, inner)
    return affine_ln_relu_backward(dout, inner)
