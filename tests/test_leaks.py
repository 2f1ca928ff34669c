"""No hidden test and no solution in what students see: released notebooks, feedback, the built
book, the self-check's output.

A secret line is a line of a source notebook between ``### BEGIN SOLUTION`` / ``### END SOLUTION``
or ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` that appears nowhere else in the source
(so ``import numpy as np`` is not a secret), nor in rnn_ref (public: the book shows it, and some
answers are rnn_ref's code, e.g. a1's ``unroll``), and is long enough to mean something. A hidden-test
line may appear nowhere. A solution may not appear as a block: the book teaches from rnn_ref, and
one line of an answer can match one line of the reference, so a solution region counts as leaked
when most of its secret lines appear together in one document.
"""

import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import NOTEBOOKS, ROOT, available_assignments, source_notebook
from autograder.grade import grade

MIN_CHARS = 12
BLOCK_LINES, BLOCK_SHARE = 3, 0.8
GRADED = [a for a in ("a1_elman", "a4_lstm") if a in available_assignments()]  # feedback, self-check
RNN_REF_LINES = {ln.strip() for p in (ROOT / "rnn_ref").rglob("*.py") for ln in p.read_text().splitlines()}
MARKERS = {"### BEGIN SOLUTION": "solution", "### BEGIN HIDDEN TESTS": "hidden",
           "### END SOLUTION": None, "### END HIDDEN TESTS": None}


def secrets(assignment):
    """(solution regions: [[secret line]], hidden-test lines: {line}) of the assignment's source."""
    nb = nbformat.read(str(source_notebook(assignment)), as_version=4)
    public, regions, kinds = set(RNN_REF_LINES), [], []
    for cell in nb.cells:
        kind = None
        for line in cell.source.splitlines():
            text = line.strip()
            if text in MARKERS:
                kind = MARKERS[text]
                if kind:
                    regions.append([])
                    kinds.append(kind)
            elif kind:
                regions[-1].append(text)
            else:
                public.add(text)
    keep = lambda lines: [t for t in lines if len(t) >= MIN_CHARS and t not in public]  # noqa: E731
    solutions = [keep(r) for r, k in zip(regions, kinds) if k == "solution"]
    hidden = {t for r, k in zip(regions, kinds) if k == "hidden" for t in keep(r)}
    return [r for r in solutions if r], hidden


def lines_of(text):
    """The stripped lines of a document; HTML loses its tags and entities first."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return {ln.strip() for ln in text.splitlines() if ln.strip()}


def leaks(assignment, text, strict_solutions=False):
    """What of the assignment's secrets the document shows (empty: nothing)."""
    solutions, hidden = secrets(assignment)
    seen = lines_of(text)
    found = [f"hidden test: {t}" for t in sorted(hidden & seen)]
    for region in solutions:
        shown = [t for t in region if t in seen]
        if strict_solutions and shown:
            found += [f"solution: {t}" for t in shown]
        elif len(shown) >= BLOCK_LINES and len(shown) >= BLOCK_SHARE * len(region):
            found.append(f"solution block: {shown[0]} ... ({len(shown)} of {len(region)} lines)")
    return found


def notebook_text(path):
    nb = nbformat.read(str(path), as_version=4)
    parts = [cell.source for cell in nb.cells]
    parts += [str(out.get("text", "")) + str(out.get("data", "")) for cell in nb.cells
              if cell.cell_type == "code" for out in cell.outputs]
    return "\n".join(parts)


@pytest.mark.parametrize("assignment", available_assignments())
def test_released_notebook_holds_no_solution_line_and_no_hidden_test(assignment):
    assert secrets(assignment)[1] or secrets(assignment)[0], "the source has no secrets to look for"
    released = NOTEBOOKS / f"{assignment}.ipynb"
    assert leaks(assignment, notebook_text(released), strict_solutions=True) == []


def test_built_book_shows_no_solution_and_no_hidden_test():
    build = ROOT / "_build" / "html"
    if not build.is_dir():
        pytest.skip("the book is not built here (make book); the book's own test builds it")
    pages = [p for p in build.rglob("*") if p.suffix in (".html", ".ipynb", ".md", ".txt", ".py")]
    assert pages
    found = {}
    for page in pages:
        text = notebook_text(page) if page.suffix == ".ipynb" else page.read_text(errors="replace")
        for assignment in available_assignments():
            hits = leaks(assignment, text)
            if hits:
                found[f"{page.relative_to(build)} ({assignment})"] = hits[:3]
    assert found == {}


@pytest.fixture(scope="module")
def feedback(tmp_path_factory):
    """Each graded assignment's blank student copy, graded: every test fails, hidden ones too."""
    pages = {}
    for assignment in GRADED:
        root = tmp_path_factory.mktemp(assignment)
        (root / "subs").mkdir()
        (root / "subs" / "blank.ipynb").write_bytes((NOTEBOOKS / f"{assignment}.ipynb").read_bytes())
        grade(assignment, root / "subs", root / "out", seed=1, progress=False, cell_timeout=30)
        pages[assignment] = (root / "out" / "feedback" / "blank.html").read_text()
    return pages


@pytest.mark.parametrize("assignment", GRADED)
def test_feedback_shows_no_hidden_test(feedback, assignment):
    page = feedback[assignment]
    assert "hidden tests: their code is not shown" in page  # the failing hidden tests are there
    assert leaks(assignment, page) == []


@pytest.mark.parametrize("assignment", GRADED)
def test_self_check_output_shows_no_hidden_test(assignment):
    done = subprocess.run([sys.executable, "-m", "autograder", "check", str(NOTEBOOKS / f"{assignment}.ipynb")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 1, done.stderr  # a blank notebook fails its visible tests
    assert leaks(assignment, done.stdout + done.stderr) == []


@pytest.mark.parametrize("assignment", available_assignments())
def test_the_scan_finds_the_secrets_in_the_source_itself(assignment):
    found = leaks(assignment, notebook_text(source_notebook(assignment)), strict_solutions=True)
    assert any(f.startswith("hidden test") for f in found)
    assert any(f.startswith("solution") for f in found)
