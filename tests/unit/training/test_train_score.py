"""score: a model directory loaded and scored on a channel; the script writes the rows' AUC."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from train_helpers import BASE_HPS, ROOT, Job, run_in_process
from training import metrics, score

HPS = {**BASE_HPS, "num_round": "10", "max_depth": "3"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, channels):
    job = Job(tmp_path_factory.mktemp("job"))
    assert run_in_process(job, channels.mapping(), HPS) == 0
    return job.model_dir


def test_score_script_gives_the_models_auc_on_the_rows(tmp_path, model_dir, channels):
    out = tmp_path / "champion.json"
    proc = subprocess.run([sys.executable, str(ROOT / "include" / "training" / "score.py"), "--model-dir",
                           str(model_dir), "--test", str(channels.test), "--output", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    y, p = score.score_channel(str(model_dir), str(channels.test))
    assert json.loads(out.read_text()) == {"rows": len(y), "auc": metrics.auc(y, p)}
    assert 0.5 < json.loads(out.read_text())["auc"] < 1
