"""The cheap path of the test cells' calls (issue 13): sessions, the dict-version restore, shared data.

A test cell's requests go through one session on the stdin channel (autograder.channel,
autograder.kernel.Server.session); the kernel's state is restored before every call, now from
CPython's dict versions (autograder.kernel.Guard.restore); the grader reads the stored visible
test data once per process (rnn_course.replay.shared). These tests run a real grading kernel
(no sandbox) and a real IPython shell.
"""

import numpy as np
import pytest

from autograder import kernel as grading_kernel
from real_kernel import started as started_kernel


@pytest.fixture(scope="module")
def kernel():
    with started_kernel() as (run, km):
        yield run, km


def _channel(km, **options):
    from autograder.channel import Channel

    return Channel(km.get_connection_info(), alive=km.is_alive, call_timeout=5, **options)


TAMPER = """
import numpy as np
import builtins
from rnn_course import judge
calls = []
def tamper(x):
    # what the first call changes must not reach the observation of the next
    judge._same = lambda a, b: True
    np.array_equal = lambda *a, **k: True
    builtins.print = lambda *a, **k: None
    calls.append('tamper')
    return x.sum()
def scale(x):
    x *= 2
    print('scale ran')
    return x
"""

CELL = """
import numpy as np
from rnn_course import judge
print('check starts')
judge.call_student(tamper, np.ones(3))
call = judge.call_student(scale, np.ones(3))
print('check goes on')
judge.assert_unchanged(call, 'scale')
"""


@pytest.mark.parametrize("sessions", [True, False])
def test_a_call_cannot_fool_the_next_ones_observation_and_prints_stay_in_order(kernel, sessions):
    """Within one test cell the kernel restores its state before each call (one session, or an
    execute request per call as before): the in-place write is seen, and the student's print
    comes between the check's own."""
    from autograder.channel import run_test_cell

    run, km = kernel
    run(TAMPER)
    channel = _channel(km, sessions=sessions)
    try:
        outputs, content = run_test_cell(CELL, channel, timeout=20)
    finally:
        channel.close()
    assert content["status"] == "error" and "modified its input `x` in place" in content["evalue"], content
    assert "".join(t for _, t in outputs) == "check starts\nscale ran\ncheck goes on\n", outputs


def test_after_a_session_that_timed_out_the_notebook_and_the_next_test_run(kernel):
    from autograder.channel import run_test_cell

    run, km = kernel
    run("import time\ndef stuck():\n    time.sleep(3600)\ndef seven():\n    return 7\n")
    channel = _channel(km)
    try:
        _, content = run_test_cell("assert seven() == 7\nstuck()", channel, timeout=3)
        assert content["status"] == "error" and "time limit (3 s)" in content["evalue"], content
        run("after = seven() + 1")  # the kernel left the session: the notebook's cells run
        _, content = run_test_cell("assert after == 8 and seven() == 7", channel, timeout=10)
        assert content == {"status": "ok"}, content
        assert channel.serving is None  # the test cell's session is closed
    finally:
        channel.close()


@pytest.fixture(params=["versions", "entries"])
def guard(request, monkeypatch):
    """A Guard over a real IPython shell, comparing dict versions or (without them) entries."""
    from IPython.core.interactiveshell import InteractiveShell

    if request.param == "entries":
        monkeypatch.setattr(grading_kernel, "_dict_version", None)
    elif grading_kernel._dict_version is None:
        pytest.skip("this Python has no _testcapi.dict_get_version")
    return grading_kernel.Guard(InteractiveShell.instance())


def test_restore_undoes_changes_of_globals_classes_and_builtins_and_then_finds_nothing(guard):
    import builtins

    from rnn_course import judge

    same, equal, call_init = judge._same, np.array_equal, judge.Call.__init__
    guard.restore()
    assert not guard.everything.changed()
    judge._same = lambda a, b: True
    np.array_equal = None
    builtins.sneaky = 1
    setattr(judge.Call, "__init__", lambda self, *a: None)
    assert guard.everything.changed() >= {"rnn_course.judge", "numpy"}
    guard.restore()
    assert judge._same is same and np.array_equal is equal and not hasattr(builtins, "sneaky")
    assert judge.Call.__init__ is call_init
    assert not guard.everything.changed()
    judge._same = same  # the same object put back: nothing to restore
    guard.restore()
    assert judge._same is same and not guard.everything.changed()


