"""The book as a reader sees it, in headless Chromium driven over the DevTools protocol.

Every page of the toc is opened at a laptop width (1280x800) and a phone width (390x844), in
light and in dark mode, with every folded cell and solution opened, after MathJax has typeset
it. ``tests/reader_checks.js`` then measures, in the page:

- display math, inline math, tables, code, figures and outputs whose drawn extent (MathJax's inner
  boxes included) is cut by a box that hides overflow, or runs off the screen, with no scroll box
  to reach it; a page that scrolls sideways as a whole;
- raw Markdown or reST left in the prose (table rows, roles, doubled backquotes, ``**``, ``$``);
- images without alt text (or with a file name as alt text);
- figure text below FLOOR_PX CSS pixels at the size shown (figures record the size of their
  smallest text in the PNG, see book/figures/style.py);
- text with a contrast ratio below 3 against what is behind it;
and the page's failed requests (404s) and script errors are collected.

The pages run in parallel tabs of one browser, one load per width and colour scheme (the theme
reads the scheme when the page loads). A full-page screenshot of every page at both widths (and the first screen in dark mode)
goes to ``_build/gallery/``, with an ``index.html`` that shows them all.
"""

import html
import json
import queue
import re
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from test_book import HTML_DIR, ROOT, toc_pages

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import headless  # noqa: E402  (book/_ext/headless.py: the DevTools client the build uses too)

WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}
MODES = ("light", "dark")
FLOOR_PX = 7.0          # smallest figure text, in CSS pixels, at the size the figure is shown
TABS = 3                # pages loaded at once
GALLERY = ROOT / "_build" / "gallery"
CHECKS = (Path(__file__).parent / "reader_checks.js").read_text()

EXPAND = """(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.toggle-button-hidden').forEach(e => e.classList.remove('toggle-button-hidden'));
  if (window.MathJax && MathJax.Hub) MathJax.Hub.Queue(['Rerender', MathJax.Hub]);
  return true;
})()"""

needs_chromium = pytest.mark.skipif(headless.chromium_path() is None,
                                    reason="Debian package chromium is not installed")


def slug(page):
    return page.replace("/", "__")


def read_page(tab, url, page, width_name, mode):
    """Load one page at one width in one colour scheme; returns the findings, saves a screenshot."""
    width, height = WIDTHS[width_name]
    tab.set_viewport(width, height, dark=(mode == "dark"))
    tab.goto(url)
    tab.wait_for_mathjax()
    tab.evaluate(EXPAND)
    tab.wait_for_mathjax()
    tab.evaluate("document.fonts.ready.then(() => true)")
    findings = tab.evaluate(f"({CHECKS})({FLOOR_PX})", timeout=120)
    findings["theme"] = tab.evaluate("document.documentElement.dataset.theme")
    findings["failed_requests"] = tab.failed_requests()
    findings["errors"] = tab.exceptions()
    tab.screenshot(GALLERY / f"{slug(page)}.{width_name}.{mode}.jpg", full_page=(mode == "light"))
    return findings


def write_gallery(pages):
    rows = []
    for page in pages:
        cells = "".join(
            f'<figure><a href="{slug(page)}.{w}.{m}.jpg"><img loading="lazy" src="{slug(page)}.{w}.{m}.jpg" '
            f'alt="{html.escape(page)} at {w} width, {m} mode"></a><figcaption>{w}, {m}</figcaption></figure>'
            for w in WIDTHS for m in MODES)
        rows.append(f'<section><h2><a href="../html/{page}.html">{html.escape(page)}</a></h2>{cells}</section>')
    (GALLERY / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>The book, page by page</title><style>"
        "body{font-family:sans-serif;margin:1em} section{display:flex;flex-wrap:wrap;gap:1em;"
        "align-items:flex-start;border-top:1px solid #ccc} h2{width:100%;font-size:1em}"
        "figure{margin:0} img{width:220px;border:1px solid #999}</style>"
        "<h1>Every page at 1280 px and 390 px, light and dark</h1>"
        "<p>Full-page screenshots in light mode, the first screen in dark mode, taken by "
        "tests/test_book_browser.py.</p>" + "".join(rows))


