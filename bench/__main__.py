"""``python -m bench``: rnn_ref against torch on the CPU, each library in its own processes.

For every layer, size and pass, three programs are timed, each in worker processes of its own
(:mod:`bench.worker`), alternating, several rounds: rnn_ref, torch, and numpy running only
the layer's matrix products (:func:`bench.layers.gemm_products`). Printed per row: the best
wall times, the ratio rnn_ref / torch (below 1: rnn_ref is faster) with its range over the
rounds and in process CPU time, and the GEMM efficiency of rnn_ref and of torch: numpy's time
for the same products / the layer's time (rnn_ref's goal: 0.80 or more), in wall time and,
steadier on a shared machine, in process CPU time. Every table starts with the CPU, numpy's
BLAS kernel and torch's parallel set-up, and ends with the load average.
"""

import argparse
import os
import tempfile

from bench.environment import cpu_description, worker_environment
from bench.layers import BLOCKS, LIBRARIES, PASSES, matmul_flops
from bench.timing import alternate, run_worker

SIZES = [(32, 50, 128, 128), (64, 100, 128, 256), (128, 200, 128, 512)]  # (N, T, D, H)
QUICK_SIZES = [(32, 50, 64, 128)]
EFFICIENCY_GOAL = 0.80  # rnn_ref at >= 80 % of numpy's matmul throughput for the same products


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small size, 2 rounds of 3 calls")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=2, help="threads for numpy's BLAS and for torch")
    parser.add_argument("--rounds", type=int, default=None, help="worker processes per program (default 3)")
    parser.add_argument("--repeat", type=int, default=None, help="timed calls per worker (the best is kept)")
    parser.add_argument("--layers", default="elman,lstm,gru", help="comma-separated subset of elman,lstm,gru")
    parser.add_argument("--sizes", default=None, help="N,T,D,H[;N,T,D,H...] instead of the default sizes")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the workers' environment")
    return parser.parse_args(argv)


def best(answers, pass_, key="wall"):
    """The smallest time of a pass over every round's worker."""
    return min(min(a["passes"][pass_][key]) for a in answers)


