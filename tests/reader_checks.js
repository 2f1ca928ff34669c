// What a reader sees on one page of the built book, measured in the browser after MathJax.
// Evaluated by tests/test_book_browser.py; returns a JSON object of findings (empty lists: fine).
async (floorPx) => {
  const findings = {overflow: [], raw: [], alt: [], small: [], contrast: [], pageWidth: null,
                    figures: 0, displays: 0};
  const vw = document.documentElement.clientWidth;
  const article = document.querySelector("article.bd-article") || document.querySelector("main")
                  || document.body;
  if (document.documentElement.scrollWidth > vw + 1) {
    findings.pageWidth = document.documentElement.scrollWidth;  // the whole page scrolls sideways
  }

  const visible = (el) => {
    const s = getComputedStyle(el);
    return s.visibility !== "hidden" && s.display !== "none" && parseFloat(s.opacity) > 0;
  };
  const describe = (el) => {
    const frame = el.matches(".MathJax_Display") ? el.querySelector(".MathJax") : el;
    const tex = (frame?.id?.endsWith("-Frame") && document.getElementById(frame.id.slice(0, -6)))
                || el.closest("div.math")?.querySelector('script[type^="math/tex"]');
    const text = (tex ? tex.textContent : el.textContent || el.getAttribute("src") || "")
                 .replace(/\s+/g, " ").trim();
    const id = el.closest("[id]")?.id || "";
    return `<${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : ""}>`
           + (id ? ` in #${id}` : "") + `: ${text.slice(0, 90)}`;
  };

  // The horizontal extent of what an element draws: its own box and every visible descendant's
  // (MathJax's inner spans can be wider than its outer box). A descendant that scrolls counts with
  // its own box: what is inside it can be scrolled to.
  const scrolls = (el) => {
    const s = getComputedStyle(el);
    return s.display !== "inline" && (s.overflowX === "auto" || s.overflowX === "scroll");
  };
  const drawn = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return null;
    const box = {left: r.left, right: r.right};
    if (scrolls(el)) return box;
    const walk = (node) => {
      for (const d of node.children) {
        const s = d.getBoundingClientRect();
        const shown = visible(d) && s.width > 0 && s.height > 0;
        if (shown) {
          box.left = Math.min(box.left, s.left);
          box.right = Math.max(box.right, s.right);
        }
        if (!scrolls(d) && getComputedStyle(d).display !== "none") walk(d);
      }
    };
    walk(el);
    return box;
  };

  // Is the drawn extent reachable? Walk up: a scroll container makes its content reachable (to the
  // right of its origin); a container that hides overflow cuts it; at the top, the screen does.
  const cut = (el, box) => {
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX === "visible" || s.display === "inline") continue;  // overflow applies to blocks only
      const r = a.getBoundingClientRect();
      const inner = {left: r.left + a.clientLeft, right: r.left + a.clientLeft + a.clientWidth};
      if (s.overflowX === "auto" || s.overflowX === "scroll") {
        if (box.left < inner.left - a.scrollLeft - 1) return `cut off on the left inside a scroll box (${describe(a)})`;
        box = {left: Math.max(box.left, inner.left), right: Math.min(box.right, inner.right)};
        continue;
      }
      if (box.left < inner.left - 1 || box.right > inner.right + 1) {
        return `drawn ${Math.round(box.left)}..${Math.round(box.right)} px, cut by <${a.tagName.toLowerCase()}.${String(a.className).split(" ")[0]}> ${Math.round(inner.left)}..${Math.round(inner.right)} px (overflow ${s.overflowX})`;
      }
    }
    if (box.left < -1 || box.right > vw + 1) {
      return `drawn ${Math.round(box.left)}..${Math.round(box.right)} px, off a screen of ${vw} px`;
    }
    return null;
  };

  const blocks = article.querySelectorAll(
    ".MathJax_Display, span.MathJax, div.math, table, pre, img, svg, figure, .cell_output");
  for (const el of blocks) {
    if (!visible(el) || el.parentElement.closest(".MathJax_Display, span.MathJax")) continue;
    if (el.matches(".MathJax_Display")) findings.displays += 1;
    const box = drawn(el);
    if (!box) continue;
    const problem = cut(el, box);
    if (problem) findings.overflow.push(`${describe(el)} -- ${problem}`);
  }

  // Raw Markdown or reST left in the prose (code, math and scripts removed first).
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, tt, kbd, script, style, .MathJax, .MathJax_Display, .MathJax_Preview, "
                         + ".MJX_Assistive_MathML, .math, .highlight, .cell_input, .headerlink, .output")
       .forEach((n) => n.remove());
  prose.querySelectorAll("p, li, div, h1, h2, h3, h4, h5, h6, td, th, dt, dd, blockquote, br")
       .forEach((e) => e.append("\n"));  // block ends are line ends, as the reader sees them
  const text = prose.textContent;
  const patterns = {
    "table row": /^[ \t]*\|[^\n]*\|[ \t]*$/m,
    "table rule": /\|\s*:?(-{3,}|—+|–+)\s*:?\|/,
    "reST role": /:[a-z]+(:[a-z]+)?:`/,
    "MyST role": /\{(eq|ref|doc|numref|cite|cite:p|cite:t|math|term)\}`/,
    "doubled backquotes": /``/,
    "inline code markup": /(^|[\s(])`[^`\n]+`/,
    "bold markup": /\*\*[^*\n]+\*\*/,
    "Markdown link": /\[[^\]\n]+\]\([^)\n]+\)/,
    "Markdown heading": /^#{1,6} \S/m,
    "reST directive": /^\.\. [a-z-]+::/m,
    "math delimiters": /\$\$|\\\(|\\\[|(^|\s)\$[^$\s][^$\n]*\$/,
  };
  // Plain-text blocks (docstrings on the API page) are prose too: no roles, no doubled backquotes.
  const plain = [...article.querySelectorAll("div.highlight-text pre")].map((p) => p.textContent).join("\n");
  for (const [name, pattern] of [["reST role in a plain-text block", patterns["reST role"]],
                                 ["doubled backquotes in a plain-text block", patterns["doubled backquotes"]]]) {
    const match = plain.match(pattern);
    if (match) findings.raw.push(`${name}: "${plain.slice(Math.max(0, match.index - 40), match.index + 60).replace(/\s+/g, " ")}"`);
  }
  for (const [name, pattern] of Object.entries(patterns)) {
    const match = text.match(pattern);
    if (match) {
      const at = text.indexOf(match[0]);
      findings.raw.push(`${name}: "...${text.slice(Math.max(0, at - 40), at + 60).replace(/\s+/g, " ")}..."`);
    }
  }

  // Images: alt text that says something, and figure text above the floor at the shown size.
  const pngText = async (url) => {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const view = new DataView(bytes.buffer);
    const chunks = {};
    for (let at = 8; at + 8 <= bytes.length;) {
      const length = view.getUint32(at);
      const type = String.fromCharCode(...bytes.slice(at + 4, at + 8));
      if (type === "tEXt") {
        const body = new TextDecoder("latin1").decode(bytes.slice(at + 8, at + 8 + length));
        const [key, value] = body.split("\0");
        chunks[key] = value;
      }
      if (type === "IEND") break;
      at += 12 + length;
    }
    return chunks;
  };
  for (const img of article.querySelectorAll("img")) {
    const alt = (img.getAttribute("alt") || "").trim();
    if (!alt || /\.(png|jpe?g|gif|svg)$/i.test(alt) || alt.startsWith("_images")) {
      findings.alt.push(`${img.getAttribute("src")}: alt="${alt}"`);
    }
    // Figures are what a chapter's code draws (inside a cell's output); a static picture, such as a
    // screenshot in the instructors' guide, has no drawn-text record and is not measured.
    if (!/\.png($|\?)/.test(img.src) || !visible(img) || !img.closest(".cell_output")) continue;
    findings.figures += 1;
    const meta = await pngText(img.src).catch(() => ({}));  // an image that fails to load is a failed request
    const shown = img.getBoundingClientRect().width / img.naturalWidth;
    if (!("MinFontPx" in meta)) {
      findings.small.push(`${img.getAttribute("src")}: no text-size record (draw it with figures.style loaded)`);
      continue;
    }
    const px = parseFloat(meta.MinFontPx) * shown;
    if (px < floorPx) {
      findings.small.push(`${img.getAttribute("src")}: smallest text ${px.toFixed(1)} px on screen `
                          + `(${meta.MinFontPx} px in the image, shown at ${(100 * shown).toFixed(0)} %)`);
    }
  }

  // Text contrast against the background actually behind it (catches dark-mode leftovers).
  const rgba = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let a = el; a; a = a.parentElement) {
      const c = rgba(getComputedStyle(a).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const seen = new Set();
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el) || !visible(el) || el.closest("script, style, .MJX_Assistive_MathML")) continue;
    seen.add(el);
    if (el.getBoundingClientRect().width === 0) continue;
    const fg = luminance(rgba(getComputedStyle(el).color)), bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 3) {
      findings.contrast.push(`contrast ${ratio.toFixed(1)}: ${describe(el)}`);
    }
  }
  findings.overflow = findings.overflow.slice(0, 40);
  findings.contrast = findings.contrast.slice(0, 20);
  return findings;
}
