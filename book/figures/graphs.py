"""Computation-graph diagrams of unrolled RNNs, drawn with matplotlib.

Every function draws into a given ``ax`` (so a chapter can place several diagrams in one
figure) and returns nothing. Nodes are boxes with LaTeX labels, edges are arrows.
"""

from matplotlib.patches import FancyBboxPatch

CELL = "#cfe2f3"      # recurrent cells
INPUT = "#d9ead3"     # inputs x_t
OUTPUT = "#fce5cd"    # outputs (predictions) y-hat_t
BACKWARD = "#c0392b"  # gradient arrows


def box(ax, xy, text, color, w=0.7, h=0.5, fontsize=12):
    """A rounded box centred at ``xy`` with ``text`` inside."""
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                facecolor=color, edgecolor="black", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def arrow(ax, start, end, color="black", style="-|>", linestyle="-", text=None, offset=(0, 0.12)):
    """An arrow from ``start`` to ``end``, optionally labelled at its middle."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle=style, color=color, linestyle=linestyle, lw=1.4,
                                shrinkA=14, shrinkB=14))
    if text:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=10, color=color)


def finish(ax):
    """Equal aspect, no axes frame."""
    ax.set_aspect("equal")
    ax.axis("off")
    ax.autoscale_view()


def unrolled(ax, T=4, cell="R", state="s", output="O", show_outputs=True, backward=False,
             weights=None):
    """The unrolled graph: s_0 -> cell -> ... -> s_T, with x_t below and y_t above.

    cell, state: labels of the cell boxes and of the state arrows ("R"/"s" or "tanh"/"h").
    output: label of the output function box, drawn between each cell and its y_t.
    backward: also draw the gradient flow (red, dashed) from each loss back along the chain.
    weights: a label (such as "$W_h$") written on every recurrent arrow to show sharing.
    """
    xs = [1.6 * t for t in range(T + 1)]
    box(ax, (xs[0], 0), f"${state}_0$", "white", w=0.6)
    for t in range(1, T + 1):
        x = xs[t]
        box(ax, (x, 0), cell, CELL, w=0.7 if len(cell) < 3 else 0.9)
        box(ax, (x, -1.3), f"$x_{t}$", INPUT, w=0.55)
        arrow(ax, (x, -1.3), (x, 0))
        arrow(ax, (xs[t - 1], 0), (x, 0), text=weights if t > 1 or weights else None)
        if show_outputs:
            box(ax, (x, 1.3), output, "white", w=0.55, h=0.4, fontsize=10)
            box(ax, (x, 2.5), rf"$\hat y_{t}$", OUTPUT, w=0.55)
            arrow(ax, (x, 0), (x, 1.3), text=f"${state}_{t}$", offset=(0.32, -0.1))
            arrow(ax, (x, 1.3), (x, 2.5))
            if backward:
                box(ax, (x, 3.6), f"$L_{t}$", "#f4cccc", w=0.55)
                arrow(ax, (x, 2.5), (x, 3.6))
                arrow(ax, (x - 0.4, 3.6), (x - 0.4, 0.1), color=BACKWARD, linestyle="--")
        if backward and t > 1:
            arrow(ax, (x, -0.25), (xs[t - 1], -0.25), color=BACKWARD, linestyle="--")
    finish(ax)


def pattern(ax, n_in, n_out, title, task, aligned=True):
    """A usage pattern: n_in input steps, n_out output steps, and the task it serves.

    aligned: outputs sit above the inputs (one per step, or one at the end); otherwise the
    outputs follow after the last input (encoder-decoder).
    """
    steps = n_in + n_out if not aligned else max(n_in, n_out)
    for t in range(steps):
        x = 1.2 * t
        box(ax, (x, 0), "", CELL, w=0.6, h=0.45)
        if t > 0:
            arrow(ax, (x - 1.2, 0), (x, 0))
        has_input = t < n_in if not aligned else t < n_in and (n_in == steps or t == 0)
        if aligned and n_in == 1:
            has_input = t == 0
        if has_input:
            box(ax, (x, -1.1), "", INPUT, w=0.45, h=0.4)
            arrow(ax, (x, -1.1), (x, 0))
        if aligned:
            has_output = (n_out == steps) or (n_out == 1 and t == steps - 1)
        else:
            has_output = t >= n_in
        if has_output:
            box(ax, (x, 1.1), "", OUTPUT, w=0.45, h=0.4)
            arrow(ax, (x, 0), (x, 1.1))
    ax.set_title(f"{title}\n{task}", fontsize=10)
    ax.set_xlim(-0.8, 1.2 * (steps - 1) + 0.8)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
