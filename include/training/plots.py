"""The evaluation's figures as PNG files: ROC and precision-recall curves of the test scores, feature importance.

Drawn with matplotlib (Agg, no display), which the SageMaker XGBoost image ships (its requirements.txt pins
matplotlib 3.10.9, as ``runtimes/sagemaker-xgboost`` does), so the Processing job draws the same figures as the
local stack. ``write_plots`` returns ``{caption: file name}``; the files sit beside ``evaluation.json``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

IMPORTANCE_TOP = 15
FILES = {"ROC": "roc.png", "PR": "pr.png", "feature importance": "importance.png"}


def curves(y: np.ndarray, scores: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"ROC": (fpr, tpr), "PR": (recall, precision)}`` of the scores ranked from the highest."""
    ys = np.asarray(y, dtype="float64")[np.argsort(-np.asarray(scores, dtype="float64"), kind="mergesort")]
    tp, fp = np.cumsum(ys), np.cumsum(1 - ys)
    tpr, fpr = tp / max(ys.sum(), 1), fp / max((1 - ys).sum(), 1)
    precision = tp / np.arange(1, len(ys) + 1)
    return {"ROC": (fpr, tpr), "PR": (tpr, precision)}


def write_plots(y: np.ndarray, scores: np.ndarray, importance: Mapping[str, float], directory: str
                ) -> dict[str, str]:
    """Draw the three figures into ``directory``; ``{caption: file name}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(directory, exist_ok=True)
    axes = {"ROC": ("false positive rate", "true positive rate"), "PR": ("recall", "precision")}
    for caption, (xs, ys) in curves(y, scores).items():
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(xs, ys)
        if caption == "ROC":
            ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set_xlabel(axes[caption][0])
        ax.set_ylabel(axes[caption][1])
        ax.set_title(caption)
        fig.tight_layout()
        fig.savefig(os.path.join(directory, FILES[caption]))
        plt.close(fig)
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:IMPORTANCE_TOP]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.barh([k for k, _ in reversed(top)], [v for _, v in reversed(top)])
    ax.set_title("feature importance (gain)")
    fig.tight_layout()
    fig.savefig(os.path.join(directory, FILES["feature importance"]))
    plt.close(fig)
    return dict(FILES)
