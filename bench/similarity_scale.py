"""``python -m bench.similarity_scale``: the similarity report on a large class.

Builds N answers to a1_elman (default 500): the instructor's solution and two independent
styles (tests/instructor_class.py), each with its identifiers renamed at random and some lines
reordered, plus a few planted copies. Then times, in separate processes and alternating:

- ``winnowing``: autograder.similarity as ``grade`` runs it (normalise, fingerprint, index);
- ``all pairs``: the baseline, the same fingerprints compared pair by pair (N (N - 1) / 2 set
  intersections).

Prints the CPU, the best wall time of each and their ratio.
"""

import argparse
import platform
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_class(count, seed=0):
    """{student: {grade id: code}} of ``count`` generated answers.

    Each answer cell comes from one of the three styles (independently per cell), with about
    70 % of its assigned names renamed and one extra line of the student's own in about half
    the cells (a print, a shape check, a temporary), so that the class is not three groups of
    clones. Every 50th answer is a renamed copy of the one before it.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    from instructor_class import STYLE_A, STYLE_B

    from autograder.authoring import answers
    from autograder.course import source_notebook

    bases = [answers(source_notebook("a1_elman")), STYLE_A, STYLE_B]
    extras = ["    print('shape', {v}.shape)", "    assert {v} is not None", "    _unused_{n} = {n} * 2",
              "    # checked by hand on a 2x3 example", "    {v} = {v}  # keep"]
    rng = random.Random(seed)
    out = {}
    for n in range(count):
        if n % 50 == 49:
            out[f"s{n:04d}"] = {gid: re.sub(r"\b(\w+)_(\d+)\b", r"\1_c\2", code)
                                for gid, code in out[f"s{n - 1:04d}"].items()}
            continue
        cells = {}
        for gid in bases[0]:
            code = rng.choice(bases)[gid]
            names = set(re.findall(r"\b([a-z_][a-z_0-9]*)\s*=", code))
            for name in names:
                if rng.random() < 0.7:
                    code = re.sub(rf"\b{name}\b", f"{name}_{rng.randrange(1000)}", code)
            lines = code.splitlines()
            if rng.random() < 0.5 and len(lines) > 3 and names:
                at = rng.randrange(2, len(lines))
                if lines[at].startswith("    ") and not lines[at].startswith("        "):
                    var = rng.choice(sorted(re.findall(r"\b([a-z_][a-z_0-9]*)\s*=", "\n".join(lines[:at])) or ["x"]))
                    lines.insert(at, rng.choice(extras).format(v=var, n=rng.randrange(100)))
            cells[gid] = "\n".join(lines)
        out[f"s{n:04d}"] = cells
    return out


def run(method, count):
    """Seconds to normalise, fingerprint and compare ``count`` answers with ``method``."""
    from autograder import similarity

    generated = make_class(count)
    references = similarity.reference_answers("a1_elman")
    start = time.perf_counter()
    answers = [similarity.make_answer(s, cells, {}) for s, cells in generated.items()]
    if method == "winnowing":
        similarity.compare(answers, references)
    else:
        prints = [set(a.prints) for a in answers]
        for i in range(len(prints)):
            for j in range(i + 1, len(prints)):
                len(prints[i] & prints[j])
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(prog="python -m bench.similarity_scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", choices=("winnowing", "all-pairs"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(run(args.child, args.count))
        return
    best = {"winnowing": float("inf"), "all-pairs": float("inf")}
    for _ in range(args.repeat):
        for method in best:  # alternating, each in its own process
            done = subprocess.run([sys.executable, "-m", "bench.similarity_scale", "--child", method,
                                   "--count", str(args.count)], cwd=ROOT, capture_output=True,
                                  text=True, check=True)
            best[method] = min(best[method], float(done.stdout.strip().splitlines()[-1]))
    print(f"CPU: {cpu_name()}; {args.count} answers to a1_elman; best of {args.repeat}")
    print(f"winnowing index (as grade runs it):        {best['winnowing']:.2f} s")
    print(f"all pairs of the same fingerprints (base): {best['all-pairs']:.2f} s")
    print("(both include normalising and fingerprinting every answer)")
    print(f"ratio winnowing / all pairs: {best['winnowing'] / best['all-pairs']:.2f}")


if __name__ == "__main__":
    main()
