"""``python bench/ngram.py [--order 6] [--repeat 3]``: hashed against dictionary Kneser-Ney.

Times building and scoring the Kneser-Ney models (one discount) of every order 1 .. ``order``
on the course split, with :class:`rnn_ref.apps.ngram.HashedKneserNey` (numpy, hashed k-grams,
all orders in one pass) and with :class:`rnn_ref.apps.ngram.KneserNeyNGram` (dictionaries of
strings, one model per order), each in its own process, alternating, best CPU time of
``repeat``. Prints both times, their ratio (below 1: the hashed model is faster) and that the
two give the same bits per character. Names the CPU.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

RUN = """
import json, sys, time
import numpy as np
from rnn_ref.apps.charlm import course_data
from rnn_ref.apps.ngram import HashedKneserNey, KneserNeyNGram, NGramCounts, bits_per_char
train, heldout, vocab = course_data()
order, kind = int(sys.argv[1]), sys.argv[2]
t0 = time.process_time()
if kind == "hashed":
    codes = lambda s: np.array([ord(c) for c in s])
    bpc = HashedKneserNey(codes(train), order, len(vocab), modified=False).bits_per_char(codes(heldout))
else:
    counts = NGramCounts(train, order)
    bpc = {n: bits_per_char(KneserNeyNGram(counts, n, len(vocab)), heldout, n) for n in range(1, order + 1)}
print(json.dumps({"cpu": time.process_time() - t0, "bpc": list(bpc.values())}))
"""


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--order", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    best, bpc = {}, {}
    for _ in range(args.repeat):
        for kind in ("dictionary", "hashed"):
            out = subprocess.run([sys.executable, "-c", RUN, str(args.order), kind], cwd=root,
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out)
            best[kind] = min(best.get(kind, float("inf")), r["cpu"])
            bpc[kind] = r["bpc"]
    same = max(abs(a - b) for a, b in zip(bpc["dictionary"], bpc["hashed"]))
    print(f"Kneser-Ney, orders 1..{args.order}, course split; {cpu_name()}; best CPU time of {args.repeat}")
    print(f"  dictionary {best['dictionary']:.2f} s   hashed {best['hashed']:.2f} s   "
          f"ratio hashed/dictionary {best['hashed'] / best['dictionary']:.3f}   "
          f"largest bpc difference {same:.1e}")


if __name__ == "__main__":
    main()
