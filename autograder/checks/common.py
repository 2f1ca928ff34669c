"""The check helpers live in the student package (:mod:`rnn_course.judge`): the visible tests that
students run and the hidden tests of this grader judge answers with the same code.

This module is that same module object under its old name, so ``common._seed`` and
``common.CheckFailed`` are the ones the notebooks use.
"""

import sys

from rnn_course import judge

sys.modules[__name__] = judge
