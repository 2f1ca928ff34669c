"""``python -m autograder release``: the student notebooks and the visible tests' reference data.

For each assignment: the visible tests of its source notebook are run with rnn_ref on the
solution and stored (:mod:`autograder.record`) in ``student/rnn_course/data/<topic>.npz``; then
nbgrader generates the student copy, whose links are pointed at the published book and whose
first cell installs the student package (:func:`autograder.authoring.install_source`).
"""

import re
import tempfile
from pathlib import Path

import nbformat

from .course import (ASSIGNMENTS, NOTEBOOKS, ROOT, available_assignments, generate_assignment,
                     make_course_dir, source_notebook)

STUDENT_PACKAGE = ROOT / "student" / "rnn_course"
STUDENT_DATA = STUDENT_PACKAGE / "data"
_BOOK_LINK = re.compile(r"\]\(\.\./book/([\w/-]+)\.md(#[\w-]+)?\)")


def package_version():
    """The version of the student package (``rnn_course.__version__``, read from its source)."""
    text = (STUDENT_PACKAGE / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def wheel_name(version=None):
    """File name of the student package's wheel (pure Python)."""
    return f"rnn_course_student-{version or package_version()}-py3-none-any.whl"


def book_url():
    """The published book's address: ``html.baseurl`` of _config.yml, ending in '/'."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("html") or {}).get("baseurl") or ""
    if not url.startswith(("http://", "https://")):
        raise ValueError("_config.yml: set html.baseurl to the address where the book is published")
    return url.rstrip("/") + "/"


def publish_links(nb, url):
    """Point the notebook's links into the book (../book/x.md) at the published pages."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _BOOK_LINK.sub(lambda m: f"]({url}book/{m.group(1)}.html{m.group(2) or ''})",
                                         cell.source)
    return nb


def record_data(assignments, data_dir=STUDENT_DATA, log=print):
    """Store the visible tests' reference data of ``assignments`` in ``data_dir``."""
    from .record import record_assignment

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for assignment in assignments:
        if "rnn_course.checks" not in source_notebook(assignment).read_text(encoding="utf-8"):
            log(f"{assignment}: its visible tests do not use rnn_course.checks yet, no data stored")
            continue
        path = record_assignment(source_notebook(assignment), data_dir, package_version())
        log(f"{assignment}: wrote {path} ({path.stat().st_size // 1024} kB)")
        written.append(path)
    return written


def release(assignments=None, out_dir=NOTEBOOKS, log=print, data_dir=STUDENT_DATA):
    """Store the visible tests' data, then generate the student version of each assignment.

    assignments: ids to release (default: every assignment that has a source).
    Returns the list of written notebook paths.
    """
    assignments = list(assignments or available_assignments())
    for missing in sorted(set(ASSIGNMENTS) - set(available_assignments()) - set(assignments)):
        log(f"{missing}: no source notebook yet, skipped")
    record_data(assignments, data_dir, log)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    url, written = book_url(), []
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:  # one course, one gradebook
        for assignment in assignments:
            api = make_course_dir(tmp, assignment)
            released = generate_assignment(api, assignment)
            target = out_dir / f"{assignment}.ipynb"
            nb = publish_links(nbformat.read(str(released), as_version=4), url)
            nbformat.write(nb, str(target))
            log(f"{assignment}: wrote {target}")
            written.append(target)
    return written
