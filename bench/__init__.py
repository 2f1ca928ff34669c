"""Benchmarks, each measured against a baseline in the same run.

``python -m bench``: rnn_ref's layers against torch (this package's __main__, layers, timing,
environment). Other modules: ``bench.grading`` and ``bench.grading_scale`` (the autograder),
``bench/applications.py`` (the applications' targets).
"""
