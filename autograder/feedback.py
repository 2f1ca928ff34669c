"""Feedback pages: without hidden tests (an nbgrader preprocessor), rendered with one exporter per run."""

import os
import re

from nbconvert.writers import FilesWriter
from nbgrader import utils
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from nbgrader.utils import capture_log, temp_attrs
from traitlets.config import Config

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


class _Feedback(GenerateFeedback):
    """nbgrader's GenerateFeedback that builds its exporter (templates, preprocessors) once.

    nbgrader builds a new HTML exporter, and so loads and compiles the feedback templates, on
    every call; ``nbgrader generate_feedback`` for a whole class uses one exporter for every
    student. This converter does the same for the grader's calls, one student at a time.
    """

    def start(self):
        self.init_notebooks()
        if getattr(self, "_exporter_built", None) is not self.config:
            self.writer = FilesWriter(parent=self, config=self.config)
            self.exporter = self.exporter_class(parent=self, config=self.config)
            for pp in self.preprocessors:
                self.exporter.register_preprocessor(pp)
            self._exporter_built = self.config
        here = os.getcwd()
        os.chdir(self.coursedir.root)
        try:
            self.convert_notebooks()
        finally:
            os.chdir(here)


_converters = {}  # id(api) -> (api, _Feedback): one per grading process and course


def generate(api, assignment, student):
    """What ``api.generate_feedback(assignment, student, force=True)`` does, with the exporter kept.

    Returns nbgrader's outcome dict (success, log, error).
    """
    entry = _converters.get(id(api))
    if entry is None or entry[0] is not api:
        config = Config()
        config.HTMLExporter.template_name = "feedback"  # as NbGraderAPI.generate_feedback sets it
        converter = _Feedback(coursedir=api.coursedir, parent=api)
        converter.update_config(config)
        converter.force = True
        entry = _converters[id(api)] = (api, converter)
    with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student):
        return capture_log(entry[1])
