"""The book: a real Jupyter Book build, offline, with zero warnings, and what readers see.

One build per session (``jupyter-book build . --all -W -n --keep-going`` into ``_build``, with the
notebook cache of earlier builds), then checks on the built HTML: every page of the toc exists,
nothing is loaded from the network, equations are numbered and cross-referenced, the included
code is rnn_ref's source, nothing of solutions/ leaks, and headless Chromium typesets the math of
every chapter without console errors.
"""

import functools
import html
import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import book_pdf  # noqa: E402  (book/_ext/book_pdf.py: the pages of the toc, as the PDF prints them)
HTML_DIR = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "_build" / "test-artifacts"
WARNING = re.compile(r"(?:^|: )(WARNING|ERROR|CRITICAL|SEVERE):")
OWN_CHAPTERS = ["book/01_sequences", "book/02_abstraction", "book/03_elman", "book/04_bptt",
                "book/05_vanishing"]


def toc_pages():
    """Every document of _toc.yml, root first, as paths without suffix ('book/03_elman')."""
    return book_pdf.toc_pages(ROOT)


def chapter_pages():
    """The numbered chapters: toc documents named book/NN_*."""
    return [p for p in toc_pages() if re.fullmatch(r"book/\d\d_\w+", p)]


def built(page):
    return HTML_DIR / f"{page}.html"


def source(page):
    return (ROOT / f"{page}.md").read_text()


