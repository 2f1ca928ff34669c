"""The rnn_ref benchmark (``python -m bench``): process-isolated workers, the CPU and BLAS named.

No timing is asserted: the run uses tiny sizes and checks what is printed and how it is measured.
"""

import re
import subprocess
import sys

import pytest

from bench.environment import worker_environment
from bench.layers import BLOCKS, gemm_products, matmul_flops
from bench.timing import alternate, run_worker


@pytest.mark.parametrize("layer", sorted(BLOCKS))
def test_the_counted_products_are_the_layers_flops(layer):
    N, T, D, H, G = 3, 5, 7, 11, BLOCKS[layer]
    assert matmul_flops(layer, N, T, D, H, backward=False) == 2 * N * T * (D + H) * G * H
    assert matmul_flops(layer, N, T, D, H, backward=True) == 3 * 2 * N * T * (D + H) * G * H
    # every backward product has the shape of a gradient of a forward operand
    shapes = {(m, n) for m, _, n, _ in gemm_products(layer, N, T, D, H, backward=True)[2:]}
    assert shapes == {(N, H), (T * N, D), (D, G * H), (H, G * H)}


def test_alternate_rotates_the_order_of_the_workers_every_round():
    started = []

    def run(spec, env):
        started.append(spec)
        return spec

    answers = alternate({"a": "a", "b": "b", "c": "c"}, rounds=4, env={}, run=run)
    assert "".join(started) == "abc" + "bca" + "cab" + "abc"
    assert answers == {"a": ["a"] * 4, "b": ["b"] * 4, "c": ["c"] * 4}


@pytest.mark.parametrize("library", ["rnn_ref", "numpy"])
def test_the_numpy_side_workers_never_load_torch(library, tmp_path):
    env, _ = worker_environment(1)
    spec = {"library": library, "layer": "gru", "size": [2, 3, 4, 5], "dtype": "float64", "threads": 1,
            "repeat": 2, "output": str(tmp_path / "out.npy")}
    answer = run_worker(spec, env)
    assert answer["torch_loaded"] is False
    assert set(answer["passes"]) == {"forward", "forward+backward"}
    assert all(len(answer["passes"][p]["wall"]) >= 2 for p in answer["passes"])
    assert "threads" in answer["blas"]


def test_bench_prints_process_isolated_ratios_with_the_cpu_named():
    done = subprocess.run([sys.executable, "-m", "bench", "--sizes", "2,3,4,5", "--layers", "lstm,elman",
                           "--rounds", "2", "--repeat", "1", "--threads", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    with open("/proc/cpuinfo") as f:
        model = re.search(r"model name\s*:\s*(.*)", f.read())[1].strip()
    assert f"CPU: {model}" in out
    assert re.search(r"^BLAS: numpy .*kernel \w+, 1 threads", out, re.M)
    assert re.search(r"^torch: torch .*1 threads", out, re.M)
    assert "own worker processes, alternating" in out and "load average at start" in out
    rows = [line.split() for line in out.splitlines() if re.match(r"(lstm|elman)\s+2\s+3\s+4\s+5", line)]
    assert [(r[0], r[5]) for r in rows] == [("lstm", "forward"), ("lstm", "forward+backward"),
                                            ("elman", "forward"), ("elman", "forward+backward")]
    for r in rows:
        assert all(float(v) > 0 for v in r[6:10]), r  # three times and the ratio
        assert all(float(v) >= 0 for v in r[11:]), r  # cpu ratio, efficiencies (rounded to 2 places)
        assert len(r) == 15, r
        low, high = map(float, r[10].split("-"))  # the ratio's range over the two rounds
        assert 0 < low <= high, r
    for clock in ("wall time", "CPU time"):
        assert re.search(rf"rnn_ref GEMM efficiency in {clock} \(goal >= 0.80\): met in \d of 4 rows", out)
