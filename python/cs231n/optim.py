"""The course's ``cs231n/optim.py``: first-order update rules, implemented in swiftnn.optim.

Each rule has the interface ``next_w, config = update(w, dw, config=None)``; defaults are
set with ``config.setdefault`` and the rule's state lives in ``config``.
"""
import numpy as np

from swiftnn.optim import adagrad, adam, rmsprop, sgd, sgd_momentum  # noqa: F401
