"""The whole book as one PDF, printed offline by headless Chromium after the HTML build.

After an HTML build, the article of every page of the toc, in toc order, is put into one page,
``book/print.html`` (links rewritten for its place), with the head of a chapter page (the
theme's styles, the bundled MathJax and its configuration). Headless Chromium (the Debian
package ``chromium``; book/_ext/headless.py drives it) opens that page from a local HTTP server,
unfolds every folded cell and solution, waits for MathJax, and prints it to ``rnn-course.pdf``
at the root of the HTML output (A4, page numbers, a bookmark per heading). The front page links
to it. Without Chromium the build warns and makes no PDF.
"""

import functools
import posixpath
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from sphinx.util import logging

import headless

logger = logging.getLogger(__name__)
PDF_NAME = "rnn-course.pdf"
PRINT_PAGE = "book/print.html"
URL_ATTR = re.compile(r'(\s(?:src|href)=")([^"#][^"]*)(")')
UNFOLD = """(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.toggle-button').forEach(e => e.remove());
  if (window.MathJax && MathJax.Hub) MathJax.Hub.Queue(['Rerender', MathJax.Hub]);
  return true;
})()"""
PRINT_CSS = """<style>
  .print-chapter { break-before: page; }
  .print-chapter:first-child { break-before: auto; }
  .bd-article-container, .bd-article { max-width: none !important; }
  body { background: white; }
  article.bd-article h1 { display: block !important; }  /* the theme hides titles in print */
</style>"""


def toc_pages(srcdir):
    """Every document of _toc.yml in reading order, as paths without suffix."""
    toc = yaml.safe_load((Path(srcdir) / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return pages


def rebase(html, page_dir, new_dir):
    """Rewrite relative src/href URLs of a page in page_dir for a page in new_dir."""
    def fix(match):
        url = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", url) or url.startswith("/"):
            return match.group(0)
        path, _, fragment = url.partition("#")
        target = posixpath.normpath(posixpath.join(page_dir, path))
        new = posixpath.relpath(target, new_dir) + (f"#{fragment}" if fragment else "")
        return match.group(1) + new + match.group(3)
    return URL_ATTR.sub(fix, html)


def article(html):
    """The inner HTML of a built page's <article class="bd-article">."""
    match = re.search(r'<article class="bd-article"[^>]*>(.*)</article>', html, re.S)
    return match.group(1) if match else ""


def write_print_page(outdir, pages):
    """book/print.html: the articles of all pages, each starting a new printed page."""
    new_dir = posixpath.dirname(PRINT_PAGE)
    sources = {page: (outdir / f"{page}.html").read_text() for page in pages}
    head_page = next((p for p in pages if "MathJax.js" in sources[p]), pages[0])
    head = re.search(r"<head>(.*?)</head>", sources[head_page], re.S).group(1)
    head = rebase(head, posixpath.dirname(head_page), new_dir)
    head = re.sub(r"<title>.*?</title>", "<title>Recurrent Neural Networks</title>", head, flags=re.S)
    body = "".join(
        f'<section class="print-chapter" id="print-{page.replace("/", "-")}">'
        f'{rebase(article(sources[page]), posixpath.dirname(page), new_dir)}</section>'
        for page in pages)
    (outdir / PRINT_PAGE).write_text(
        f'<!DOCTYPE html><html lang="en" data-theme="light" data-mode="light"><head>{head}{PRINT_CSS}</head>'
        f'<body><main class="bd-main"><div class="bd-content"><div class="bd-article-container">'
        f'<article class="bd-article">{body}</article></div></div></main></body></html>')


def print_book(outdir):
    """Print book/print.html to rnn-course.pdf with headless Chromium."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(outdir))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with headless.Browser() as browser:
            page = browser.new_page(width=900, height=1200)
            page.send("Emulation.setEmulatedMedia", media="print")
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/{PRINT_PAGE}", timeout=300)
            page.wait_for_mathjax(timeout=600)
            page.evaluate(UNFOLD)
            page.wait_for_mathjax(timeout=600)
            errors = page.evaluate("document.querySelectorAll('.MathJax_Error').length")
            if errors:
                logger.warning(f"book_pdf: {errors} formulas failed to typeset in the PDF")
            page.print_pdf(outdir / PDF_NAME)
    finally:
        httpd.shutdown()


def build_pdf(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    if headless.chromium_path() is None:
        logger.warning("book_pdf: Chromium is not installed (Debian package chromium): no PDF of the book")
        return
    outdir = Path(app.outdir)
    pages = [p for p in toc_pages(app.srcdir) if (outdir / f"{p}.html").exists()]
    write_print_page(outdir, pages)
    logger.info(f"book_pdf: printing {len(pages)} pages to {PDF_NAME}")
    print_book(outdir)


def setup(app):
    app.connect("build-finished", build_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
