"""``python -m bench``: rnn_ref against torch on the CPU, same run, dtype and threads.

Prints, per layer, size and pass, the best-of-k wall times, the ratio rnn_ref / torch (below
1: rnn_ref is faster), the same ratio in process CPU time (steadier on a busy machine), the
GFLOP/s of the matrix products each achieves, and numpy's own matmul GFLOP/s for the per-step
product (N, H) @ (H, G H) of that size, the ceiling of the recurrent loop.
"""

import argparse
import os

from bench.environment import reexec_without_slowing_variables, set_thread_variables

SIZES = [(32, 50, 128, 128), (64, 100, 128, 256), (128, 200, 128, 512)]  # (N, T, D, H)
QUICK_SIZES = [(32, 50, 64, 128)]
TARGET = (64, 100, 128, 256)  # targets: forward+backward ratio <= 1.0, forward <= 1.5 (float32, 2 threads)


def parse_args():
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small size, fewer repeats")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=2, help="threads for numpy's BLAS and for torch")
    parser.add_argument("--repeat", type=int, default=None, help="timed calls per case (the best is kept)")
    parser.add_argument("--layers", default="elman,lstm,gru", help="comma-separated subset of elman,lstm,gru")
    parser.add_argument("--sizes", default=None, help="N,T,D,H[;N,T,D,H...] instead of the default sizes")
    parser.add_argument(
        "--keep-openblas-env", action="store_true", help="do not drop OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE"
    )
    return parser.parse_args()


def main():
    args = parse_args()
    reexec_without_slowing_variables(keep=args.keep_openblas_env)
    set_thread_variables(args.threads)

    import numpy as np

    from bench.environment import limit_threads, removed_variables
    from bench.layers import LAYERS, make_runs, matmul_flops, numpy_matmul_seconds
    from bench.timing import best_of_each

    blas = limit_threads(args.threads)
    dtype = np.dtype(args.dtype)
    repeat = args.repeat or (3 if args.quick else 5)
    timer = lambda *fns, repeat=repeat: best_of_each(fns, repeat, min_seconds=0.2)
    if args.sizes:
        sizes = [tuple(int(v) for v in size.split(",")) for size in args.sizes.split(";")]
    else:
        sizes = QUICK_SIZES if args.quick else SIZES
    removed = removed_variables()
    print(f"{blas}; torch {args.threads} threads; dtype {dtype}; best of {repeat}")
    print(f"started without {removed}" if removed else "no OpenBLAS override removed")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    header = (
        f"{'layer':<6}{'N':>5}{'T':>5}{'D':>5}{'H':>5}  {'pass':<17}{'rnn_ref ms':>11}{'torch ms':>10}"
        f"{'ratio':>7}{'cpu ratio':>10}{'ref GF/s':>10}{'torch GF/s':>11}{'matmul GF/s':>12}"
    )
    print(header)
    print("-" * len(header))
    results = {}
    for N, T, D, H in sizes:
        for layer in args.layers.split(","):
            G = LAYERS[layer][0]
            step_gemm = numpy_matmul_seconds(N, H, G * H, dtype, lambda fn: timer(fn)[0][0])
            runs = make_runs(layer, N, T, D, H, dtype)
            for name in ("forward", "forward+backward"):
                flops = matmul_flops(layer, N, T, D, H, backward=name != "forward")
                k = repeat if flops < 2e10 else max(2, repeat // 2)  # the largest cases take seconds each
                (ours, ours_cpu), (theirs, theirs_cpu) = timer(runs[f"rnn_ref {name}"], runs[f"torch {name}"], repeat=k)
                results[layer, (N, T, D, H), name] = ours / theirs
                print(
                    f"{layer:<6}{N:>5}{T:>5}{D:>5}{H:>5}  {name:<17}{ours * 1e3:>11.1f}{theirs * 1e3:>10.1f}"
                    f"{ours / theirs:>7.2f}{ours_cpu / theirs_cpu:>10.2f}{flops / ours / 1e9:>10.1f}"
                    f"{flops / theirs / 1e9:>11.1f}{2 * N * H * G * H / step_gemm / 1e9:>12.1f}",
                    flush=True,
                )
    load = os.getloadavg()[0]
    print(f"load average at end: {load:.1f}")
    if load > os.cpu_count():
        print("the machine is busy with other work: wall times and their ratios are unreliable, see cpu ratio")
    if ("lstm", TARGET, "forward") in results and dtype == np.float32 and args.threads == 2:
        fb, f = results["lstm", TARGET, "forward+backward"], results["lstm", TARGET, "forward"]
        print(
            f"LSTM targets at (N, T, D, H) = {TARGET}: forward+backward ratio {fb:.2f} (target <= 1.0: "
            f"{'met' if fb <= 1.0 else 'missed'}), forward {f:.2f} (target <= 1.5: {'met' if f <= 1.5 else 'missed'})"
        )


if __name__ == "__main__":
    main()