class Tags(HTMLParser):
    """Collects (tag, attributes) of every start tag."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(text):
    parser = Tags()
    parser.feed(text)
    return parser.tags


def code_blocks(text):
    """The text of every highlighted code block (<pre>) of a page, tags stripped, unescaped."""
    blocks = re.findall(r"<pre>(.*?)</pre>", text, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", b)) for b in blocks]


def test_build_succeeds_with_zero_warnings(book):
    returncode, output = book
    warnings = [line for line in output.splitlines() if WARNING.search(line)]
    assert warnings == [], "\n".join(warnings)
    assert returncode == 0, output[-3000:]


def test_every_toc_page_is_built(book):
    missing = [p for p in toc_pages() if not built(p).exists()]
    assert missing == []
    assert set(OWN_CHAPTERS) <= set(chapter_pages())


def test_pages_load_nothing_from_the_network(book):
    remote = re.compile(r"^(https?:)?//")
    offenders = []
    for page in HTML_DIR.rglob("*.html"):
        for tag, attrs in tags_of(page.read_text(errors="replace")):
            url = attrs.get("src") if tag in ("script", "img", "iframe") else None
            if tag == "link" and attrs.get("rel") not in ("canonical",):
                url = attrs.get("href")
            if url and remote.match(url):
                offenders.append(f"{page.relative_to(HTML_DIR)}: <{tag}> {url}")
    assert offenders == []
    assert (HTML_DIR / "_static" / "mathjax" / "MathJax.js").exists()


def test_equations_are_numbered_and_cross_referenced(book):
    for page in OWN_CHAPTERS:
        labels = re.findall(r"^\$\$ \(([\w-]+)\)$", source(page), re.M)
        refs = set(re.findall(r"\{eq\}`([\w-]+)`", source(page)))
        text = built(page).read_text()
        assert labels, f"{page} has no numbered equation"
        for label in labels:
            assert f'id="equation-{label}"' in text, f"{page}: equation {label} missing"
        for label in refs:
            assert re.search(rf'href="[^"]*#equation-{label}"', text), f"{page}: {{eq}}`{label}` unresolved"
        assert 'class="eqno"' in text


INSTRUCTOR_ONLY = re.compile(r"````\{only\} instructor\n.*?\n````\n", re.S)


def test_included_code_is_rnn_refs_own_source(book):
    include = re.compile(r"```\{literalinclude\} \.\./(rnn_ref/[\w/]+)\.py\n:pyobject: (\w+)\n```")
    checked = 0
    for page in toc_pages():  # the graded functions' code is in the instructor edition only
        for path, name in include.findall(INSTRUCTOR_ONLY.sub("", source(page))):
            module = importlib.import_module(path.replace("/", "."))
            code = inspect.getsource(getattr(module, name)).strip()
            blocks = [b.strip() for b in code_blocks(built(page).read_text())]
            assert code in blocks, f"{page}: {path}.{name} is not shown as in the source"
            checked += 1
    assert checked >= 3


def test_chapters_have_exercises_with_folded_solutions_and_notebook_downloads(book):
    for page in chapter_pages():
        text = built(page).read_text()
        if page in OWN_CHAPTERS:
            assert text.count('<div class="exercise admonition"') >= 3, page
            assert text.count('<div class="solution dropdown admonition"') >= 3, page
        notebook = f"_sources/{page}.ipynb"
        assert notebook in text, f"{page} has no notebook download button"
        assert (HTML_DIR / notebook).exists()
        json.loads((HTML_DIR / notebook).read_text())  # a real notebook


def test_assignment_pages_offer_their_notebooks(book):
    pages = [p for p in toc_pages() if re.fullmatch(r"book/assignments/a\d_\w+", p)]
    assert len(pages) == 7
    for page in pages:
        name = page.rsplit("/", 1)[1] + ".ipynb"
        links = re.findall(rf'href="([^"]*_downloads/[^"]*/{name})"', built(page).read_text())
        assert links, f"{page} does not link {name}"
        downloaded = (built(page).parent / links[0]).resolve()
        assert downloaded.read_bytes() == (ROOT / "notebooks" / name).read_bytes()


def solution_lines():
    """Distinctive lines of the graded solutions and hidden tests.

    Lines that are public anyway (in rnn_ref or in a student notebook) are left out.
    """
    regions = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)
    public = [p.read_text() for p in (ROOT / "rnn_ref").rglob("*.py")]
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        public += ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]
    reference = "\n".join(public)
    lines = set()
    for path in (ROOT / "solutions").glob("*/*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            for _, body in regions.findall(text):
                for line in body.splitlines():
                    line = line.strip()
                    if len(line) >= 30 and not line.startswith("#") and line not in reference:
                        lines.add(line)
    return lines


def test_nothing_from_solutions_appears_in_the_book(book):
    lines = solution_lines()
    if not list((ROOT / "solutions").glob("*/*.ipynb")):
        pytest.skip("no solution notebooks in solutions/ yet")
    assert lines, "found no solution or hidden-test lines to look for"
    leaks = []
    for path in HTML_DIR.rglob("*"):
        if path.suffix not in (".html", ".ipynb", ".txt", ".md", ".js") or "_static" in path.parts:
            continue
        text = path.read_text(errors="replace")
        text = text + html.unescape(text)
        leaks += [f"{path.relative_to(HTML_DIR)}: {line}" for line in lines if line in text]
    assert leaks == []


def test_every_rnn_ref_module_is_in_the_api_reference():
    import pkgutil

    import rnn_ref

    modules = {m.name for m in pkgutil.walk_packages(rnn_ref.__path__, "rnn_ref.")
               if not m.name.rsplit(".", 1)[1].startswith("_")}
    documented = set(re.findall(r"automodule:: ([\w.]+)", (ROOT / "book" / "api.md").read_text()))
    assert modules - documented == set()


# --- in a real browser ----------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium is not installed")


@pytest.fixture(scope="session")
def server(book):
    """The built book served by http.server on localhost, as a reader's browser would get it."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML_DIR))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def chromium(url, tmp_path, *extra):
    """Run headless Chromium on url; returns (stdout, console lines from its log)."""
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", *extra, url]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def visible_text(dom):
    """The DOM's text outside <script>, <style>, <pre> and <code>."""
    dom = re.sub(r"<(script|style|pre|code)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


@needs_chromium
@pytest.mark.parametrize("page", chapter_pages())
def test_browser_typesets_every_equation_without_console_errors(page, server, tmp_path):
    static = built(page).read_text()
    n_math = len(re.findall(r'class="math notranslate nohighlight"', static))
    dom, console = chromium(f"{server}/{page}.html", tmp_path, "--dump-dom")
    assert "</html>" in dom
    typeset = len(re.findall(r'id="MathJax-Element-\d+-Frame"', dom))
    assert typeset == n_math, f"{typeset} of {n_math} formulas typeset"
    assert 'class="MathJax_Error"' not in dom and "Math Processing Error" not in dom
    text = visible_text(dom)
    for raw in ("$$", "\\(", "\\["):
        assert raw not in text, f"raw math delimiter {raw} left in {page}"
    errors = [line for line in console if re.search(r"Uncaught|Error|Failed to load", line)]
    assert errors == []
    for tag, attrs in tags_of(dom):
        if tag == "img" and attrs.get("src") and not attrs["src"].startswith("data:"):
            image = (built(page).parent / attrs["src"].split("?")[0]).resolve()
            assert image.is_file(), f"{page}: image {attrs['src']} missing"


@needs_chromium
def test_screenshot_of_a_chapter(server, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "03_elman.png"
    shot.unlink(missing_ok=True)
    chromium(f"{server}/book/03_elman.html", tmp_path, "--hide-scrollbars", "--window-size=1300,1800",
             f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few KB


def test_student_edition_replaces_the_code_of_graded_functions(book):
    """Each instructor-only include of a graded function has pseudo-code in the student edition."""
    replaced = 0
    for page in toc_pages():
        text = source(page)
        for block in INSTRUCTOR_ONLY.findall(text):
            name = re.search(r":pyobject: (\w+)", block).group(1)
            page_text = html.unescape(re.sub(r"<[^>]+>", "", built(page).read_text()))
            assert f"The code of {name} is an exercise" in page_text, (page, name)
            replaced += 1
    assert replaced >= 10
