"""Serve MathJax from the built book instead of a CDN.

Copies MathJax 2.7 as shipped by the ``jupyter-server-mathjax`` package into
``<outdir>/_static/mathjax`` (once per output folder) and stops myst-parser's MathJax 3
settings from reaching the page: the book loads MathJax 2 through ``mathjax_path`` and
configures it with ``mathjax2_config`` (see _config.yml).
"""

import shutil
from pathlib import Path

import jupyter_server_mathjax


def mathjax_source():
    """Folder holding MathJax.js, config/, jax/, fonts/ ... of jupyter-server-mathjax."""
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def copy_mathjax(app):
    if app.builder.format != "html":
        return
    app.config.mathjax3_config = None  # set by myst-parser for MathJax 3; we load MathJax 2
    target = Path(app.outdir) / "_static" / "mathjax"
    source = mathjax_source()
    stamp = target / "MathJax.js"
    if stamp.exists() and stamp.stat().st_size == (source / "MathJax.js").stat().st_size:
        return
    shutil.copytree(source, target, dirs_exist_ok=True)


def setup(app):
    app.connect("builder-inited", copy_mathjax, priority=900)  # after myst-parser (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
