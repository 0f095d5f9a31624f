"""Serving agrees with the training job: the model directory the real training script writes loads, and raw
rows (category text, missing values, id columns) sent over CSV, JSON or batch transform get exactly the
predictions the training job's own evaluation computes."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from serving import inference
from serving.model import BASELINE_FILE, MODEL_FILES
from serving.schema import SCHEMA_FILE

train = pytest.importorskip("training.train")
from training import contract  # noqa: E402
from training.callbacks import Interrupt  # noqa: E402
from training.data import FeatureSchema, encode  # noqa: E402
from training.evaluate import predict  # noqa: E402
from training.synthetic import churn_frame  # noqa: E402

HPS = {"label": "churned", "exclude": "customer_id,as_of", "nthread": "1", "seed": "7", "num_round": "15",
       "eval_metric": "auc", "max_depth": "4"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("training-contract")
    df = churn_frame(1500, seed=5)
    for name, part in (("train", df.iloc[:900]), ("validation", df.iloc[900:1200])):
        (root / name).mkdir()
        part.to_parquet(root / name / "part-00000.parquet", index=False)
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(HPS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update({"SM_INPUT_CONFIG_DIR": str(config), "SM_MODEL_DIR": str(root / "model"),
                "SM_OUTPUT_DIR": str(root / "output"), "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
                "SM_CHECKPOINT_DIR": str(root / "checkpoints"), "SM_NUM_GPUS": "0",
                "SM_CHANNEL_TRAIN": str(root / "train"), "SM_CHANNEL_VALIDATION": str(root / "validation")})
    rc = train.run(contract.ContainerEnv.from_environ(env), Interrupt(train.log, contract.EXIT_INTERRUPTED))
    assert rc == 0
    test = df.iloc[1200:].reset_index(drop=True)
    test.loc[::11, "plan"] = None          # missing category
    test.loc[5::13, "company_size"] = "5000+"  # a category training never saw: missing, as training encodes it
    return root / "model", test


def expected_scores(model_dir: Path, test) -> np.ndarray:
    import xgboost as xgb

    schema = FeatureSchema.from_dict(json.loads((model_dir / contract.SCHEMA_FILE).read_text()))
    return predict(xgb.Booster(model_file=str(model_dir / contract.MODEL_FILE)), encode(test, schema))


def test_the_layouts_agree() -> None:
    assert SCHEMA_FILE == contract.SCHEMA_FILE
    assert MODEL_FILES[0] == contract.MODEL_FILE
    assert BASELINE_FILE == contract.BASELINE_FILE


def test_raw_rows_get_the_training_jobs_predictions(trained) -> None:
    model_dir, test = trained
    model = inference.model_fn(str(model_dir))
    names = model.schema.names
    assert "plan" in names and model.schema.features[names.index("plan")].type == "category"
    assert model.schema.id_columns == ("customer_id", "as_of")
    expected = expected_scores(model_dir, test)

    def value(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v.item() if hasattr(v, "item") else v

    records = [{n: value(row[n]) for n in names} for row in test.to_dict("records")]
    csv = "\n".join(",".join("" if r[n] is None else str(r[n]) for n in names) for r in records).encode()
    body, _ = inference.invoke(model, csv, "text/csv", "text/csv")
    np.testing.assert_array_equal(np.array(body.split(), dtype=np.float32), expected)
    with_ids = [{**r, "customer_id": int(c)} for r, c in zip(records, test["customer_id"], strict=True)]
    body, _ = inference.invoke(model, json.dumps({"instances": with_ids}), "application/json")
    got = np.array([p["score"] for p in json.loads(body)["predictions"]], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)


def test_batch_transform_of_the_raw_partition_gets_them_too(trained, tmp_path: Path) -> None:
    from mlpipe.local.batch import batch_transform

    model_dir, test = trained
    src = tmp_path / "gold" / "dt=2026-11-03"
    src.mkdir(parents=True)
    test.to_parquet(src / "part-00000.parquet", index=False)
    summary = batch_transform(model_dir, src, tmp_path / "predictions" / "dt=2026-11-03", chunk_rows=100)
    assert summary.rows_out == len(test) and summary.id_columns == ["customer_id", "as_of"]
    table = pq.read_table(summary.output_file)
    assert table.column("customer_id").to_pylist() == test["customer_id"].tolist()
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), expected_scores(model_dir, test))
