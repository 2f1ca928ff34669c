"""Benchmarks, each measured against a baseline in the same run.

``python -m bench``: rnn_ref's layers against torch, each timed in its own worker processes
(this package's __main__, worker, layers, timing, environment). Other modules: ``bench.grading``
(with ``--profile``: ``bench.grading_profile``) and ``bench.grading_scale`` (the autograder),
``bench/applications.py`` (the applications' targets).
"""
