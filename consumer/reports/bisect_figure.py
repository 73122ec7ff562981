"""The bisect figure: scale error per block across the whole network, chained and isolated (PNG).

matplotlib (consumer env only) is imported inside :func:`draw`; the Agg canvas, no pyplot state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from comparison.block_comparison import DIFFERS, BlockVerdict, first_cause

FLOOR = 1e-12  # a log axis cannot show 0: exact blocks are drawn here


def draw(verdicts: Sequence[BlockVerdict], path: Path, title: str) -> Path:
    """Chained and isolated scale error per block (log), each side's float64 distance, the cause marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [v.block.label for v in verdicts]
    x = list(range(len(verdicts)))

    def floor(value: float | None) -> float:
        return FLOOR if value is None or value <= FLOOR else value

    chained = [floor(v.chained.scale_error if v.chained else None) for v in verdicts]
    isolated = [floor(v.isolated.scale_error if v.isolated else None) for v in verdicts]
    figure = Figure(figsize=(max(6.0, 0.35 * len(verdicts) + 2), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(x, chained, "o-", color="tab:blue", label="chained (LeRobot's own inputs)")
    axes.plot(x, isolated, "s-", color="tab:orange", label="isolated (original's inputs)")
    for i, v in enumerate(verdicts):
        if v.isolated_status == DIFFERS:
            axes.plot([i], [isolated[i]], "x", color="tab:red", markersize=12)
    cause = first_cause(verdicts)
    if cause is not None:
        axes.axvline(verdicts.index(cause), color="tab:red", linestyle=":", label=f"first cause: {cause.block.label}")
    axes.set_yscale("log")
    axes.set_ylabel(f"scale error (log; {FLOOR:g} = exact)")
    axes.set_xticks(x, labels, rotation=75, fontsize=7)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
