"""The MathJax of the feedback pages: one local copy next to them, so that math renders offline.

The pages (template ``autograder/templates/rnn_feedback``) load ``mathjax/MathJax.js`` relative
to themselves. :func:`install` copies MathJax 2.7 as the ``jupyter-server-mathjax`` package ships
it (the copy the book bundles too, ``book/_ext/offline_assets.py``) into ``OUT/feedback/mathjax``
once per run: the TeX input, the HTML-CSS output with its STIX-Web fonts, and the extensions,
about 3 MB for every page of the folder together. Its translations and the accessibility
extensions (the pages turn MathJax's menu off) stay behind.
"""

import os
import shutil
from pathlib import Path

FOLDER = "mathjax"
ENTRY = "MathJax.js"
LEFT_OUT = {"localization", "a11y", "SVG"}  # English is built in; no menu; no SVG output jax in this copy


def source():
    """Folder of jupyter-server-mathjax's MathJax (MathJax.js, config/, jax/, extensions/, fonts/)."""
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _left_out(folder, names):
    return [n for n in names if n in LEFT_OUT]


def install(feedback_dir):
    """Copy MathJax into ``feedback_dir/mathjax`` unless the same copy is there; returns the folder.

    Written under a temporary name and moved into place, so that a run killed halfway never
    leaves a partial copy that the next run would take for a complete one.
    """
    feedback_dir = Path(feedback_dir)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    target = feedback_dir / FOLDER
    entry = source() / ENTRY
    if (target / ENTRY).is_file() and not target.is_symlink() \
            and (target / ENTRY).read_bytes() == entry.read_bytes():
        return target
    staging = feedback_dir / f".{FOLDER}.{os.getpid()}.part"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source(), staging, ignore=_left_out)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    try:
        os.replace(staging, target)
    except OSError:  # another grader of the same folder was quicker
        shutil.rmtree(staging, ignore_errors=True)
    return target
