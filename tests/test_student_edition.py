"""The student edition (`make student` -> _build/student): what it holds, and that it gives no answer away.

The leak measure is token-level, so that renaming variables or changing constants does not hide a
copy. Code is cut into tokens; comments are dropped; every string becomes S and every number 0;
keywords, builtins, the names of the libraries (np, torch, F, nn, math) and attribute names
(``.tanh``, ``.T``, ``.weight_ih_l0``) stay, every other name becomes I (so ``h = np.tanh(x @ Wx)``
and ``state = np.tanh(inp @ A)`` are the same tokens). An answer (the code between the solution
markers of an answer cell) is covered where a run of K = 10 of its tokens appears, in the same
order, in one document: a code block of the built HTML, a code cell of a notebook, a file of the
wheel. Its similarity to the edition is the largest covered share over the documents.

Threshold 0.5, K = 10. Justification, measured when this test was written: against rnn_ref's
source, where the reference code of every graded function is, 24 of the 30 answers score above
0.5 (the test below asserts that most still do, so the measure can fail); against the student
edition the highest score is about 0.4, reached by ordinary set-up code (array shapes, random
inputs), not by an answer. A run of 10 tokens is about one line of numpy; shorter runs match the
shared idiom of any numpy code (``x[:, t] @ W + b``), longer ones let a copy split into short
pieces escape. An answer more than half covered by such runs is most of the answer.

Four answers are covered on purpose, each by a chapter that teaches the same idea on another
object (listed in ``TAUGHT_ELSEWHERE``, allowed in the book's code only, never in the wheel).
"""

import builtins
import html
import io
import json
import keyword
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import numpy as np
import pytest

from autograder.course import ROOT, available_assignments, source_notebook
from autograder.release import book_url, package_version, wheel_name

EDITION = ROOT / "_build" / "student"
K, THRESHOLD = 10, 0.5
TAUGHT_ELSEWHERE = {
    "a1_elman/answer_predict": "chapter 2 runs rnn_ref's unroll with the Elman R and O (21 tokens: "
                               "the exercise is to see that the network is unroll(R, O))",
    "a5_gru/answer_to_torch": "chapter 3 maps the Elman weights onto torch's nn.RNN; the exercise "
                              "is the GRU's gate blocks and its two biases",
    # A sequence forward is unroll's loop (chapter 2) around the cell's step: 30-odd tokens that
    # any loop over time calling a step and stacking its outputs shares (chapter 4's Elman loop,
    # chapter 10's decoder). The exercise is the step it calls, which no chapter shows.
    "a4_lstm/answer_forward": "a loop over time around the LSTM step, as chapters 2, 4 and 10 loop "
                              "around other steps",
    "a5_gru/answer_forward": "a loop over time around the GRU step, as chapters 2, 4 and 10 loop "
                             "around other steps",
}
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# The rnn_ref functions that are answers (their names in rnn_ref where they differ).
GRADED_REF = ("abstraction.unroll", "elman.elman_step_forward", "elman.elman_forward",
              "elman.elman_state_function", "elman.elman_output_function", "elman.elman_step_backward",
              "elman.elman_backward", "bptt.truncated_bptt", "gradcheck.numerical_gradient",
              "analysis.elman_step_jacobians", "analysis.jacobian_product", "analysis.norms_by_distance",
              "layers.clip_global_norm", "lstm.lstm_step_forward", "lstm.lstm_step_backward",
              "lstm.lstm_forward", "lstm.lstm_backward", "gru.gru_step_forward", "gru.gru_step_backward",
              "gru.gru_forward", "gru.gru_backward", "birnn.reverse_within_lengths", "birnn.birnn_forward",
              "birnn.birnn_backward")

_TOKEN = re.compile(r'''(?P<str>"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')'''
                    r'''|(?P<com>\#[^\n]*)|(?P<num>\d[\w.]*)|(?P<name>[^\W\d]\w*)'''
                    r'''|(?P<op>\*\*=?|//=?|->|[-+*/@%&|^<>=!]=|<<|>>|[-+*/@%&|^~<>=()\[\]{},:.;])''')
_KEPT = set(keyword.kwlist) | set(dir(builtins)) | {"np", "numpy", "torch", "F", "nn", "math"}


def tokens(text):
    """The normalised tokens of a piece of code (see the module docstring)."""
    out = []
    for m in _TOKEN.finditer(text):
        kind, s = m.lastgroup, m.group()
        if kind == "com":
            continue
        if kind == "str":
            out.append("S")
        elif kind == "num":
            out.append("0")
        elif kind == "name":
            out.append(s if s in _KEPT or (out and out[-1] == ".") else "I")
        else:
            out.append(s)
    return out


def runs(toks):
    """The set of K-token runs of a document."""
    return {tuple(toks[i:i + K]) for i in range(len(toks) - K + 1)}


def coverage(answer, doc_runs):
    """Share of the answer's tokens inside a K-token run that the document also holds."""
    covered = np.zeros(len(answer), dtype=bool)
    for i in range(len(answer) - K + 1):
        if tuple(answer[i:i + K]) in doc_runs:
            covered[i:i + K] = True
    return float(covered.mean()) if len(answer) else 0.0


