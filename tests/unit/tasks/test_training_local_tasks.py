"""ml_training's local task bodies: evaluate_challenger (evaluate.py's metrics and figures, the champion scored on the same
test split by score.py, the shared report) and idempotent registration in the local registry."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from mlpipe.config import load_config
from mlpipe.lake import to_path
from mlpipe.tasks.training import training_root
from mlpipe.tasks.training_local import evaluate_challenger, register_challenger

DS = "2026-11-01"
HPS = {"label": "churned", "exclude": "customer_id,as_of", "nthread": "1", "seed": "7", "num_round": "15",
       "max_depth": "3", "eval_metric": "auc,logloss"}


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    monkeypatch.setenv("PIPELINE_ENV", "local")
    return load_config()


def train_model(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """A small model trained by train.py under the container contract; ``(model_dir, model.tar.gz, channels)``."""
    from training import train
    from training.synthetic import churn_frame

    df = churn_frame(1500, seed=4)
    channels = {}
    for name, part in {"train": df.iloc[:1000], "validation": df.iloc[1000:1250], "test": df.iloc[1250:]}.items():
        (root / name).mkdir(parents=True)
        part.to_parquet(root / name / "part-0.parquet", index=False)
        channels[name] = (root / name).as_uri()
    (root / "config").mkdir()
    (root / "config" / "hyperparameters.json").write_text(json.dumps(HPS))
    env = {"SM_INPUT_CONFIG_DIR": str(root / "config"), "SM_MODEL_DIR": str(root / "model"),
           "SM_OUTPUT_DIR": str(root / "output"), "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
           "SM_CHECKPOINT_DIR": str(root / "checkpoints"), "SM_NUM_GPUS": "0",
           "SM_CHANNEL_TRAIN": str(root / "train"), "SM_CHANNEL_VALIDATION": str(root / "validation")}
    assert train.main([], env) == 0
    artifact = root / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as tf:
        for path in sorted((root / "model").iterdir()):
            tf.add(path, arcname=path.name)
    return root / "model", artifact, channels


def test_evaluate_writes_figures_report_and_scores_the_champion_on_the_same_split(cfg, tmp_path):
    model_dir, artifact, channels = train_model(tmp_path / "job")
    root = training_root(cfg, DS)
    split = {"ds": DS, "root": root, "channels": channels, "gold_partition": "g", "gold_files": {}, "windows": {},
             "rows": {}}
    tuned = {"name": "ml-training-20261101-abc123", "best": {
        "name": "trial-1", "objective": 0.8, "metrics": {"validation:auc": 0.8}, "hyperparameters": {},
        "model_dir": str(model_dir), "model_uri": artifact.as_uri()}}
    first = evaluate_challenger(split, tuned, cfg)
    assert first["champion"] is None and first["evaluation_uri"] == f"{root}/evaluation/evaluation.json"
    evaluation = first["evaluation"]
    folder = to_path(f"{root}/evaluation")
    assert all((folder / name).is_file() for name in evaluation["images"].values())
    assert sum(evaluation["confusion"].values()) == evaluation["rows"]
    html = to_path(first["report_uri"]).read_text()
    assert html.count("data:image/png;base64,") == 3 and "Calibration" in html

    status = "Approved" if cfg.training.registry.auto_approve else "PendingManualApproval"
    # recorded with another test AUC, so the comparison below can only hold when the champion is scored again
    recorded = {**first, "evaluation": {**evaluation, "model": {**evaluation["model"], "auc": 0.51}}}
    registered = register_challenger(split, tuned, recorded, {"register": True}, cfg=cfg)
    assert registered["status"] == status
    if status != "Approved":
        from mlpipe.services import registry_for

        registry_for(cfg).set_status(cfg.training.registry.model_package_group, registered["version"], "Approved")
    # the next run: the champion (this very model) is scored on the run's test split by score.py
    again = evaluate_challenger(split, {**tuned, "name": "ml-training-20261101-def456"}, cfg)
    champion = again["champion"]
    assert champion["version"] == registered["version"] and champion["scored_on"] == "this run's test split"
    assert champion["auc"] == pytest.approx(again["evaluation"]["model"]["auc"], abs=1e-9)
    assert again["evaluation"]["gate"]["champion_auc"] == pytest.approx(champion["auc"])


def test_registration_is_idempotent_per_tuning_job(cfg, tmp_path):
    split = {"ds": DS, "root": (tmp_path / "tr").as_uri(), "gold_partition": "g", "gold_files": {"g/a": "sha256:1"},
             "channels": {}, "windows": {}, "rows": {}}
    tuned = {"name": "ml-training-20261101-abc123", "best": {"name": "trial-1", "metrics": {"validation:auc": 0.8},
                                                             "hyperparameters": {}, "objective": 0.8,
                                                             "model_dir": str(tmp_path), "model_uri": "file:///m"}}
    evaluated = {"evaluation": {"model": {"auc": 0.8}, "baselines": {"naive": {"auc": 0.6}}}, "report_uri": "r",
                 "evaluation_uri": "e"}
    first = register_challenger(split, tuned, evaluated, {"register": True}, cfg=cfg)
    again = register_challenger(split, tuned, evaluated, {"register": True}, cfg=cfg)
    assert first["version"] == again["version"] == 1
    assert first["status"] == ("Approved" if cfg.training.registry.auto_approve else "PendingManualApproval")
    lineage = json.loads((tmp_path / "tr" / "lineage.json").read_text())
    assert lineage["model_version"] == 1 and lineage["best_trial"]["model_dir"] == str(tmp_path)
