"""Feedback pages parsed a cell at a time (autograder.feedback.tidy) are nbconvert's pages.

nbconvert's HTML exporter parses each rendered page with BeautifulSoup, adds alternative text to
images and makes Jupyter areas focusable, and prints the page again. The grader does it once per
distinct cell: the cells every page shares are parsed once. Here random pages made of template
cells and hostile student HTML (tags left open, stray end tags, unfinished comments and scripts,
the grader's own marker, fake cell boundaries) must come out exactly as nbconvert's pass makes
them; the end-to-end comparison with ``nbgrader generate_feedback`` is in test_grading_paths.
"""

import random

from bs4 import BeautifulSoup

from autograder.feedback import CELL_START, _Memo, _tidy_piece, tidy


def nbconvert_pass(html):
    """What nbconvert 7's HTMLExporter.from_notebook_node does after rendering the template."""
    soup = BeautifulSoup(html, features="html.parser")
    for elem in soup.select("img:not([alt])"):
        elem.attrs["alt"] = "No description has been provided for this image"
    for elem in soup.select(".jp-Notebook div.jp-Cell-inputWrapper"):
        elem.attrs["tabindex"] = "0"
    for elem in soup.select(".jp-Notebook div.jp-OutputArea-output"):
        elem.attrs["tabindex"] = "0"
    return str(soup)


HEAD = ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><style type=\"text/css\">a > b { x: '&' }"
        "</style><title>a &amp; b</title></head><body>\n<div class=\"container\" id=\"notebook-container\">\n")
TAIL = "</div>\n</body>\n</html>\n"
CLEAN = [
    "<p>Text with <code>x &lt; y</code> &amp; <a href='https://e.org/?a=1&b=2'>a link</a></p>",
    "<div class=\"highlight\"><pre><span class=\"k\">def</span> <span class=\"nf\">f</span>(x):</pre></div>",
    "<img src=\"data:image/png;base64,AAAA\"><br/><img src='x.png' alt='kept'>",
    "<div class=\"jp-Notebook\"><div class=\"jp-Cell-inputWrapper\">in</div>"
    "<div class=\"jp-OutputArea-output\">out</div></div>",
    "<table><tr><td>1</td><td>2</td></tr></table><hr>",
    "<p>\u00e9t\u00e9 \u2014 \u03c3(a) &#955; &nbsp;</p>",
    "<script>var s = '<div>'; if (a < b && c > d) {}</script>",
    "<a title='say \"hi\"' data-x=\"it's\">q</a><input disabled><p class=\"a  b\">c</p>",
]
HOSTILE = [
    "<div><p>left open", "</div></div>", "<!-- never ends", "<script>var x = '</div>';",
    "<!--autograder:cells-->", CELL_START + " x\">fake boundary</div>", "<div class=\"jp-Notebook\">",
    "<div class=\"jp-Cell-inputWrapper\">orphan</div>", "text &amp", "<br></br>", "</p>", "<p>a<p>b",
    "<textarea><div></textarea>", "<!DOCTYPE x <!--autograder:cells-->>", "<![CDATA[ x ]]>", "<DIV>up</div>",
    "<svg><path d='M0'/></svg>", "<div/>", "<a href=x&y=1>amp</a>", "<style>p{}</style", "<b><i>x</b></i>",
]


def cell(content, kind="code_cell"):
    return f"{CELL_START} {kind} rendered\">\n<div class=\"inner_cell\">{content}</div>\n</div>\n"


def page(contents):
    return HEAD + "".join(cell(c) for c in contents) + TAIL


def test_random_pages_with_hostile_html_come_out_as_nbconverts():
    rng = random.Random(1234)
    pieces = _Memo(_tidy_piece)
    for _ in range(400):
        contents = [rng.choice(CLEAN if rng.random() < 0.7 else HOSTILE) + rng.choice(["", "\n", " tail"])
                    for _ in range(rng.randint(1, 7))]
        html = page(contents)
        ours, _ = tidy(html, pieces)
        assert ours == nbconvert_pass(html), contents


def test_clean_cells_are_parsed_once_and_the_page_is_the_same():
    pieces = _Memo(_tidy_piece)
    html = page(CLEAN)
    assert tidy(html, pieces)[0] == nbconvert_pass(html)
    # every cell but the last (parsed with the rest of the page) is remembered, self-contained
    assert len(pieces.results) == len(CLEAN) - 1 and all(pieces.results.values())
    # images without alternative text are counted on the page, whether remembered or not
    assert tidy(html, pieces)[1] == tidy(html, _Memo(_tidy_piece))[1] == 1


def test_a_cell_left_open_makes_the_page_parse_at_once():
    pieces = _Memo(_tidy_piece)
    html = page([CLEAN[0], "<div class=\"jp-Notebook\">", CLEAN[3], CLEAN[1]])
    assert tidy(html, pieces)[0] == nbconvert_pass(html)
    assert None in pieces.results.values()  # the open div: not self-contained
