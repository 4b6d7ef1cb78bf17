"""``swiftnn check``: the flags of the lecture's sanity checks; the checks are :mod:`swiftnn.check`."""
from ..check import run_checks
from ..experiment import validate
from ._args import Formatter, add_settings_args, seed_int, settings

NAME = "check"

CHECK_EPILOG = """\
The checks (CS231n lecture 7, "babysitting the learning process"):
  1. with reg = 0 the initial loss is close to ln(number of classes)
  2. turning regularization on raises the loss (by 0.5 * reg * sum W^2)
  3. the network overfits 20 training images to 100% training accuracy
  4. after a few steps the update/weight ratio ||dW|| / ||W|| of each layer is near 1e-3
Exit status 0 when every check passes, 1 otherwise.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("check", help="sanity checks before a long run (lecture 7)", formatter_class=Formatter,
                              description="Babysitting the learning process: four quick checks of a network configuration,\n"
                                          "each printed with PASS or FAIL and what to change when it fails.",
                              epilog=CHECK_EPILOG)
    add_settings_args(p)
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=seed_int, default=0, help="seed of weights and minibatches")
    g.add_argument("--config", metavar="FILE", default=None, help="JSON settings to start from")
    return p


def run(args):
    cfg = settings(args)
    validate(cfg)
    return run_checks(cfg)
