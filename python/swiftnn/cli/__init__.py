"""The command line: ``swiftnn`` (console script) or ``python -m swiftnn``.

    swiftnn train      train a fully connected network, write checkpoint and plots
    swiftnn evaluate   score a checkpoint, or an ensemble of checkpoints
    swiftnn search     random hyperparameter search (coarse, then fine) on Optuna studies
    swiftnn check      the lectures' sanity checks before a long training run
    swiftnn course     the course's own notebooks in your assignment folder (kernel, run)

This module holds the top-level parser, what every command shares (--config files, --resume's
settings, the errors' exit statuses) and :func:`main`. Each command is one module of this
package with ``NAME``, ``add_parser(subparsers)`` (returns its parser) and ``run(args)`` (returns
the exit status), listed once in :data:`COMMANDS`; the flag groups and types they share are in
:mod:`swiftnn.cli._args`. The commands are thin: the work is in :mod:`swiftnn.experiment`
(configuration -> data, model, trainer, runs), :mod:`swiftnn.search` and :mod:`swiftnn.check`,
which never import the CLI.
"""
import argparse
import json
import sys
from pathlib import Path

from ..checkpoint import CheckpointError, load_checkpoint
from ..experiment import FIXED_ON_RESUME, TRAIN_KEYS, UsageError, flag_text
from . import check, course, evaluate, search, train
from ._args import Formatter, settings

# The commands, in the order `swiftnn --help` lists them.
COMMANDS = (train, evaluate, search, check, course)

__all__ = ["main", "build_parser", "settings", "COMMANDS"]


def build_parser():
    """(the `swiftnn` parser, {command name: its subparser})."""
    parser = argparse.ArgumentParser(
        prog="swiftnn", formatter_class=Formatter,
        description="Fully connected neural networks on a Swift engine (CS231n's networks and training practice).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    return parser, {command.NAME: command.add_parser(sub) for command in COMMANDS}


# ------------------------------------------------------------------------------------------
# settings: --config files, checkpoints

def _coerce(parser, key, value, source):
    """value (from JSON) converted and checked as parser's flag for key would be."""
    action = next((a for a in parser._actions if a.dest == key), None)
    flag = "--" + key.replace("_", "-")
    if action is None:
        raise UsageError("%s: unknown setting %r" % (source, key))
    if value is None:
        return None

    def convert(v):
        # As the flag's text, so that a file accepts what the command line accepts: 2.5 is no
        # batch size, 1e400 (inf) no epoch count, and every range check applies.
        if isinstance(v, (list, dict, bool)) or (action.type is None and not isinstance(v, str)):
            raise TypeError("expected a single %s" % ("value" if action.type else "string"))
        return action.type(str(v)) if action.type else v

    try:
        if action.nargs in ("+", "*"):
            if not isinstance(value, list) or (action.nargs == "+" and not value):
                raise UsageError("%s: %r must be a non-empty list (like %s)" % (source, key, flag))
            values = [convert(v) for v in value]
        else:
            values = [convert(value)]
    except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
        raise UsageError("%s: %r = %r is not valid for %s (%s)" % (source, key, value, flag, e)) from None
    if action.choices is not None:
        for v in values:
            if v not in action.choices:
                raise UsageError("%s: %r = %r; expected one of: %s" % (source, key, v, ", ".join(map(str, action.choices))))
    return values if action.nargs in ("+", "*") else values[0]


def _read_config(path, parser):
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise UsageError("--config %s: cannot read it (%s)" % (path, e.strerror or e)) from None
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise UsageError("--config %s: not valid JSON (%s)" % (path, e)) from None
    if not isinstance(cfg, dict):
        raise UsageError("--config %s: expected a JSON object of settings, got %s" % (path, type(cfg).__name__))
    allowed = {a.dest for a in parser._actions} & set(TRAIN_KEYS)
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise UsageError("--config %s: unknown setting%s %s; known settings: %s"
                         % (path, "s" if len(unknown) > 1 else "", ", ".join(map(repr, unknown)), ", ".join(sorted(allowed))))
    return {k: _coerce(parser, k, v, "--config %s" % path) for k, v in cfg.items()}


def _parse(argv):
    parser, subs = build_parser()
    args = parser.parse_args(argv)
    sub = subs[args.command]
    args.checkpoint = None
    try:
        defaults = {}
        if getattr(args, "resume", None):
            try:
                args.checkpoint = load_checkpoint(args.resume)
            except (FileNotFoundError, ValueError) as e:
                raise UsageError("--resume: %s" % e) from None
            defaults.update({k: v for k, v in args.checkpoint.config.items() if k in TRAIN_KEYS})
            defaults.setdefault("out", str(Path(args.resume).parent))
        if getattr(args, "config", None):
            defaults.update(_read_config(args.config, sub))
        if defaults:
            sub.set_defaults(**defaults)
            checkpoint = args.checkpoint
            args = parser.parse_args(argv)
            args.checkpoint = checkpoint
        if args.checkpoint is not None:
            saved = args.checkpoint.config
            for key in FIXED_ON_RESUME:
                if key in saved and getattr(args, key) != saved[key]:
                    raise UsageError("--%s %s: the checkpoint was trained with %s; a resumed run keeps the network, "
                                     "the data, the update rule and the batch size (start a new run instead)"
                                     % (key.replace("_", "-"), flag_text(getattr(args, key)), flag_text(saved[key])))
    except UsageError as e:
        sub.exit(2, "%s: error: %s\n" % (sub.prog, e))
    return args, sub


def main(argv=None):
    args, sub = _parse(argv)
    try:
        return _BY_NAME[args.command].run(args)
    except (UsageError, CheckpointError) as e:
        print("%s: error: %s" % (sub.prog, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


_BY_NAME = {command.NAME: command for command in COMMANDS}
