"""rnn_course: what a student of the RNN course installs (the package ``rnn-course-student``).

- :mod:`rnn_course.checks`: the visible tests of the exercise notebooks, replayed from reference
  data stored in ``rnn_course/data`` (no reference implementation inside);
- :mod:`rnn_course.judge`: how an answer is called and compared, with messages that teach;
- :mod:`rnn_course.given`: code the notebooks hand to students (not graded);
- :mod:`rnn_course.charmodel`: the given model, text and score of Assignment 7 (not graded);
- :mod:`rnn_course.charlm_judge`: how Assignment 7's answers are judged (training steps, the loop,
  the sampler), on expected values that come in as data;
- :mod:`rnn_course.callbacks`: functions the tests hand to the student's code.

A notebook's first cell installs this package when it is missing and prints its version, which
the grader compares with its own.

The instructor's repository keeps the reference implementation (rnn_ref), the hidden tests and
the grader (autograder); none of it is in this package.
"""

__version__ = "0.1.0"
