"""Feedback pages load nothing from the network and their math is typeset offline (issue 16).

One real ``grade`` run of a1_elman: a wrong answer (its page has the assignment's formulas and a
failing test's message) and an answer whose cell displays HTML that asks for a script, a style
sheet and an image from the web. Each page is read as text (no http(s) address of a script,
style or font; the policy that blocks other hosts) and opened from disk in headless Chromium
with every network request blocked: MathJax, read from ``OUT/feedback/mathjax``, has typeset
every formula, no ``$`` is left in the prose, and nothing was asked of the network: the page's
own policy refused the student's remote addresses before any request left (``.invalid`` hosts,
which never resolve, in case it did not).
"""

import re
import shutil
import sys
from pathlib import Path

import pytest

from grading import grade_all, mutant, solved

from autograder import mathjax
from autograder.grade import MAX_FEEDBACK_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
import headless  # noqa: E402  (book/_ext/headless.py: the DevTools client of the book's tests)

A = "a1_elman"
CHATTY = ('\nfrom IPython.display import HTML, display\n'
          'display(HTML(\'<link rel="stylesheet" href="https://tracker.invalid/track.css">'
          '<script src="https://tracker.invalid/track.js"></script>'
          '<img alt="tracker" src="http://tracker.invalid/pixel.png"><p>shown: $a_t = x_t W_x$</p>\'))\n')
REMOTE = re.compile(r"""<(script|link|img|iframe|embed|object|source)\b[^>]*\b(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)
REMOTE_CSS = re.compile(r"""(@import|url\()\s*["']?\s*(https?:)?//""", re.I)
needs_chromium = pytest.mark.skipif(headless.chromium_path() is None,
                                    reason="Debian package chromium is not installed")

TYPESET = """(() => {
  const prose = [...document.querySelectorAll('.text_cell_render')];
  return {
    typeset: document.querySelectorAll('.MathJax, .MathJax_Display').length,
    errors: document.querySelectorAll('.MathJax_Error, merror').length,
    raw: prose.filter(e => /\\$/.test(e.innerText)).map(e => e.innerText.slice(0, 120)),
    font: MathJax.OutputJax['HTML-CSS'] ? MathJax.OutputJax['HTML-CSS'].fontInUse : null,
    missing_note: document.querySelectorAll('.mathjax-missing').length,
  };
})()"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    chatty = solved(A)
    for cell in chatty.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer_unroll":
            cell.source += CHATTY
    notebooks = {"wrong": mutant(A, "answer_state_output",
                                 ("return np.tanh(x @ Wx + h_prev @ Wh + b)", "return x @ Wx + h_prev @ Wh + b")),
                 "chatty": chatty}
    results, out = grade_all(A, notebooks, tmp_path_factory.mktemp("offline"), seed=16)
    assert results["wrong"].reason == "" and results["chatty"].reason == ""
    return out / "feedback"


def test_pages_name_no_remote_script_style_or_font_and_carry_the_policy(graded):
    pages = sorted(graded.glob("*.html"))
    assert [p.stem for p in pages] == ["chatty", "wrong"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        head = text[:text.index("</head>")]
        assert not REMOTE.search(head) and not REMOTE_CSS.search(head), page.name
        assert "cdnjs" not in text and "MathJax.js" in head
        assert re.search(r'src="mathjax/MathJax\.js\?config=TeX-AMS-MML_HTMLorMML-full,Safe"', head)
        policy = re.search(r"""<meta[^>]*Content-Security-Policy[^>]*>""", head)
        assert policy and "default-src 'self' file: data:" in policy.group(0), page.name
        assert len(text.encode()) < 1_000_000 < MAX_FEEDBACK_BYTES  # MathJax is not inlined
    # the student's own HTML output is in the page, as it was displayed
    assert REMOTE.search((graded / "chatty.html").read_text(encoding="utf-8"))


def test_one_mathjax_copy_sits_next_to_the_pages(graded):
    folder = graded / mathjax.FOLDER
    assert (folder / "MathJax.js").read_bytes() == (mathjax.source() / "MathJax.js").read_bytes()
    assert (folder / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert list((folder / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").glob("*.woff"))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size < 4 * 2**20, size  # one copy for the whole folder, translations left out
    assert not (folder / "localization").exists()


def test_install_keeps_a_complete_copy_and_replaces_a_broken_one(tmp_path):
    first = mathjax.install(tmp_path)
    stamp = (first / "MathJax.js").stat().st_mtime_ns
    assert mathjax.install(tmp_path) == first and (first / "MathJax.js").stat().st_mtime_ns == stamp
    (first / "MathJax.js").write_text("// cut short")
    mathjax.install(tmp_path)
    assert (first / "MathJax.js").read_bytes() == (mathjax.source() / "MathJax.js").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [mathjax.FOLDER]  # no staging folder left


@pytest.fixture(scope="module")
def offline_tab():
    """A tab with the network switched off (the page's own policy is what must refuse remote
    addresses: DevTools' URL blocking would act before it and hide whether it did)."""
    with headless.Browser() as browser:
        tab = browser.new_page()
        tab.send("Network.emulateNetworkConditions", offline=True, latency=0,
                 downloadThroughput=-1, uploadThroughput=-1)
        yield tab


def _open(tab, page):
    """(what the page shows, [(remote address asked for, why it was refused)])."""
    tab.goto(page.resolve().as_uri())
    assert tab.wait_for_mathjax(timeout=60) == "done"
    asked = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in tab.events
             if e["method"] == "Network.requestWillBeSent"}
    refused = {e["params"]["requestId"]: e["params"].get("blockedReason") for e in tab.events
               if e["method"] == "Network.loadingFailed"}
    remote = [(url, refused.get(rid)) for rid, url in asked.items()
              if not url.startswith(("file:", "about:", "data:"))]
    return tab.evaluate(TYPESET), remote


@needs_chromium
@pytest.mark.parametrize("student", ["wrong", "chatty"])
def test_math_is_typeset_offline_and_nothing_is_asked_of_the_network(graded, offline_tab, student):
    found, remote = _open(offline_tab, graded / f"{student}.html")
    if student == "chatty":  # its own output names three remote files: the policy refused each
        assert sorted(remote) == [("http://tracker.invalid/pixel.png", "csp"),
                                  ("https://tracker.invalid/track.css", "csp"),
                                  ("https://tracker.invalid/track.js", "csp")], remote
    else:
        assert remote == [], remote
    assert found["font"] == "STIX-Web"
    assert found["typeset"] >= 20, found  # the assignment's formulas, inline and displayed
    assert found["errors"] == 0 and found["raw"] == [], found
    assert found["missing_note"] == 0
    assert [f for f in offline_tab.failed_requests() if "tracker.invalid" not in f] == []
    assert offline_tab.exceptions() == []


@needs_chromium
def test_a_page_without_its_mathjax_folder_says_why_its_math_is_raw(graded, offline_tab, tmp_path):
    lone = tmp_path / "wrong.html"
    shutil.copy(graded / "wrong.html", lone)
    offline_tab.goto(lone.as_uri())
    found = offline_tab.evaluate("""({note: [...document.querySelectorAll('.mathjax-missing')].map(e => e.innerText),
                                      mathjax: typeof window.MathJax})""")
    assert found["mathjax"] == "undefined"
    assert len(found["note"]) == 1 and "shown as TeX source" in found["note"][0]