def answers():
    """{"a1_elman/answer_step": tokens} of the code between the solution markers of every answer cell."""
    found = {}
    for assignment in available_assignments():
        for cell in nbformat.read(str(source_notebook(assignment)), as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("solution"):
                body = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
                found[f"{assignment}/{meta['grade_id']}"] = tokens("\n".join(body))
    return found


def graded_reference_lines():
    """{"rnn_ref.elman.elman_forward": its distinctive lines} for GRADED_REF.

    A distinctive line is a stripped line of the function's body (docstring left out), 25
    characters or more, that appears in no other function of rnn_ref (so shape checks shared by
    every layer do not count).
    """
    import ast
    import importlib
    import inspect
    import textwrap

    bodies = {}
    for name in GRADED_REF:
        module, function = name.rsplit(".", 1)
        source = textwrap.dedent(inspect.getsource(getattr(importlib.import_module(f"rnn_ref.{module}"), function)))
        node = ast.parse(source).body[0]
        body = node.body[1:] if ast.get_docstring(node) else node.body
        text = "\n".join(ast.get_source_segment(source, b) for b in body)
        bodies[f"rnn_ref.{name}"] = {ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 25}
    everything = "\n".join(p.read_text() for p in (ROOT / "rnn_ref").rglob("*.py"))
    found = {}
    for name, lines in bodies.items():
        found[name] = {ln for ln in lines if everything.count(ln) == 1}
    return found


def wheel_path(edition):
    wheels = list(edition.rglob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def documents(edition):
    """{name: (text, in the wheel?)}: code blocks of the HTML, code cells of the notebooks, wheel files."""
    docs = {}
    for page in edition.rglob("*.html"):
        blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", page.read_text(errors="replace"), re.S)
        for i, block in enumerate(blocks):
            docs[f"{page.relative_to(edition)} block {i}"] = (html.unescape(re.sub(r"<[^>]+>", "", block)), False)
    for path in edition.rglob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        docs[str(path.relative_to(edition))] = (code, False)
    with zipfile.ZipFile(wheel_path(edition)) as wheel:
        for name in wheel.namelist():
            data = wheel.read(name)
            if name.endswith(".npz"):
                with np.load(io.BytesIO(data)) as arrays:
                    data = arrays["manifest"].tobytes()
            docs[f"wheel: {name}"] = (data.decode(errors="replace"), True)
    return docs


@pytest.fixture(scope="session")
def edition():
    """`make student`, once per session; returns _build/student."""
    done = subprocess.run(["make", "student"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return EDITION


def test_the_edition_holds_the_book_the_notebooks_and_exactly_one_wheel(edition):
    assert (edition / "index.html").is_file() and (edition / "book" / "03_elman.html").is_file()
    names = sorted(p.name for p in (edition / "notebooks").glob("*.ipynb"))
    assert names == sorted(f"{a}.ipynb" for a in available_assignments()) and len(names) == 7
    for name in names:  # the released notebooks, as committed
        assert (edition / "notebooks" / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    assert wheel_path(edition).name == wheel_name()
    assert not any(p.suffix in (".py",) or p.name == "solutions" for p in edition.iterdir())


def test_the_wheel_is_pure_python_loosely_pinned_and_small(edition):
    with zipfile.ZipFile(wheel_path(edition)) as wheel:
        names = wheel.namelist()
        meta = wheel.read(next(n for n in names if n.endswith("METADATA"))).decode()
        tag = wheel.read(next(n for n in names if n.endswith("WHEEL"))).decode()
        size = sum(i.file_size for i in wheel.infolist())
    assert "Tag: py3-none-any" in tag and "Root-Is-Purelib: true" in tag
    requires = re.findall(r"^Requires-Dist: (.*)$", meta, re.M)
    assert any(r.replace(" ", "").startswith("numpy>=1.26") for r in requires), requires
    assert not any("==" in r for r in requires), requires  # no pins of the course's versions
    assert not any(n.startswith(("rnn_ref", "autograder")) for n in names), names
    assert all(n.startswith(("rnn_course/", "rnn_course_student-")) for n in names), names
    assert size < 2_000_000, f"the wheel holds {size} bytes; the stored data should be kilobytes"


def test_no_marker_and_no_reference_code_of_a_graded_function(edition):
    for path in edition.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".ipynb", ".txt", ".md", ".py", ".js", ".json"):
            text = path.read_text(errors="replace")
            assert not [m for m in MARKERS if m in text], path
    with zipfile.ZipFile(wheel_path(edition)) as wheel:
        for name in wheel.namelist():
            assert not [m for m in MARKERS if m.encode() in wheel.read(name)], name
    texts = {name: text for name, (text, _) in documents(edition).items()}
    shown = {}
    for name, lines in graded_reference_lines().items():
        for doc, text in texts.items():
            hits = sorted(ln for ln in lines if ln in text)
            if hits:
                shown[f"{name} in {doc}"] = hits[:2]
    assert sum(map(len, graded_reference_lines().values())) > 40  # there is something to look for
    assert shown == {}


def test_no_answer_is_similar_to_any_code_of_the_edition(edition):
    docs = {name: (runs(tokens(text)), in_wheel) for name, (text, in_wheel) in documents(edition).items()}
    found = {}
    for answer, toks in answers().items():
        for name, (doc, in_wheel) in docs.items():
            score = coverage(toks, doc)
            if score >= THRESHOLD and (in_wheel or answer not in TAUGHT_ELSEWHERE):
                found[answer] = f"{score:.2f} of its tokens in {name}"
    assert found == {}


def test_the_measure_finds_the_answers_in_the_reference_implementation():
    """The same measure against rnn_ref's source: most answers are there (it can fail)."""
    reference = runs(tokens("\n".join(p.read_text() for p in (ROOT / "rnn_ref").rglob("*.py"))))
    scores = {a: coverage(t, reference) for a, t in answers().items()}
    assert sum(s >= THRESHOLD for s in scores.values()) >= len(scores) // 2, scores


def test_notebooks_link_the_published_book_and_install_the_package_first(edition):
    url = book_url()
    for path in sorted((edition / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first.metadata["nbgrader"]["grade_id"] == "install"
        assert url in first.source and wheel_name() in first.source and "pip" in first.source
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "](../" not in markdown and f"]({url}book/" in markdown, path.name


@pytest.mark.parametrize("assignment", available_assignments())
def test_notebooks_import_nothing_of_the_repository(assignment):
    """A student notebook imports the course's package and the libraries a student has, nothing else."""
    nb = nbformat.read(str(ROOT / "notebooks" / f"{assignment}.ipynb"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    imports = set(re.findall(r"^\s*(?:from|import)\s+(\w+)", code, re.M))
    assert not {"rnn_ref", "autograder"} & imports, imports
    assert imports <= {"rnn_course", "numpy", "torch", "matplotlib", "time", "subprocess", "sys", "pathlib"}, imports


def test_instructor_edition_shows_what_the_student_edition_replaces(tmp_path):
    """The `{only}` blocks of the book under the edition extension, in a real (small) Sphinx build."""
    (tmp_path / "conf.py").write_text(
        "import sys\nsys.path.insert(0, %r)\nextensions = ['myst_parser', 'edition']\n"
        "myst_enable_extensions = ['colon_fence']\n" % str(ROOT / "book" / "_ext"))
    page = (ROOT / "book" / "03_elman.md").read_text()
    blocks = re.findall(r"````\{only\} (?:not )?instructor\n.*?\n````\n", page, re.S)
    assert len(blocks) == 4
    (tmp_path / "rnn_ref").mkdir()
    (tmp_path / "rnn_ref" / "elman.py").write_bytes((ROOT / "rnn_ref" / "elman.py").read_bytes())
    (tmp_path / "index.md").write_text("# Page\n\n" + "\n".join(blocks).replace("../rnn_ref", "rnn_ref"))
    built = {}
    for edition_name in ("student", "instructor"):
        out = tmp_path / edition_name
        done = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(tmp_path), str(out)],
                              env={**os.environ, "BOOK_EDITION": edition_name},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        built[edition_name] = html.unescape(re.sub(r"<[^>]+>", "", (out / "index.html").read_text()))
    assert "np.tanh" not in built["student"] and "instructor edition" in built["student"]
    assert "def elman_forward" in built["instructor"] and "instructor edition" not in built["instructor"]


def test_a_submission_checked_with_another_version_gets_a_note():
    from autograder.versions import checked_version, version_note

    nb = nbformat.read(str(ROOT / "notebooks" / "a1_elman.ipynb"), as_version=4)
    assert checked_version(nb) is None and version_note(nb) == ""  # never run: nothing to say
    install = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "install")
    install.outputs = [nbformat.v4.new_output("stream", name="stdout", text="rnn-course-student 0.0.9\n")]
    assert checked_version(nb) == "0.0.9"
    assert "checked with rnn-course-student 0.0.9" in version_note(nb, graded_with=package_version())
    install.outputs[0].text = f"rnn-course-student {package_version()}\n"
    assert version_note(nb, graded_with=package_version()) == ""


def test_stored_data_is_small_and_names_the_catalogued_mistakes():
    """The data files are kilobytes; each visible test has several cases (sizes, edge sizes), and the
    outputs of the catalogued mistakes are stored under their descriptions. (Up to date:
    tests/test_autograder_release.py.)"""
    from autograder.release import STUDENT_DATA

    sizes = {p.name: p.stat().st_size for p in STUDENT_DATA.glob("*.npz")}
    assert len(sizes) >= 6 and max(sizes.values()) < 500_000, sizes
    manifest = json.loads(np.load(STUDENT_DATA / "lstm.npz")["manifest"].tobytes())
    described = {d for t in manifest["tests"].values() for case in t for s in case["steps"]
                 for d, _ in s["args"].get("variants", [])}
    assert any("c = sigmoid" in d for d in described)
    assert all(len(cases) >= 3 for cases in manifest["tests"].values())
    edges = [case["sizes"] for t in manifest["tests"].values() for case in t if case.get("sizes")]
    assert {"T": 1} in edges and {"N": 1, "H": 1} in edges
