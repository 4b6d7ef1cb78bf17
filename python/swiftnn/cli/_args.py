"""What the commands' parsers share: the help formatter, the flag types, the data, network and
optimization flag groups of `train`, `search` and `check`, and the settings of parsed flags."""
import argparse

from ..data import DATASETS, PREPROCESSING
from ..experiment import TRAIN_KEYS, UPDATE_RULES


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks and shows defaults that say something."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.default is None or action.default is False or action.default == argparse.SUPPRESS or not action.option_strings:
            return text
        default = action.default
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default))
        return "%s (default: %s)" % (text, default) if text else "default: %s" % default


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("%d: must be at least 1" % value)
    return value


def seed_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % text) from None
    if not 0 <= value < 2**32:  # numpy's (and the trainer's) seed range
        raise argparse.ArgumentTypeError("%d: must be between 0 and 2**32 - 1 = %d" % (value, 2**32 - 1))
    return value


def _add_data_args(p):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=list(DATASETS), default="fashion-mnist", help="which dataset")
    g.add_argument("--data", metavar="DIR", default=None,
                   help="folder with the dataset's files (default: $SWIFTNN_DATA/fashion-mnist or "
                        "/usr/share/datasets/fashion-mnist; $SWIFTNN_DATA/cifar-10-batches-py or "
                        "cs231n/datasets/cifar-10-batches-py)")
    g.add_argument("--preprocess", choices=PREPROCESSING, default="mean",
                   help="'mean' subtracts the training mean image (the course's); 'standardize' also "
                        "divides each pixel by its standard deviation")
    g.add_argument("--num-train", type=positive_int, metavar="N", default=None,
                   help="training rows (default: 55000 of Fashion-MNIST's 60000, 49000 of CIFAR-10's 50000)")
    g.add_argument("--num-val", type=positive_int, metavar="N", default=None,
                   help="validation rows, the training rows right after those (default: the rest)")
    return g


def _add_network_args(p, search=False):
    g = p.add_argument_group("network")
    if not search:
        g.add_argument("--hidden", type=positive_int, nargs="+", default=[512, 256], metavar="H",
                       help="hidden layer sizes")
    g.add_argument("--normalization", choices=["none", "batchnorm", "layernorm"], default="batchnorm",
                   help="normalization after each hidden affine layer")
    if not search:
        g.add_argument("--dropout", type=float, default=0.6, metavar="P",
                       help="dropout keep probability, in (0, 1]; 1 = no dropout")
    g.add_argument("--activation", choices=["relu", "leaky_relu"], default="relu", help="hidden activation")
    g.add_argument("--init", choices=["he", "xavier", "scale"], default="scale" if search else "he",
                   help="weight initialization: he = randn*sqrt(2/fan_in), xavier = randn/sqrt(fan_in), "
                        "scale = randn*WEIGHT_SCALE")
    if not search:
        g.add_argument("--weight-scale", type=float, default=1e-2, metavar="S",
                       help="standard deviation of the initial weights with --init scale")
    return g


def _add_optim_args(p, search=False):
    g = p.add_argument_group("optimization")
    g.add_argument("--update-rule", choices=UPDATE_RULES, default="adam", help="update rule")
    if not search:
        g.add_argument("--lr", type=float, default=1e-3, metavar="LR", help="learning rate")
    g.add_argument("--lr-decay", type=float, default=0.85, metavar="F",
                   help="learning-rate factor after each epoch (step schedule)")
    g.add_argument("--schedule", choices=["step", "cosine"], default="step",
                   help="step: multiply by --lr-decay every epoch; cosine: anneal to 0 over the run")
    g.add_argument("--warmup", type=int, default=0, metavar="ITERS",
                   help="linear learning-rate warm-up over this many iterations")
    if not search:
        g.add_argument("--reg", type=float, default=1e-4, metavar="R", help="L2 strength (loss += 0.5*R*sum W^2)")
    g.add_argument("--batch-size", type=positive_int, default=128, metavar="N", help="minibatch size")
    return g


def add_settings_args(p, search=False):
    """The data, network and optimization flag groups of a run's settings; search=True: without
    the flags the search samples (--hidden, --dropout, --weight-scale, --lr, --reg)."""
    _add_data_args(p)
    _add_network_args(p, search)
    _add_optim_args(p, search)


def settings(args):
    """The TRAIN_KEYS settings of parsed arguments, as a dict."""
    return {k: getattr(args, k) for k in TRAIN_KEYS if hasattr(args, k)}
