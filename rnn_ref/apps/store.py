"""Stored results: every training run is saved under a key made from its configuration.

A configuration is a JSON-able dict (task, model, sizes, seed, time budget, a fingerprint of the
data). Its key is the first 12 hex digits of the SHA-256 of its canonical JSON. :func:`cached`
returns the stored result for a configuration when there is one and trains otherwise, so the
book, the benchmarks and the tests all call the same training functions and the book builds in
seconds from the results committed under ``rnn_ref/apps/results/``.

The key covers the configuration, not the code: after changing how a task trains, retrain it
(``python -m rnn_ref.apps retrain TASK``) and commit the new results; results that no
configuration uses any more can then be deleted.
"""

import json
import hashlib
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"


def config_key(config):
    """The key of a configuration: a hash of its JSON with sorted keys."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def result_path(config, results_dir=None):
    """Where the result of ``config`` is stored: ``<results_dir>/<task>-<key>.json``."""
    return Path(results_dir or RESULTS_DIR) / f"{config['task']}-{config_key(config)}.json"


def _compact(value, digits=5):
    """Round floats to ``digits`` significant digits, recursively, to keep the JSON small."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: _compact(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_compact(v, digits) for v in value]
    return value


def cached(config, train, retrain=False, results_dir=None):
    """The result of ``train(config)``, loaded from disk when stored, else trained and stored.

    config: dict with at least "task". train: callable(config) -> dict of JSON-able results.
    retrain: train even when a stored result exists (and overwrite it).
    Returns the result dict, with "config" and "key" added.
    """
    path = result_path(config, results_dir)
    if path.exists() and not retrain:
        return json.loads(path.read_text())
    result = _compact({"key": config_key(config), "config": config, **train(config)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=None, separators=(",", ":")) + "\n")
    return result
