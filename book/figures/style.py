"""The book's figure style, and a record of each figure's smallest text.

Every chapter imports this module in its first (hidden) cell. It sets a readable matplotlib style
and makes every PNG that matplotlib writes carry a ``MinFontPx`` text chunk: the height, in image
pixels, of the smallest text drawn in the figure (font size in points times dpi / 72). The browser
test (tests/test_book_browser.py) divides by the scale at which the page shows the image and fails
when a figure's text is smaller on screen than its floor.
"""

import functools

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": "figure",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
})

_drawn_sizes = []
_text_draw = Text.draw


def _recording_draw(self, renderer):
    if self.get_visible() and self.get_text().strip():
        _drawn_sizes.append(self.get_fontsize())
    return _text_draw(self, renderer)


def smallest_text_px(figure):
    """Height in pixels, at the figure's dpi, of the smallest text the figure draws (None: no text)."""
    _drawn_sizes.clear()
    figure.draw(FigureCanvasAgg(figure).get_renderer() if not hasattr(figure.canvas, "get_renderer")
                else figure.canvas.get_renderer())
    return min(_drawn_sizes) * figure.dpi / 72 if _drawn_sizes else None


_print_png = FigureCanvasAgg.print_png


@functools.wraps(_print_png)  # same signature: matplotlib passes only the arguments it accepts
def _print_png_with_text_size(self, filename_or_obj, *, metadata=None, pil_kwargs=None):
    px = smallest_text_px(self.figure)
    metadata = dict(metadata or {})
    if px is not None:
        metadata["MinFontPx"] = f"{px:.2f}"
    return _print_png(self, filename_or_obj, metadata=metadata, pil_kwargs=pil_kwargs)


if not getattr(Text.draw, "_records_size", False):
    _recording_draw._records_size = True
    Text.draw = _recording_draw
    FigureCanvasAgg.print_png = _print_png_with_text_size

__all__ = ["smallest_text_px", "matplotlib"]
