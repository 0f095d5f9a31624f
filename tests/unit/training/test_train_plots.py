"""plots: the ROC and precision-recall curves of ranked scores, and the three figures as PNG files."""

from __future__ import annotations

import numpy as np
from training import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_curves_end_at_the_corners():
    y = np.array([1, 0, 1, 0])
    roc, pr = plots.curves(y, np.array([0.9, 0.8, 0.7, 0.1])).values()
    assert (roc[0][-1], roc[1][-1]) == (1.0, 1.0)
    assert pr[0][-1] == 1.0 and pr[1][0] == 1.0 and pr[1][-1] == 0.5


def test_write_plots_draws_the_three_figures(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    images = plots.write_plots(y, rng.random(200), {"a": 3.0, "b": 1.0}, str(tmp_path / "evaluation"))
    assert images == plots.FILES
    assert all((tmp_path / "evaluation" / name).read_bytes().startswith(PNG) for name in images.values())
