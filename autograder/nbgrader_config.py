# nbgrader configuration of the course, used by every course directory the autograder creates
# (python -m autograder release / grade copy it there), so plain `nbgrader` commands run in such
# a directory behave exactly as the autograder does.
c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "rnn-course"

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Each notebook runs in under 20 s with the solutions in; a cell that takes a minute is stuck.
c.Execute.timeout = 60
c.Execute.startup_timeout = 60

# Feedback never shows hidden tests: their code is removed and their tracebacks shortened to the
# check's message (autograder.feedback.HideHiddenTests).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
