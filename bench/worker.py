"""``python -m bench.worker SPEC``: time one library's program in this process; print JSON.

SPEC is a JSON object: library (rnn_ref, torch, numpy, or describe: report the BLAS and torch
set-up and time nothing), layer, size [N, T, D, H], dtype,
threads, repeat, min_seconds, and optionally output (a path: the forward's output is saved
there as .npy, so that the caller can check that the libraries compute the same function).
The answer, one JSON line on stdout: {"blas": ..., "torch": ... (torch worker only),
"torch_loaded": whether torch was imported, "passes": {pass: {"wall": [...], "cpu": [...]}}}.

The thread variables must be set by the caller (bench.environment.worker_environment); this
process also sets its BLAS and torch threads to SPEC's count after import. Only the library
timed is imported: the rnn_ref and numpy workers never load torch.
"""

import json
import sys


def main(argv=None):
    spec = json.loads((argv or sys.argv[1:])[0])
    import numpy as np

    from bench.environment import numpy_blas, torch_parallel
    from bench.layers import PASSES, PROGRAMS
    from bench.timing import best_of

    answer = {"blas": numpy_blas(spec["threads"])}
    if spec["library"] in ("torch", "describe"):
        answer["torch"] = torch_parallel(spec["threads"])
    if spec["library"] == "describe":  # the environment only, nothing timed
        print(json.dumps(answer))
        return
    programs, output = PROGRAMS[spec["library"]](spec["layer"], *spec["size"], np.dtype(spec["dtype"]))
    if spec.get("output") and output is not None:
        np.save(spec["output"], output)
    answer["torch_loaded"] = "torch" in sys.modules
    answer["passes"] = {name: best_of(programs[name], spec["repeat"], spec.get("min_seconds", 0.0))
                        for name in PASSES}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
