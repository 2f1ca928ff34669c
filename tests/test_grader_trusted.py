"""Test cells run in the grader's process (autograder.channel, autograder.wire; issue 15 part 2).

The first half grades tests/fixtures/trusted_submissions.py in ONE real run per assignment (sandbox
and cgroups where the machine has them, two workers) beside a correct control: attacks on the
grading kernel itself, replies that are garbage, too large or never come, and the check source
read from the sandbox; for a7_charlm (whose checks run experiments in the kernel,
autograder.experiments), forged experiments and rewritten course modules. The second half talks to a real grading kernel (autograder.kernel, no sandbox) through a
Channel, and feeds the wire decoder what a hostile kernel could send.
"""

import base64
import io

import nbformat
import numpy as np
import pytest

from autograder import wire
from autograder.authoring import answers, fill
from autograder.containment import Limits, sandbox_status
from autograder.course import NOTEBOOKS, source_notebook
from autograder.grade import grade
from fixtures.hostile_submissions import ASSIGNMENT, FULL, HIDDEN_CALLS
from fixtures.trusted_submissions import A7, A7_CELL, A7_SUBMISSIONS, CELL, SUBMISSIONS
from real_kernel import started as started_kernel

SANDBOXED = pytest.mark.skipif(not sandbox_status()[0], reason=sandbox_status()[1])
POINTS = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
          for c in nbformat.read(str(source_notebook(ASSIGNMENT)), as_version=4).cells
          if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
GRADER_PATHS = ("/work/", "autograder/", "site-packages", "judge.py", "channel.py", "<test cell>")