def measure(layer, size, dtype, args, env, tmp):
    """Time the three programs of one case, after checking that rnn_ref and torch agree.

    Returns {library: [the worker's answer in round 1, round 2, ...]}.
    """
    import numpy as np

    N, T, D, H = size
    repeat = args.repeat or (3 if args.quick else 5)
    if matmul_flops(layer, N, T, D, H, backward=True) > 2e10:
        repeat = max(2, repeat // 2)  # the largest cases take seconds per call
    specs = {lib: {"library": lib, "layer": layer, "size": list(size), "dtype": dtype, "threads": args.threads,
                   "repeat": repeat, "min_seconds": 0.2,
                   "output": os.path.join(tmp, f"{lib}.npy") if lib != "numpy" else None}
             for lib in LIBRARIES}
    answers = alternate(specs, args.rounds or (2 if args.quick else 3), env)
    ours, theirs = np.load(specs["rnn_ref"]["output"]), np.load(specs["torch"]["output"])
    tolerance = 1e-4 if dtype == "float32" else 1e-10
    if not np.allclose(ours, theirs, rtol=tolerance, atol=tolerance):
        raise AssertionError(f"{layer} {size}: rnn_ref and torch disagree on the benchmark's data")
    return answers


def _ms(seconds):
    return f"{seconds * 1e3:.1f}" if seconds >= 0.01 else f"{seconds * 1e3:.3f}"


def row(layer, size, pass_, answers):
    """The printed line of one case and pass, and rnn_ref's GEMM efficiency in wall and CPU time."""
    N, T, D, H = size
    ours, theirs, gemm = (best(answers[lib], pass_) for lib in LIBRARIES)
    ours_cpu, theirs_cpu, gemm_cpu = (best(answers[lib], pass_, "cpu") for lib in LIBRARIES)
    per_round = [min(a["passes"][pass_]["wall"]) / min(b["passes"][pass_]["wall"])
                 for a, b in zip(answers["rnn_ref"], answers["torch"])]
    spread = f"{min(per_round):.2f}-{max(per_round):.2f}"
    text = (f"{layer:<6}{N:>5}{T:>5}{D:>5}{H:>5}  {pass_:<17}{_ms(ours):>9}{_ms(theirs):>9}{_ms(gemm):>9}"
            f"{ours / theirs:>7.2f}{spread:>11}{ours_cpu / theirs_cpu:>6.2f}"
            f"{gemm / ours:>8.2f}{gemm_cpu / ours_cpu:>6.2f}{gemm / theirs:>8.2f}")
    return text, gemm / ours, gemm_cpu / ours_cpu


HEADER = (f"{'layer':<6}{'N':>5}{'T':>5}{'D':>5}{'H':>5}  {'pass':<17}{'rnn_ref':>9}{'torch':>9}{'GEMM':>9}"
          f"{'ratio':>7}{'range':>11}{'cpu':>6}{'ref eff':>8}{'cpu':>6}{'torch':>8}")
UNITS = (f"{'':<43}{'ms':>9}{'ms':>9}{'ms':>9}{'':>7}{'(rounds)':>11}{'ratio':>6}{'':>8}{'eff':>6}"
         f"{'eff':>8}")


def main(argv=None):
    args = parse_args(argv)
    env, removed = worker_environment(args.threads, args.keep_openblas_env)
    if args.sizes:
        sizes = [tuple(int(v) for v in size.split(",")) for size in args.sizes.split(";")]
    else:
        sizes = QUICK_SIZES if args.quick else SIZES
    layers = args.layers.split(",")
    unknown = [layer for layer in layers if layer not in BLOCKS]
    if unknown:
        raise SystemExit(f"unknown layer(s) {unknown}: choose from {', '.join(BLOCKS)}")
    described = run_worker({"library": "describe", "threads": args.threads}, env)
    print(f"CPU: {cpu_description()}")
    print(f"BLAS: {described['blas']}")
    print(f"torch: {described['torch']}")
    print(f"{args.threads} threads for both (the *_NUM_THREADS variables, torch.set_num_threads, threadpoolctl); "
          f"dtype {args.dtype}; " + (f"workers started without {', '.join(removed)}" if removed
                                     else "no OpenBLAS override removed"))
    print("each library timed in its own worker processes, alternating; best of every call of every round")
    start_load = os.getloadavg()
    print(f"load average at start: {start_load[0]:.1f} (1 min), {start_load[1]:.1f} (5 min) on "
          f"{os.cpu_count()} logical CPUs")
    print(HEADER)
    print(UNITS)
    print("-" * len(HEADER))
    efficiencies = []
    with tempfile.TemporaryDirectory(prefix="rnn-bench-") as tmp:
        for size in sizes:
            for layer in layers:
                answers = measure(layer, size, args.dtype, args, env, tmp)
                for pass_ in PASSES:
                    text, wall_eff, cpu_eff = row(layer, size, pass_, answers)
                    case = f"{layer} {','.join(map(str, size))} {pass_}"
                    efficiencies.append({"wall time": wall_eff, "CPU time": cpu_eff, "case": case})
                    print(text, flush=True)
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min)")
    if max(load[0], start_load[0]) > os.cpu_count():
        print("the machine was busy with other work: wall times drift between rounds (see range); "
              "the cpu ratio is steadier")
    for clock in ("wall time", "CPU time"):
        met = [e for e in efficiencies if e[clock] >= EFFICIENCY_GOAL]
        low = min(efficiencies, key=lambda e: e[clock])
        print(f"rnn_ref GEMM efficiency in {clock} (goal >= {EFFICIENCY_GOAL:.2f}): met in {len(met)} of "
              f"{len(efficiencies)} rows; lowest {low[clock]:.2f} ({low['case']})")


if __name__ == "__main__":
    main()
