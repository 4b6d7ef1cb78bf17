"""``swiftnn search``: the flags of the random hyperparameter search; the search itself (coarse,
then fine, on Optuna studies) is :mod:`swiftnn.search`."""
import argparse
import os

from ..search import DEFAULT_HIDDEN, run_search
from ._args import Formatter, add_settings_args

NAME = "search"

SEARCH_EPILOG = """\
examples:
  swiftnn search                                 coarse then fine search, 2 worker processes
  swiftnn search --coarse-trials 60 --fine-trials 16 --fine-epochs 6
  swiftnn search --lr 1e-4 1e-2 --reg 1e-5 1e-1 --hidden 256 512 1024-512
  swiftnn search --storage postgresql://user@host/db --study fmnist --workers 2
                                                 run this on every machine that shares the search

A search lives in its storage (default: an SQLite file in the output folder): run the same
command again to resume it, or on other machines (with a PostgreSQL URL) to add workers.
The settings of a study are stored with it; a later run with other flags keeps the stored ones.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("search", help="random hyperparameter search on an Optuna study", formatter_class=Formatter,
                              description="Random search as the lectures teach it: learning rate, regularization and weight\n"
                                          "scale log-uniform, dropout uniform, architecture from choices. A coarse stage of\n"
                                          "many short trials, then a fine stage of longer trials in ranges narrowed around\n"
                                          "the best. Trials whose loss diverges are pruned early.",
                              epilog=SEARCH_EPILOG)
    add_settings_args(p, search=True)
    _add_search_args(p)
    return p


def _add_search_args(s):
    g = s.add_argument_group("search space (ranges are LOW HIGH)")
    g.add_argument("--lr", type=float, nargs=2, default=[1e-4, 1e-2], metavar=("LOW", "HIGH"),
                   help="learning rate, log-uniform")
    g.add_argument("--reg", type=float, nargs=2, default=[1e-6, 1e-1], metavar=("LOW", "HIGH"),
                   help="L2 strength, log-uniform")
    g.add_argument("--weight-scale", type=float, nargs=2, default=[1e-3, 1e-1], metavar=("LOW", "HIGH"),
                   help="initial weight scale, log-uniform (searched with --init scale)")
    g.add_argument("--dropout", type=float, nargs=2, default=[0.5, 1.0], metavar=("LOW", "HIGH"),
                   help="dropout keep probability, uniform")
    g.add_argument("--hidden", nargs="+", default=DEFAULT_HIDDEN, metavar="SIZES",
                   help="architectures to choose from, hidden sizes joined by '-'")
    b = s.add_argument_group("budget")
    b.add_argument("--coarse-trials", type=int, default=30, metavar="N", help="trials in the coarse stage")
    b.add_argument("--coarse-epochs", type=int, default=2, metavar="N", help="epochs per coarse trial")
    b.add_argument("--coarse-train", type=int, default=10000, metavar="N",
                   help="training rows per coarse trial (the first N of the training rows)")
    b.add_argument("--fine-trials", type=int, default=12, metavar="N", help="trials in the fine stage (0: none)")
    b.add_argument("--fine-epochs", type=int, default=8, metavar="N", help="epochs per fine trial, on all training rows")
    b.add_argument("--explode", type=float, default=3.0, metavar="F",
                   help="stop a trial whose loss rises above F times its first loss")
    r = s.add_argument_group("study and output")
    r.add_argument("--study", default="swiftnn-search", metavar="NAME", help="study name (stages NAME:coarse, NAME:fine)")
    r.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna storage: sqlite:///path.db or postgresql://user:pass@host/db "
                        "(default: sqlite in the output folder)")
    r.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="worker processes on this machine")
    r.add_argument("--seed", type=int, default=None, help="sampler seed (default: fresh randomness)")
    r.add_argument("--out", default="out/search", metavar="DIR", help="output folder")
    r.add_argument("--no-plots", action="store_true", help="do not write scatter.png")
    r.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    r.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)


def run(args):
    return run_search(args)
