"""Make the built book work offline: bundled MathJax, no CDN scripts, no duplicated scripts.

- Copies MathJax 2.7 as shipped by the ``jupyter-server-mathjax`` package into
  ``<outdir>/_static/mathjax`` (once per output folder). _config.yml points ``mathjax_path`` at it
  and configures MathJax with ``mathjax2_config`` (TeX input, SVG output: the SVG output needs no
  web fonts, so math renders from file:// too). myst-parser's MathJax 3 settings are dropped.
- Removes sphinx-thebe's loader when thebe is off (it names a CDN script and is never used).
- Drops scripts that an extension registered twice (sphinx-togglebutton and sphinx-thebe add
  their inline settings again on every read; twice-declared ``const`` is a browser error).
"""

import shutil
from pathlib import Path

import jupyter_server_mathjax


def mathjax_source():
    """Folder holding MathJax.js, config/, jax/, extensions/ ... of jupyter-server-mathjax."""
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


def script_key(script):
    """What makes two script entries the same: file name and attributes (inline body included)."""
    attributes = tuple(sorted((k, str(v)) for k, v in script.attributes.items() if k != "priority"))
    return str(script.filename), attributes


def is_thebe(script):
    body = str(script.attributes.get("body", ""))
    return ("sphinx-thebe" in str(script.filename) or "THEBE_JS_URL" in body
            or script.attributes.get("type") == "text/x-thebe-config")


def clean_scripts(app, pagename, templatename, context, doctree):
    """Per page: drop duplicated scripts, and thebe's when thebe is off."""
    thebe_on = app.config.html_theme_options.get("launch_buttons", {}).get("thebe", False)
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = script_key(script)
        if key in seen or (not thebe_on and is_thebe(script)):
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("builder-inited", copy_mathjax, priority=900)  # after myst-parser (500)
    app.connect("html-page-context", clean_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
