"""serving.inference, the contract in process: formats, exact predictions, the errors' statuses, any payload an
InferenceError at worst; and the modules model.tar.gz carries depend only on the container."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving import inference
from serving.errors import InferenceError, PayloadTooLargeError, UnsupportedAcceptError
from serving.model import Model
from serving.testing import csv_body, json_values, make_model_dir, synthetic_features
from training.model_code import PACKAGE, PACKAGE_FILES

SERVING_DIR = Path(inference.__file__).parent
ROW = b"1,2,3,0,4,basic"  # a valid row of the test model


def scores(body: bytes, content_type: str) -> np.ndarray:
    if content_type == "text/csv":
        return np.array(body.decode().split(), dtype=np.float32)
    return np.array([p["score"] for p in json.loads(body)["predictions"]], dtype=np.float32)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return synthetic_features(50, seed=3, missing_rate=0.1)


def reference(model: Model, X: np.ndarray) -> np.ndarray:
    return model.booster.inplace_predict(X, validate_features=False)


# ---- requests and responses ---------------------------------------------------------------------------
@pytest.mark.parametrize("accept", ["text/csv", "application/json"])
@pytest.mark.parametrize("n", [1, 50])
def test_csv_rows_give_the_in_process_predictions(model: Model, X: np.ndarray, n: int, accept: str) -> None:
    body, ct = inference.invoke(model, csv_body(X[:n]), "text/csv", accept)
    assert ct == accept
    np.testing.assert_array_equal(scores(body, ct), reference(model, X[:n]))


def test_json_forms_give_the_in_process_predictions(model: Model, X: np.ndarray) -> None:
    names = model.schema.names
    rows = json_values(X)
    records = [dict(zip(names, r, strict=True)) for r in rows]
    forms = {
        "instances rows": ({"instances": rows}, X),
        "instances records": ({"instances": records}, X),
        "records with id column": ({"instances": [{**r, "customer_id": i} for i, r in enumerate(records)]}, X),
        "single record": (records[0], X[:1]),
        "bare rows": (rows, X),
        "bare row": (rows[0], X[:1]),
        "built-in features": ({"instances": [{"features": r} for r in rows]}, X),
    }
    for label, (doc, expected_rows) in forms.items():
        body, ct = inference.invoke(model, json.dumps(doc), "application/json; charset=utf-8", None)
        assert ct == "application/json", label
        np.testing.assert_array_equal(scores(body, ct), reference(model, expected_rows), err_msg=label)


def test_input_fn_takes_str_as_the_container_passes_it(model: Model, X: np.ndarray) -> None:
    data = inference.input_fn(csv_body(X[:3]).decode(), "text/csv")
    np.testing.assert_array_equal(inference.predict_fn(data, model), reference(model, X[:3]))


def test_multi_output_models_give_one_line_per_row(tmp_path: Path) -> None:
    m = inference.model_fn(str(make_model_dir(tmp_path / "multi", num_class=3, num_boost_round=3)))
    X = synthetic_features(4, seed=5)
    body, _ = inference.invoke(m, csv_body(X), "text/csv", "text/csv")
    lines = body.decode().splitlines()
    assert len(lines) == 4 and all(len(line.split(",")) == 3 for line in lines)
    doc = json.loads(inference.invoke(m, csv_body(X), "text/csv", "application/json")[0])
    np.testing.assert_array_equal(np.array([p["scores"] for p in doc["predictions"]], dtype=np.float32),
                                  m.booster.inplace_predict(X))


def test_unsupported_accept_is_406(model: Model) -> None:
    with pytest.raises(UnsupportedAcceptError) as info:
        inference.invoke(model, ROW, "text/csv", "image/png")
    assert info.value.status_code == 406 and "'image/png'" in info.value.message


def test_oversized_payload_is_413(model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PayloadTooLargeError) as info:
        inference.invoke(model, (ROW + b"\n") * 20, "text/csv", None, max_payload_bytes=100)
    assert info.value.status_code == 413 and "the limit is 100 bytes" in info.value.message
    monkeypatch.setenv("SAGEMAKER_MAX_REQUEST_SIZE", "50")
    with pytest.raises(PayloadTooLargeError):
        inference.input_fn((ROW + b"\n") * 20, "text/csv")
    monkeypatch.delenv("SAGEMAKER_MAX_REQUEST_SIZE")
    assert inference.input_fn((ROW + b"\n") * 20, "text/csv").n_rows == 20


# ---- the handler never fails with anything but an InferenceError --------------------------------------
_tokens = st.one_of(st.floats().map(repr), st.integers().map(str), st.text(max_size=6), st.sampled_from(
    ["", "nan", "inf", "-inf", "true", "False", "1e39", "0x10", "1_0", " 3 ", '"1"']))
_csv = st.lists(st.lists(_tokens, max_size=7), max_size=4).map(lambda rows: "\n".join(",".join(r) for r in rows))
_json_scalar = st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=5))
_json_value = st.recursive(_json_scalar, lambda kids: st.one_of(st.lists(kids, max_size=6),
                                                                st.dictionaries(st.text(max_size=8), kids, max_size=6)),
                           max_leaves=30)
_json = st.one_of(_json_value, st.fixed_dictionaries({"instances": _json_value}),
                  st.lists(st.lists(_json_scalar, min_size=6, max_size=6), min_size=1, max_size=3)).map(json.dumps)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=200), _csv, _json),
       ct=st.sampled_from(["text/csv", "application/json", "text/plain", None]),
       accept=st.sampled_from([None, "*/*", "text/csv", "application/json", "image/png"]))
def test_any_payload_gives_predictions_or_an_inference_error(model: Model, body: bytes | str, ct: str | None,
                                                             accept: str | None) -> None:
    try:
        out, out_ct = inference.invoke(model, body, ct, accept)
    except InferenceError as exc:
        assert 400 <= exc.status_code < 500 and exc.message
    else:
        assert out_ct in ("text/csv", "application/json") and out


# ---- the package model.tar.gz carries ---------------------------------------------------------------------
CONTAINER_MODULES = {"__future__", "csv", "ctypes", "json", "logging", "math", "os", "re", "threading",
                     "dataclasses", "collections.abc", "pathlib", "typing", "numpy", "xgboost", "xgboost.core",
                     "sagemaker_inference.errors"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    imported = {n.name for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names}
    return imported | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


@pytest.mark.parametrize("name", PACKAGE_FILES)
def test_the_shipped_modules_depend_only_on_the_container_and_each_other(name: str) -> None:
    """Every module of code/serving/ imports the standard library, numpy, xgboost and only sibling modules
    that the archive carries too (a sibling left out of PACKAGE_FILES fails here, not on the endpoint)."""
    shipped = {f"{PACKAGE}.{n.removesuffix('.py')}" for n in PACKAGE_FILES if n != "__init__.py"}
    imported = imports_of(SERVING_DIR / name)
    siblings = {m for m in imported if m.split(".")[0] == PACKAGE}
    assert siblings <= shipped, siblings - shipped
    assert imported - siblings <= CONTAINER_MODULES, imported - siblings - CONTAINER_MODULES


def test_every_handler_module_is_shipped() -> None:
    modules = {p.name for p in SERVING_DIR.glob("*.py")} - {"testing.py", "sagemaker_entry.py"}
    assert modules == set(PACKAGE_FILES)