@pytest.fixture(scope="module")
def reader_views(book):
    """{(page, width, mode): findings} for every toc page, both widths, both modes."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(HTML_DIR)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    GALLERY.mkdir(parents=True, exist_ok=True)
    pages = toc_pages()
    jobs = queue.Queue()
    for page in pages:
        for width_name in WIDTHS:
            for mode in MODES:
                jobs.put((page, width_name, mode))
    views, lock = {}, threading.Lock()

    def worker(browser):
        tab = browser.new_page()
        while True:
            try:
                page, width_name, mode = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                findings = read_page(tab, f"{base}/{page}.html", page, width_name, mode)
            except headless.DevToolsError as error:
                findings = {"error": str(error)}
            with lock:
                views[page, width_name, mode] = findings

    try:
        with headless.Browser() as browser:
            threads = [threading.Thread(target=worker, args=(browser,)) for _ in range(TABS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        httpd.shutdown()
    write_gallery(pages)
    (GALLERY / "findings.json").write_text(json.dumps({" ".join(k): v for k, v in views.items()}, indent=1))
    return views


VIEWS = [(page, w, m) for page in toc_pages() for w in WIDTHS for m in MODES]


@needs_chromium
@pytest.mark.parametrize("page,width,mode", VIEWS, ids=[f"{p}-{w}-{m}" for p, w, m in VIEWS])
def test_reader_sees_nothing_broken(reader_views, page, width, mode):
    findings = reader_views[page, width, mode]
    assert "error" not in findings, findings.get("error")
    problems = []
    if findings["pageWidth"]:
        problems.append(f"the page is {findings['pageWidth']} px wide: it scrolls sideways")
    for key, what in [("overflow", "cut off or off the screen"), ("raw", "raw markup in the prose"),
                      ("alt", "image without alt text"), ("small", f"figure text below {FLOOR_PX} px"),
                      ("contrast", "text hard to read against its background"),
                      ("failed_requests", "request failed"), ("errors", "script error")]:
        problems += [f"{what}: {item}" for item in findings[key]]
    assert problems == [], f"{page} at {width} width, {mode} mode:\n" + "\n".join(problems)
    assert findings["theme"] == mode, f"the theme did not follow the {mode} colour scheme"


@needs_chromium
def test_gallery_shows_every_page_at_both_widths(reader_views):
    index = (GALLERY / "index.html").read_text()
    for page in toc_pages():
        for width in WIDTHS:
            for mode in MODES:
                shot = GALLERY / f"{slug(page)}.{width}.{mode}.jpg"
                assert shot.read_bytes()[:3] == b"\xff\xd8\xff", shot
                assert shot.name in index
    # a full page at phone width is a long, narrow picture; a blank one compresses to almost nothing
    long_shot = GALLERY / f"{slug('book/03_elman')}.phone.light.jpg"
    assert long_shot.stat().st_size > 100_000


@needs_chromium
def test_the_checks_catch_what_they_claim_to(tmp_path):
    """The measurements themselves, on a page built to fail each of them once."""
    (tmp_path / "bad.html").write_text("""<!doctype html><html><head><meta name=viewport
      content="width=device-width"></head><body><main><article class="bd-article">
      <div style="overflow:hidden;width:200px"><table><tr><td style="white-space:nowrap">
      a very long cell that does not fit in two hundred pixels at all</td></tr></table></div>
      <div style="overflow-x:auto;width:200px"><pre>a long line that may scroll, which is fine ........</pre></div>
      <p>| model | bits |</p><p>see :func:`elman_forward` and ``xs``</p>
      <div class="cell_output"><img src="missing.png"></div><p style="color:#777;background:#888">grey on grey</p>
      </article></main></body></html>""")
    with headless.Browser() as browser:
        tab = browser.new_page(width=390, height=844)
        tab.goto((tmp_path / "bad.html").as_uri())
        findings = tab.evaluate(f"({CHECKS})({FLOOR_PX})")
    assert len(findings["overflow"]) == 1 and "cut by <div" in findings["overflow"][0]
    raw = " ".join(findings["raw"])
    assert "table row" in raw and "reST role" in raw and "doubled backquotes" in raw
    assert findings["alt"] == ['missing.png: alt=""']
    assert findings["small"] == ["missing.png: no text-size record (draw it with figures.style loaded)"]
    assert any("grey on grey" in c for c in findings["contrast"])


def heading_text(page):
    """The title (h1) of a built page, without its section number and link mark."""
    match = re.search(r"<h1[^>]*>(.*?)</h1>", (HTML_DIR / f"{page}.html").read_text(), re.S)
    text = html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).replace("#", "").strip()
    return re.sub(r"^\d+\.\s*", "", text)


def test_the_pdf_has_every_chapter_and_is_linked_from_the_front_page(book):
    from pypdf import PdfReader

    if headless.chromium_path() is None:
        pytest.skip("Debian package chromium is not installed: the build makes no PDF")
    front = (HTML_DIR / "book" / "intro.html").read_text()
    links = re.findall(r'href="([^"]*rnn-course\.pdf)"', front)
    assert links, "the front page does not link the PDF"
    pdf = (HTML_DIR / "book" / links[0]).resolve()
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"
    reader = PdfReader(pdf)
    pages = toc_pages()
    assert len(reader.pages) > 3 * len(pages)

    def titles(outline):
        for item in outline:
            yield from titles(item) if isinstance(item, list) else [item.title]

    def squeeze(text):  # a title wrapped over two lines loses its space in the PDF's text
        return re.sub(r"\s+", "", text)

    bookmarks = squeeze(" | ".join(titles(reader.outline)))
    missing = [page for page in pages if squeeze(heading_text(page)) not in bookmarks]
    assert missing == [], f"pages without a bookmark in the PDF: {missing}"
    text = "\n".join(p.extract_text() for p in reader.pages)
    for page in pages:
        assert squeeze(heading_text(page)) in squeeze(text), f"{page}: its title is not printed in the PDF"
    assert "Math Processing Error" not in text and "$$" not in text


def test_every_figure_cell_draws_its_figure(book):
    """A figure that fails to render leaves no error in the page (IPython drops it quietly):
    every code cell that declares the alt text of its figure must show an image with it."""
    declared = 0
    for page in toc_pages():
        path = ROOT / f"{page}.md"
        if not path.exists():
            continue
        alts = re.findall(r"^    alt: (\".*\")$", path.read_text(), re.M)
        shown = [html.unescape(a) for a in re.findall(r'<img alt="([^"]*)"', (HTML_DIR / f"{page}.html").read_text())]
        for alt in alts:
            assert json.loads(alt) in shown, f"{page}: the figure '{json.loads(alt)[:60]}...' is missing"
        declared += len(alts)
    assert declared >= 20
