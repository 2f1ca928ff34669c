"""Feedback pages: without hidden tests (an nbgrader preprocessor), rendered with one exporter per run
(whose filters remember the cells every page shares)."""

import json
import os
import re

from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.highlight import Highlight2HTML
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


class _Memo:
    """A bounded memo of a pure text filter's results: the same arguments, the same text."""

    def __init__(self, function, size=4096, longest=50_000):
        self.function, self.size, self.longest = function, size, longest
        self.results = {}

    def __call__(self, key, *args, **kwargs):
        if key in self.results:
            return self.results[key]
        result = self.function(*args, **kwargs)
        if len(key[0]) <= self.longest:  # a huge cell is not kept
            if len(self.results) >= self.size:
                self.results.pop(next(iter(self.results)))
            self.results[key] = result
        return result


class CachedHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter whose Markdown and code highlighting filters remember their results.

    Most cells of a class's feedback pages are the same on every page (the instructions, the
    given code, the tests); both filters are pure functions of what the key holds (the text,
    the language, the cell's attachments, the magics language; the folder only where images
    are embedded), so the page is the same, rendered once per distinct cell.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._markdown = _Memo(super().markdown2html)
        self._highlighters = {}

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "") if self.embed_images else ""
        key = (source, json.dumps(cell.get("attachments", {}), sort_keys=True, default=str), path)
        return self._markdown(key, context, source)

    def from_notebook_node(self, nb, resources=None, **kw):
        if "highlight_code" in self.filters:  # configured by the instructor: used as it is
            return super().from_notebook_node(nb, resources, **kw)
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        if lexer not in self._highlighters:
            self._highlighters[lexer] = _Highlighter(Highlight2HTML(pygments_lexer=lexer, parent=self))
        self.filters["highlight_code"] = self._highlighters[lexer]
        try:
            return super().from_notebook_node(nb, resources, **kw)
        finally:
            del self.filters["highlight_code"]


class _Highlighter:
    """Highlight2HTML (one lexer), remembered: its result depends on the source, the language and
    the cell's ``magics_language`` only."""

    def __init__(self, highlight):
        self._memo = _Memo(highlight)

    def __call__(self, source, language=None, metadata=None):
        magics = metadata.get("magics_language") if metadata else None
        return self._memo((source, language, magics if isinstance(magics, str) else repr(magics)),
                          source, language, metadata)


class _Feedback(GenerateFeedback):
    """nbgrader's GenerateFeedback that builds its exporter (templates, preprocessors) once.

    nbgrader builds a new HTML exporter, and so loads and compiles the feedback templates, on
    every call; ``nbgrader generate_feedback`` for a whole class uses one exporter for every
    student. This converter does the same for the grader's calls, one student at a time, with
    the filters of :class:`CachedHTMLExporter`.
    """

    def start(self):
        self.init_notebooks()
        if getattr(self, "_exporter_built", None) is not self.config:
            self.writer = FilesWriter(parent=self, config=self.config)
            exporter_class = CachedHTMLExporter if self.exporter_class is HTMLExporter else self.exporter_class
            self.exporter = exporter_class(parent=self, config=self.config)
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
