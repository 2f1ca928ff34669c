"""Feedback without hidden tests: an nbgrader preprocessor used by generate_feedback."""

import re

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .checks.common import format_failure

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test code from grade cells and shorten their error tracebacks.

    A traceback prints the failing line of the cell, which would reveal a hidden test; the
    feedback keeps only the exception's name and message (a check's message is written for
    students and names no hidden code).
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell):
            hidden = ClearHiddenTests(enforce_metadata=False)
            if hidden._remove_hidden_test_region(cell):
                cell.source = cell.source.rstrip() + "\n# (hidden tests: their code is not shown)"
                for output in cell.outputs:
                    if output.output_type == "error":
                        output.traceback = [format_failure(output.ename, _ANSI.sub("", output.evalue))]
        return cell, resources
