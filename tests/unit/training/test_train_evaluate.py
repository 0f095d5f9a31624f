"""evaluate.py: the evaluation document (metrics, calibration, confusion, importance, the checks) and, with an
output file, the ROC / PR / importance figures beside it; as the Processing job and the local stack run it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from train_helpers import BASE_HPS, ROOT, Job, run_in_process
from training import evaluate, metrics, score

HPS = {**BASE_HPS, "num_round": "20", "max_depth": "3"}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, channels):
    job = Job(tmp_path_factory.mktemp("job"))
    assert run_in_process(job, channels.mapping(), HPS) == 0
    return job.model_dir


def test_the_script_writes_the_evaluation_and_the_figures_beside_it(tmp_path, model_dir, channels):
    out = tmp_path / "evaluation" / "evaluation.json"
    proc = subprocess.run([sys.executable, str(ROOT / "include" / "training" / "evaluate.py"), "--model-dir",
                           str(model_dir), "--test", str(channels.test), "--output", str(out), "--threshold", "0.5",
                           "--baseline-margin", "0.05", "--champion-auc", "0.99"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["images"] == {"ROC": "roc.png", "PR": "pr.png", "feature importance": "importance.png"}
    for name in doc["images"].values():
        assert (out.parent / name).read_bytes().startswith(PNG), name
    c = doc["confusion"]
    assert c["tp"] + c["fp"] + c["fn"] + c["tn"] == doc["rows"]
    assert sum(b["n"] for b in doc["calibration"]) == doc["rows"]
    assert doc["importance"] and all(v > 0 for v in doc["importance"].values())
    assert doc["gate"]["champion_auc"] == 0.99 and doc["gate"]["passed"] is False   # trails the champion


def test_confusion_and_calibration_are_those_of_the_scores(model_dir, channels):
    y, p = score.score_channel(str(model_dir), str(channels.test))
    doc = evaluate.evaluate_model_dir(str(model_dir), str(channels.test), threshold=0.3)
    assert doc["confusion"] == metrics.confusion(y, p, 0.3)
    assert doc["confusion"]["tp"] == int(np.sum((p >= 0.3) & (y == 1)))
    assert doc["calibration"] == metrics.calibration(y, p)
    assert doc["model"]["auc"] == pytest.approx(metrics.auc(y, p))
    assert "images" not in doc          # no output folder: no figures
