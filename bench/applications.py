"""``python bench/applications.py [--retrain]``: the applications' targets, measured.

Prints the targets table of :mod:`rnn_ref.apps.report` from the stored results (training only
what is missing), or, with --retrain, after retraining every task from scratch (several minutes
of CPU, one run at a time). Then the held-out bits per character of each character model as a
ratio to the best smoothed n-gram baseline computed in the same run (below 1: the RNN is better).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rnn_ref.apps import TASKS, charlm  # noqa: E402
from rnn_ref.apps.report import best_baseline, format_targets, targets  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retrain", action="store_true", help="retrain every task from scratch first")
    args = parser.parse_args(argv)
    if args.retrain:
        for name, results in TASKS.items():
            print(f"retraining {name} ...", flush=True)
            results(retrain=True)
    print(format_targets(targets()))
    lm = charlm.results()
    base = best_baseline(lm["baselines"])
    print(f"\nheld-out bits/char relative to the best n-gram ({base['smoothing']}, n={base['n']}, "
          f"{base['bpc']:.3f} bpc):")
    for name, r in lm["models"].items():
        print(f"  {name:6s} {r['heldout_bpc']:.3f} bpc  ratio {r['heldout_bpc'] / base['bpc']:.3f}"
              f"  ({r['steps']} updates, {r['cpu_seconds']:.0f} s CPU)")


if __name__ == "__main__":
    main()
