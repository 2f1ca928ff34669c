"""Command line: ``python -m rnn_ref.apps retrain [--all | TASK ...]`` and ``... targets``.

``retrain`` trains the named tasks from scratch (one after another) and overwrites their stored
results; ``targets`` prints the targets table from the stored results (training what is
missing).
"""

import argparse

from . import TASKS
from .report import format_targets, targets


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnn_ref.apps", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    retrain = sub.add_parser("retrain", help="retrain tasks from scratch and store their results")
    group = retrain.add_mutually_exclusive_group(required=True)
    group.add_argument("--all", action="store_true", help="every task")
    group.add_argument("tasks", nargs="*", default=[], metavar="TASK", help=f"one of {', '.join(TASKS)}")
    sub.add_parser("targets", help="print the targets table")
    args = parser.parse_args(argv)
    if args.command == "retrain":
        unknown = [t for t in args.tasks if t not in TASKS]
        if unknown:
            parser.error(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
        for name in TASKS if args.all else args.tasks:
            print(f"retraining {name} ...", flush=True)
            TASKS[name](retrain=True)
    print(format_targets(targets()))


if __name__ == "__main__":
    main()
