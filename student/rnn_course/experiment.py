"""Experiments: course code that runs the student's functions and returns only data.

A judge that needs the student's objects to live somewhere (a torch model trained in place, an
optimizer, a generator) is split in two: an *experiment*, which builds those objects from data,
calls the student's functions and returns what it observed as plain data (numbers, arrays,
tensors, lists, dicts; an exception the student's code raised; any other object only as its type
and ``repr``), and a *verdict*, which compares that data with the expected values and says what
is wrong. An experiment computes no answer and never sees an expected value.

:func:`run` runs an experiment where the student's functions live: here, in the student's own
notebook; in the grader (autograder.experiments sets :data:`_elsewhere` while a test cell runs),
in the grading kernel, which sends back the data alone; the verdict then runs in the grader.
"""

import importlib

MODULES = ("rnn_course.charlm_judge",)  # the modules whose EXPERIMENTS may run in a grading kernel

# Set by the grader while a test cell runs in its own process: a function (module, name,
# functions, data) -> the experiment's result, run where the student's functions live; or None
# when none of ``functions`` is an object of the student's kernel (then it runs here).
_elsewhere = None


def run(module, name, functions, data):
    """Experiment ``name`` of ``module`` (one of :data:`MODULES`) on the student's ``functions``
    (a tuple) with ``data`` (a dict of plain data); returns its result (a dict)."""
    if module not in MODULES:
        raise ValueError(f"no experiments in {module!r}")
    if _elsewhere is not None:
        found = _elsewhere(module, name, tuple(functions), dict(data))
        if found is not None:
            return found
    return importlib.import_module(module).EXPERIMENTS[name](*functions, **data)