def _notebook(filled):
    return nbformat.writes(fill(NOTEBOOKS / f"{ASSIGNMENT}.ipynb", filled)).encode("utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("trusted")
    subs = root / "subs"
    subs.mkdir()
    solution = answers(source_notebook(ASSIGNMENT))
    (subs / "control.ipynb").write_bytes(_notebook(solution))
    for student, (code, _) in SUBMISSIONS.items():
        cell = CELL.get(student, "answer_state_output")
        filled = {cell: code} if student == "forge_kernel_classes" else {**solution, cell: solution[cell] + "\n" + code}
        (subs / f"{student}.ipynb").write_bytes(_notebook(filled))
    results = grade(ASSIGNMENT, subs, root / "out", seed=31, progress=False, jobs=2, cell_timeout=8,
                    timeout=300, limits=Limits(memory_mb=2048))
    return {"out": root / "out", "results": {r.student: r for r in results}}


def _cells(graded, student, assignment=ASSIGNMENT):
    path = graded["out"] / "course" / "autograded" / student / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id") or f"cell{k}": c for k, c in enumerate(nb.cells)}


def _text(cell):
    return "".join(str(o.get("text", "")) + str(o.get("evalue", "")) + "".join(o.get("traceback", []))
                   for o in cell.outputs)


def test_the_control_gets_full_marks_beside_the_attacks(graded):
    result = graded["results"]["control"]
    assert result.reason == "" and result.total == FULL, result


@pytest.mark.parametrize("student", sorted(SUBMISSIONS))
def test_each_attack_loses_its_tests_and_only_those(graded, student):
    """Garbage, oversized and missing answers fail their own tests; grading goes on with the rest."""
    result = graded["results"][student]
    lost = SUBMISSIONS[student][1]
    if lost == "died":
        assert result.total == 0 and "the kernel died" in result.reason, result
        return
    assert result.reason == "", result.reason
    expected = {t: 0.0 if lost == "all" or t in lost else float(p) for t, p in POINTS.items()}
    assert {t: result.scores[t] for t in POINTS} == expected, (result.scores, result.note)


def test_rewriting_the_grading_kernels_classes_fakes_no_verdict(graded):
    """The old design ran tests in the kernel: Guard.run_test patched to 'ok' gave stubs full marks."""
    cells = _cells(graded, "forge_kernel_classes")
    assert "PATCHED ['GradingKernel', 'Guard', 'Server']" in _text(cells["answer_state_output"])
    assert graded["results"]["forge_kernel_classes"].total == 0


@pytest.mark.parametrize("student,test,words", [
    ("reply_garbage", "test_output_values", "GradingError"),
    ("reply_garbage", "test_output_values", "the kernel sent a value the grader does not read"),
    ("reply_huge", "test_unroll_order", "time limit (8 s)"),
    ("reply_never", "test_predict_values", "time limit (8 s)"),
    ("student_traceback", "test_forward_shape", "IndexError:"),
    ("student_traceback", "test_forward_shape", "in _shape_of, line 14: return x.shape[7]"),
])
def test_each_failure_says_why(graded, student, test, words):
    assert words in _text(_cells(graded, student)[test]), _text(_cells(graded, student)[test])


def test_errors_show_the_students_frames_only(graded):
    for student in set(SUBMISSIONS) - {"exit_in_call"}:
        for grade_id, cell in _cells(graded, student).items():
            if grade_id.startswith("test_"):
                text = _text(cell)
                assert not any(p in text for p in GRADER_PATHS), (student, grade_id, text)


@SANDBOXED
def test_the_check_modules_and_rnn_ref_are_not_in_the_sandbox(graded):
    text = _text(_cells(graded, "snoop_check_source")["answer_state_output"])
    assert "files seen 0" in text, text[-2000:]
    assert "modules loaded []" in text, text[-2000:]  # nor in memory (a forked kernel's parent)
    assert "import refused autograder.checks" in text and "import refused rnn_ref" in text
    assert "SOURCE" not in text and "IMPORTED" not in text
    feedback = (graded["out"] / "feedback" / "snoop_check_source.html").read_text(encoding="utf-8")
    assert "def state_single_unit" not in feedback and not any(c in feedback for c in HIDDEN_CALLS)
    assert graded["results"]["snoop_check_source"].total == FULL


# ---------------------------------------------------------------------------------------------
# a7_charlm: the checks train a model in the kernel (experiments) and judge the data here.

A7_POINTS = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
             for c in nbformat.read(str(source_notebook(A7)), as_version=4).cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def graded_a7(tmp_path_factory):
    root = tmp_path_factory.mktemp("trusted_a7")
    subs = root / "subs"
    subs.mkdir()
    (subs / "control.ipynb").write_bytes(
        nbformat.writes(fill(NOTEBOOKS / f"{A7}.ipynb", answers(source_notebook(A7)))).encode("utf-8"))
    for student, code in A7_SUBMISSIONS.items():
        (subs / f"{student}.ipynb").write_bytes(
            nbformat.writes(fill(NOTEBOOKS / f"{A7}.ipynb", {A7_CELL: code})).encode("utf-8"))
    results = grade(A7, subs, root / "out", seed=31, progress=False, jobs=2, timeout=300,
                    limits=Limits(memory_mb=3072))
    return {"out": root / "out", "results": {r.student: r for r in results}}


def test_a7_control_gets_full_marks_beside_the_attacks(graded_a7):
    result = graded_a7["results"]["control"]
    assert result.reason == "" and result.total == sum(A7_POINTS.values()), result


@pytest.mark.parametrize("student", sorted(A7_SUBMISSIONS))
def test_a7_stubs_that_forge_experiments_or_rewrite_the_course_in_the_kernel_earn_nothing(graded_a7, student):
    """Blank stubs plus an attack: the old design ran a7's tests in the kernel, where a patched
    Guard.run_test or check module gave full marks. Now the verdicts are the grader's, and a record
    that ends early (what a forger can make without computing anything) fails its test."""
    result = graded_a7["results"][student]
    assert result.reason == "", result.reason
    assert {t: result.scores[t] for t in A7_POINTS} == dict.fromkeys(A7_POINTS, 0.0), (result.scores, result.note)
    text = _text(_cells(graded_a7, student, A7)[A7_CELL])
    done = ("A7 PATCHED" if student == "a7_forge_kernel" else  # every experiment forged, in the table itself
            "A7 TABLE ['batches', 'draws', 'parameters', 'reproducible', 'train', 'train_alone', 'train_step']")
    assert done in text, text[-2000:]


def test_a7_the_checks_and_the_reference_are_not_in_the_kernel(graded_a7):
    """a7's kernel is like every other's: it holds no module of the checks or of rnn_ref."""
    text = _text(_cells(graded_a7, "a7_rewrite_modules", A7)[A7_CELL])
    assert "A7 loaded []" in text, text[-2000:]
    if sandbox_status()[0]:
        assert "A7 import refused autograder.checks.charlm" in text and "A7 import refused rnn_ref" in text, text
    assert "A7 IMPORTED autograder" not in text


def test_a7_forged_records_fail_with_a_reason(graded_a7):
    cells = _cells(graded_a7, "a7_forge_kernel", A7)
    assert "the experiment's record ends before it" in _text(cells["test_train_step_values"])
    assert "the experiment's record is incomplete" in _text(cells["test_sampler_distribution"])


# ---------------------------------------------------------------------------------------------
# A real grading kernel (no sandbox) behind a Channel.

@pytest.fixture(scope="module")
def kernel():
    from autograder.channel import Channel

    with started_kernel() as (run, km):
        channel = Channel(km.get_connection_info(), alive=km.is_alive, call_timeout=5)
        yield run, channel
        channel.close()


def test_callbacks_handles_and_data_cross_the_channel(kernel):
    from autograder.channel import run_test_cell

    run, channel = kernel
    run("""
import numpy as np
class Cache:
    def __init__(self, x):
        self.x = x
def forward(x, R):
    print('forward ran')
    return R(x) + 1, Cache(x)
def backward(d, cache):
    return d * cache.x
""")
    outputs, content = run_test_cell("""
import numpy as np
from rnn_course import judge
x = np.arange(6.0).reshape(2, 3)
out, cache = judge.call_student(forward, x, lambda v: 2 * v).value
assert np.array_equal(out, 2 * x + 1) and out.dtype == np.float64, out
assert type(cache).__name__ == 'Cache' and not callable(cache)
call = judge.call_student(backward, np.ones((2, 3)), cache)
assert np.array_equal(call.value, x) and call.mutated == [] and call.warned == []
""", channel, timeout=20)
    assert content == {"status": "ok"}, content
    assert "forward ran" in "".join(t for _, t in outputs)


def test_a_mutated_input_and_a_missing_function_are_reported(kernel):
    from autograder.channel import run_test_cell

    run, channel = kernel
    run("def scale(x):\n    x *= 2\n    return x\n")
    _, content = run_test_cell("""
import numpy as np
from rnn_course import judge
call = judge.call_student(scale, np.ones(3))
judge.assert_unchanged(call, 'scale')
""", channel, timeout=20)
    assert content["status"] == "error" and "modified its input `x` in place" in content["evalue"], content
    _, content = run_test_cell("not_defined_anywhere(1)", channel, timeout=20)
    assert content["ename"] == "NameError", content


def test_a_call_that_never_returns_is_stopped_and_the_next_test_runs(kernel):
    from autograder.channel import run_test_cell

    run, channel = kernel
    run("import time\ndef slow():\n    time.sleep(3600)\ndef fast():\n    return 7\n")
    _, content = run_test_cell("slow()", channel, timeout=3)
    assert content["status"] == "error" and "time limit (3 s)" in content["evalue"], content
    _, content = run_test_cell("assert fast() == 7", channel, timeout=10)
    assert content == {"status": "ok"}, content


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("tree,words", [
    ({"a": _npy(np.array([{"x": 1}], dtype=object))}, "cannot be read"),  # a pickle inside .npy
    ({"a": base64.b64encode(b"\x93NUMPY garbage").decode()}, "cannot be read"),
    ({"pickle": "gASVAAAAAAAAAAA="}, "unknown tag"),
    ({"ref": "os:system"}, "not a public name"),
    ({"ref": "rnn_course.callbacks:_private"}, "not a public name"),
    # names a public module only imported: a kernel could hand the grader any function of numpy
    # or ctypes (one that runs Python code), which a check might pass back as a callback
    ({"ref": "rnn_course.given:np.ctypeslib.ctypes.pythonapi.PyRun_SimpleString"}, "not a public name"),
    ({"ref": "rnn_course.callbacks:np.save"}, "no such function"),
    ({"ref": "rnn_course.given:np.load", "state": {"d": []}}, "no such function"),
    ({"gen": "Generator", "state": {"n": 0}}, "unknown bit generator"),
    ({"l": [{"l": []}] * (wire.LIMITS["items"] + 1)}, "values in one message"),
    ({"s": "x" * (wire.LIMITS["text"] + 1)}, "characters"),
    ({"d": [[{"l": []}, {"n": 0}]]}, "key that is not a plain value"),
    ({"o": [3], "items": [{"n": 0}]}, "do not fit its shape"),
    ({"i": "9" * 5000}, "integer too long"),
])
def test_the_decoder_refuses_what_is_not_plain_data(tree, words):
    with pytest.raises(wire.WireError, match=words):
        wire.decode(tree, lambda spec: pytest.fail("no handle here"))


def test_the_decoder_stops_deep_nesting_and_round_trips_plain_data():
    deep = {"n": 0}
    for _ in range(wire.LIMITS["depth"] + 5):
        deep = {"l": [deep]}
    with pytest.raises(wire.WireError, match="nesting"):
        wire.decode(deep, lambda spec: None)
    value = {"x": np.arange(4, dtype=np.int32), "t": (1, 2.5, float("nan"), None, True, "s", b"b", 1j),
             "g": np.float32(1.5), "r": np.random.default_rng(3)}
    back = wire.decode(wire.encode(value, lambda v: pytest.fail(repr(v))), lambda spec: None)
    assert back["x"].dtype == np.int32 and np.array_equal(back["x"], value["x"])
    assert back["t"][:2] == (1, 2.5) and np.isnan(back["t"][2]) and back["t"][3:] == (None, True, "s", b"b", 1j)
    assert type(back["g"]) is np.float32
    assert back["r"].random() == np.random.default_rng(3).random()


def test_an_error_in_a_function_given_to_the_students_code_keeps_its_type(kernel):
    """A ValueError in the test's R (called back in the grader) is a ValueError in the student's
    unroll, so the check still says which shapes did not fit."""
    from autograder.channel import run_test_cell

    run, channel = kernel
    run("def bad_unroll(R, x):\n    return R(x, x)\n")
    _, content = run_test_cell("""
import numpy as np
from rnn_course import judge
judge.call_student(bad_unroll, lambda a, b: a @ b, np.ones((2, 3)), names=['R', 'x'])
""", channel, timeout=20)
    assert content["ename"] == "CheckFailed" and "`bad_unroll` raised ValueError: matmul" in content["evalue"], content


def test_an_experiments_result_is_data_exceptions_and_type_names_never_a_handle():
    from autograder.experiments import Experiments, Other

    read = Experiments(None)._outcome
    other = wire.decode({"l": [{"h": 0, "owner": "kernel", "other": "generator", "repr": "<generator x>"}]}, read)[0]
    assert isinstance(other, Other) and type(other).__name__ == "generator" and repr(other) == "<generator x>"
    with pytest.raises(TypeError):
        float(other)
    with pytest.raises(wire.WireError, match="a handle in an experiment's result"):
        wire.decode({"h": 3, "owner": "kernel", "type": "CharLM", "call": True}, read)


def test_the_kernel_runs_no_experiment_of_a_module_it_did_not_load_at_start_up(kernel):
    """A module first imported by the student's cells is not restored before a call: the kernel's
    Server refuses to run its experiments (this kernel was started without a7's trusted modules)."""
    from autograder.channel import run_test_cell
    from autograder.experiments import installed

    run, channel = kernel
    run("import rnn_course.charlm_judge\ndef pick(scores, temperature, generator):\n    return 0\n")
    with installed(channel):
        _, content = run_test_cell("""
import numpy as np
from rnn_course import charlm_judge
charlm_judge.sampler_greedy(pick, scores=[np.array([1.0, 2.0])], expected=[1])
""", channel, timeout=20)
    assert content["ename"] == "ProtocolError" and "no experiments in rnn_course.charlm_judge" in content["evalue"], content