def test_the_grader_reads_the_stored_data_once_and_hands_out_copies(monkeypatch):
    from rnn_course import replay

    monkeypatch.setattr(replay, "shared", {})
    first_manifest, first = replay.load("elman")
    name = first.keys()[0]
    array = first[name]
    assert not array.flags.writeable
    first_manifest["tests"].clear()  # a test that changed its manifest: the next one reads it anew
    second_manifest, second = replay.load("elman")
    assert second[name] is array and second_manifest["tests"]
    case = replay._Case({"steps": []}, second, ())
    copy = case.decode({"arr": name})
    assert copy.flags.writeable and np.array_equal(copy, array) and copy is not array


def test_arrays_cross_as_raw_bytes_with_dtype_shape_and_order():
    from autograder import wire

    values = [np.arange(6.0).reshape(2, 3), np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.float32(1.5),
              np.zeros((0, 3)), np.array(True), np.arange(10)[::2], np.array([1 + 2j]), np.array([1, 2], dtype=">i4")]
    for value in values:
        tree = wire.encode(value, lambda v: pytest.fail(repr(v)))
        assert "r" in tree
        back = wire.decode(tree, lambda spec: None)
        assert type(back) is type(value) and back.dtype == value.dtype and np.array_equal(back, value)
        if isinstance(value, np.ndarray):
            assert back.shape == value.shape and back.flags.writeable
            assert back.flags.f_contiguous == value.flags.f_contiguous or value.ndim < 2


@pytest.mark.parametrize("tree,words", [
    ({"r": "AAAAAAAAAAA=", "dtype": "O", "shape": [1]}, "other than numbers"),
    ({"r": "AAAAAAAAAAA=", "dtype": "not a dtype", "shape": [1]}, "malformed"),
    ({"r": "AAAAAAAAAAA=", "dtype": "(2,)f4", "shape": [1]}, "other than numbers"),
    ({"r": "AAAAAAAAAAAAAAAA", "dtype": "f8,i4", "shape": [1]}, "other than numbers"),
    ({"r": "AAAA", "dtype": "<f8", "shape": [1]}, "does not fit its shape"),
    ({"r": "AAAAAAAAAAA=", "dtype": "<f8", "shape": [-1]}, "not a list of sizes"),
    ({"r": "AAAAAAAAAAA=", "dtype": "<f8", "shape": [1.0]}, "not a list of sizes"),
])
def test_raw_arrays_that_are_not_plain_numbers_are_refused(tree, words):
    from autograder import wire

    with pytest.raises(wire.WireError, match=words):
        wire.decode(tree, lambda spec: pytest.fail("no handle here"))


MANY = """
import numpy as np
from rnn_course import judge
seen = []
def forward(x):
    seen.append(len(seen))
    if len(seen) == 1:
        judge._same = lambda a, b: True  # the next call's observation must not use this
    if len(seen) == 2:
        x *= 3
    if len(seen) == 3:
        raise IndexError('third call fails')
    return x.sum()
"""

MANY_CELL = """
import numpy as np
from rnn_course import judge
results = judge.call_student_many(forward, [(np.ones(2),), (np.ones(2),), (np.ones(2),), (np.arange(3.0),)],
                                  fn_name='forward')
assert [type(r).__name__ for r in results] == ['Call', 'Call', 'StudentError', 'Call'], results
assert results[0].value == 2 and results[0].mutated == [] and results[3].value == 3
assert results[1].mutated and 'changed from 1 to 3' in results[1].mutated[0][1], results[1].mutated
assert str(results[2]) == 'third call fails'
"""


def test_a_batch_of_calls_is_one_request_observed_call_by_call(kernel):
    """judge.call_student_many: one request; the kernel restores its state before each call, and
    each call's outcome (a value, an exception) comes back in its place."""
    from autograder.channel import Channel, run_test_cell

    run, km = kernel
    run(MANY)
    channel = _channel(km)
    sent = []
    original = Channel._send
    try:
        Channel._send = lambda self, request: sent.append(request["op"]) or original(self, request)
        outputs, content = run_test_cell(MANY_CELL, channel, timeout=20)
    finally:
        Channel._send = original
        channel.close()
    assert content == {"status": "ok"}, content
    assert sent == ["lookup", "call_many"], sent
