"""The course's autograder: nbgrader underneath, check helpers in :mod:`autograder.checks`.

Commands: ``python -m autograder release | check NOTEBOOK | grade ASSIGNMENT SUBMISSIONS --out DIR``.
"""
