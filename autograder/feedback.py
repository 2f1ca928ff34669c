"""Feedback pages: without hidden tests (an nbgrader preprocessor), rendered with one exporter per run
(whose filters remember the cells every page shares)."""

import json
import os
import re

from bs4 import BeautifulSoup, Comment
from bs4.builder._htmlparser import BeautifulSoupHTMLParser
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
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
        """HTMLExporter's (nbconvert 7), with the remembered filters and :func:`tidy` for its
        BeautifulSoup pass."""
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        configured = "highlight_code" in self.filters  # by the instructor: used as it is
        if not configured and lexer not in self._highlighters:
            self._highlighters[lexer] = _Highlighter(Highlight2HTML(pygments_lexer=lexer, parent=self))
        highlight_code = self.filters["highlight_code"] if configured else self._highlighters[lexer]
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                 resources=resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        html, missing_alt = self._tidy(html)
        if missing_alt:
            self.log.warning("Alternative text is missing on %s image(s).", missing_alt)
        return html, resources

    def _tidy(self, html):
        """(page, images without alternative text): what HTMLExporter does to the rendered page
        with BeautifulSoup, done once per distinct cell where the page allows it (:func:`tidy`)."""
        if not hasattr(self, "_pieces"):
            self._pieces = _Memo(_tidy_piece)
        return tidy(html, self._pieces)


CELL_START = '<div class="cell border-box-sizing'  # how the feedback template begins a cell
_MARK = "autograder:cells"
_JP_INPUT, _JP_OUTPUT = "div.jp-Cell-inputWrapper", "div.jp-OutputArea-output"


def _mark_images_and_focus(soup, in_notebook):
    """HTMLExporter's changes to the parsed page: alternative text on images without one, and
    input and output areas of a ``.jp-Notebook`` focusable (``in_notebook``: a piece's ancestors
    outside it include one). Returns how many images lacked the text."""
    missing_alt = 0
    for elem in soup.select("img:not([alt])"):
        elem.attrs["alt"] = "No description has been provided for this image"
        missing_alt += 1
    for selector in (_JP_INPUT, _JP_OUTPUT):
        for elem in soup.select(selector if in_notebook else ".jp-Notebook " + selector):
            elem.attrs["tabindex"] = "0"
    return missing_alt


class _WatchedParser(BeautifulSoupHTMLParser):
    """html.parser for a piece of a page: notes whether it ended in the middle of something
    (a tag, a comment, a script's text, a character reference)."""

    def close(self):
        if self.rawdata or self.cdata_elem is not None:
            self.soup.self_contained = False
        super().close()


class _Piece(BeautifulSoup):
    """A piece of a page parsed alone, and whether it is self-contained: it ends where it began
    (nothing left open or unfinished) and none of its end tags closes something before it. Such a
    piece parses (and prints) the same alone as within any page, where the parser is between
    two tags when it begins."""

    def __init__(self, markup):
        self.self_contained = True
        super().__init__(markup, features="html.parser")

    def _feed(self):
        self.builder.reset()
        self.builder.feed(self.markup, _parser_class=_WatchedParser)
        self.endData()
        if len(self.tagStack) != 1:
            self.self_contained = False
        while self.currentTag is not None and self.currentTag.name != self.ROOT_TAG_NAME:
            self.popTag()

    def handle_endtag(self, name, nsprefix=None):
        if not self.open_tag_counter.get(name):
            self.self_contained = False
        super().handle_endtag(name, nsprefix)


def _tidy_piece(piece, in_notebook):
    """(the piece as BeautifulSoup prints it after HTMLExporter's changes, images without
    alternative text), or None when the piece is not self-contained."""
    soup = _Piece(piece)
    if not soup.self_contained:
        return None
    missing_alt = _mark_images_and_focus(soup, in_notebook)
    return str(soup), missing_alt


def tidy(html, pieces):
    """HTMLExporter's BeautifulSoup pass over a rendered page, a cell at a time: the same page.

    The page is cut where the template begins each cell. Each cell but the last is parsed alone,
    or found in ``pieces`` (a memo of :func:`_tidy_piece`: the cells every page shares are
    parsed once); the rest of the page is parsed with a comment where the cells were, which
    shows whether their ancestors include a ``.jp-Notebook``. Where a cell is not
    self-contained (HTML in a student's Markdown that leaves a tag open, say) or the comment
    does not stand alone, the whole page is parsed at once, as HTMLExporter does.
    """
    starts = [m.start() for m in re.finditer(re.escape(CELL_START), html)]
    if len(starts) >= 2 and f"<!--{_MARK}-->" not in html:
        frame = BeautifulSoup(html[:starts[0]] + f"<!--{_MARK}-->" + html[starts[-1]:], features="html.parser")
        marks = [c for c in frame.find_all(string=lambda t: isinstance(t, Comment)) if str(c) == _MARK]
        if len(marks) == 1:
            in_notebook = any("jp-Notebook" in (parent.get("class") or []) for parent in marks[0].parents
                              if hasattr(parent, "get"))
            done = [pieces((html[a:b], in_notebook), html[a:b], in_notebook)
                    for a, b in zip(starts, starts[1:])]
            if all(done):
                missing_alt = _mark_images_and_focus(frame, False) + sum(n for _, n in done)
                page = str(frame)
                if page.count(f"<!--{_MARK}-->") == 1:
                    return page.replace(f"<!--{_MARK}-->", "".join(text for text, _ in done)), missing_alt
    soup = BeautifulSoup(html, features="html.parser")
    missing_alt = _mark_images_and_focus(soup, False)
    return str(soup), missing_alt


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
