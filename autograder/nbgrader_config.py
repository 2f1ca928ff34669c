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

# The feedback page loads nothing from the network: nbgrader's feedback template with MathJax read
# from the folder mathjax/ next to the page and a policy that blocks every other host
# (autograder/templates/feedback, found before nbgrader's own; the grade command writes that
# folder, autograder.mathjax).
import os  # noqa: E402

import autograder  # noqa: E402
import nbgrader  # noqa: E402

c.HTMLExporter.template_name = "feedback"  # nbgrader's API sets it too
c.HTMLExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(autograder.__file__), "templates"),
    os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates"),
]
