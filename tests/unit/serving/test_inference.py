"""The inference handler in process: formats, exact predictions, every client error and its message."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving import inference
from serving.inference import (
    EmptyBodyError,
    FeatureCountError,
    FeatureNameError,
    FeatureSchema,
    FeatureTypeError,
    InferenceError,
    MalformedPayloadError,
    ModelLoadError,
    PayloadTooLargeError,
    UnsupportedAcceptError,
    UnsupportedContentTypeError,
)
from serving.testing import csv_body, json_values, make_model_dir, synthetic_features

INFERENCE_PY = Path(inference.__file__)
ROW = b"1,2,3,0,4,basic"  # a valid row of the test model


def scores(body: bytes, content_type: str) -> np.ndarray:
    if content_type == "text/csv":
        return np.array(body.decode().split(), dtype=np.float32)
    return np.array([p["score"] for p in json.loads(body)["predictions"]], dtype=np.float32)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return synthetic_features(50, seed=3, missing_rate=0.1)


def reference(model: inference.Model, X: np.ndarray) -> np.ndarray:
    return model.booster.inplace_predict(X, validate_features=False)


# ---- loading ------------------------------------------------------------------------------------------
def test_model_fn_loads_the_booster_and_its_schema(model: inference.Model) -> None:
    assert model.schema.names == ["tenure_days", "spend_30d", "sessions_7d", "has_failed_payment",
                                  "avg_session_minutes", "plan"]
    assert [f.type for f in model.schema.features] == ["int", "float", "int", "bool", "float", "category"]
    assert model.schema.features[-1].categories == ("basic", "premium", "standard")
    assert model.schema.id_columns == ("customer_id",) and model.schema.target == "churned"
    assert model.booster.feature_types[-1] == "c"  # trained like the training job: a real categorical feature


def test_fast_prediction_path_equals_inplace_predict(model: inference.Model) -> None:
    assert model._fast is not None  # the direct C call is in use (else throughput drops by half)
    X = synthetic_features(300, seed=9, missing_rate=0.2)
    for rows in (X, X[:1], X[7:8], X[:100]):
        np.testing.assert_array_equal(model.predict(rows), reference(model, rows))


def test_missing_schema_file_says_what_to_write(tmp_path: Path, model_dir: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    with pytest.raises(ModelLoadError, match="feature_schema.json"):
        inference.model_fn(str(d))


def test_missing_model_file_lists_the_names_looked_for(tmp_path: Path, model_dir: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "feature_schema.json").write_bytes((model_dir / "feature_schema.json").read_bytes())
    with pytest.raises(ModelLoadError, match="model.json"):
        inference.model_fn(str(d))


def test_schema_that_disagrees_with_the_model_fails_at_load(tmp_path: Path, model_dir: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    (d / "feature_schema.json").write_text(json.dumps({"features": [{"name": "a"}, {"name": "b"}]}))
    with pytest.raises(ModelLoadError, match="the model has 6 features but feature_schema.json lists 2"):
        inference.model_fn(str(d))


@pytest.mark.parametrize(("raw", "match"), [
    ({"features": []}, "empty"),
    ({"features": [{"name": "a", "type": "category"}]}, "lists no categories"),
    ({"features": [{"name": "a", "type": "text"}]}, "has type 'text'"),
    ({"features": [{"name": "a", "kind": "embedding", "dtype": "x"}]}, "expected 'numeric' or 'categorical'"),
    ({"features": ["a", "a"]}, "duplicate"),
    ({"columns": ["a"]}, "needs 'features'"),
    ({"feature_names": ["a", "b"], "feature_types": ["q"]}, "2 feature_names but 1 feature_types"),
])
def test_invalid_schemas_are_rejected(raw: dict, match: str) -> None:
    with pytest.raises(ModelLoadError, match=match):
        FeatureSchema.from_dict(raw)


def test_the_training_jobs_schema_format_is_read_and_written() -> None:
    doc = {"format": 1, "label": "churned", "excluded": ["customer_id", "as_of"], "features": [
        {"name": "tenure_days", "kind": "numeric", "dtype": "int64"},
        {"name": "spend", "kind": "numeric", "dtype": "float64"},
        {"name": "autopay", "kind": "numeric", "dtype": "bool"},
        {"name": "plan", "kind": "categorical", "dtype": "object", "categories": ["basic", "premium"]}]}
    schema = FeatureSchema.from_dict(doc)
    assert [f.type for f in schema.features] == ["int", "float", "bool", "category"]
    assert schema.id_columns == ("customer_id", "as_of") and schema.target == "churned"
    assert schema.to_dict() == doc
    assert FeatureSchema.from_dict(schema.to_dict()) == schema


def test_xgboost_style_schema_is_accepted() -> None:
    schema = FeatureSchema.from_dict({"feature_names": ["a", "b", "c"], "feature_types": ["q", "int", "i"]})
    assert [f.type for f in schema.features] == ["float", "int", "bool"]


# ---- requests and responses ---------------------------------------------------------------------------
@pytest.mark.parametrize("accept", ["text/csv", "application/json"])
@pytest.mark.parametrize("n", [1, 50])
def test_csv_rows_give_the_in_process_predictions(model: inference.Model, X: np.ndarray, n: int,
                                                  accept: str) -> None:
    body, ct = inference.invoke(model, csv_body(X[:n]), "text/csv", accept)
    assert ct == accept
    np.testing.assert_array_equal(scores(body, ct), reference(model, X[:n]))


def test_json_forms_give_the_in_process_predictions(model: inference.Model, X: np.ndarray) -> None:
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


def test_input_fn_takes_str_as_the_container_passes_it(model: inference.Model, X: np.ndarray) -> None:
    data = inference.input_fn(csv_body(X[:3]).decode(), "text/csv")
    np.testing.assert_array_equal(inference.predict_fn(data, model), reference(model, X[:3]))


def test_bool_words_and_empty_fields_in_csv(model: inference.Model) -> None:
    body, _ = inference.invoke(model, b"10,2.5,3,true,,premium\n10,2.5,3,1,nan,premium\n", "text/csv", "text/csv")
    a, b = scores(body, "text/csv")
    assert a == b


def test_categories_are_predicted_on_their_index_and_unseen_ones_are_missing(model: inference.Model) -> None:
    X = np.tile(np.array([[200, 40, 200, 0, 40, 0]], dtype=np.float32), (3, 1))
    X[:, 5] = [0, 2, np.nan]  # basic, standard, missing
    expected = model.booster.inplace_predict(X)
    assert len(set(expected.tolist())) == 3  # the model tells the three apart, so a wrong code would show
    csv_forms = (b"200,40,200,0,40,basic\n200,40,200,0,40,standard\n200,40,200,0,40,\n",
                 b"200,40,200,0,40,basic\n200,40,200,0,40, standard\n200,40,200,0,40,gold\n")
    for body in csv_forms:
        got = scores(inference.invoke(model, body, "text/csv", "text/csv")[0], "text/csv")
        np.testing.assert_array_equal(got, expected)
    for unseen in (None, "gold", 7):
        doc = {"instances": [[200, 40, 200, 0, 40, "basic"], [200, 40, 200, 0, 40, "standard"],
                             [200, 40, 200, 0, 40, unseen]]}
        got = scores(inference.invoke(model, json.dumps(doc), "application/json")[0], "application/json")
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "application/json"), ("*/*", "application/json"), ("text/csv", "text/csv"),
    ("image/png, text/csv;q=0.5", "text/csv"), ("application/json; charset=utf-8", "application/json"),
])
def test_accept_negotiation(accept: str | None, expected: str) -> None:
    assert inference.choose_accept(accept) == expected


def test_multi_output_models_give_one_line_per_row(tmp_path: Path) -> None:
    m = inference.model_fn(str(make_model_dir(tmp_path / "multi", num_class=3, num_boost_round=3)))
    X = synthetic_features(4, seed=5)
    body, _ = inference.invoke(m, csv_body(X), "text/csv", "text/csv")
    lines = body.decode().splitlines()
    assert len(lines) == 4 and all(len(line.split(",")) == 3 for line in lines)
    doc = json.loads(inference.invoke(m, csv_body(X), "text/csv", "application/json")[0])
    np.testing.assert_array_equal(np.array([p["scores"] for p in doc["predictions"]], dtype=np.float32),
                                  m.booster.inplace_predict(X))


# ---- client errors: type, status and message ----------------------------------------------------------
CASES = [
    (b"", "text/csv", EmptyBodyError, 400, "the request body is empty"),
    (b"  \n\n", "text/csv", EmptyBodyError, 400, "empty"),
    (b"1,2", "text/csv", FeatureCountError, 400, "CSV line 1 has 2 values; the model expects 6 features"),
    (ROW + b"\n1,2,3,0\n", "text/csv", MalformedPayloadError, 400, "ragged CSV: line 1 has 6 values but line 2 has 4"),
    (b"1,2,3,0,abc,basic", "text/csv", FeatureTypeError, 400, "feature 'avg_session_minutes' (column 5) must be a number"),
    (b"1.5,2,3,0,4,basic", "text/csv", FeatureTypeError, 400, "feature 'tenure_days' (column 1) is an integer feature"),
    (b"1,2,3,2,4,basic", "text/csv", FeatureTypeError, 400, "'has_failed_payment' (column 4) is a boolean feature"),
    (b"1,2,3,,4,basic", "text/csv", FeatureTypeError, 400, "'has_failed_payment' (column 4) may not be missing"),
    (b"1,2,3,0,inf,basic", "text/csv", FeatureTypeError, 400, "infinite"),
    (b"1,1e39,3,0,4,basic", "text/csv", FeatureTypeError, 400, "beyond float32"),
    (b"tenure_days,spend_30d,sessions_7d,has_failed_payment,avg_session_minutes,plan\n1,2,3,0,4,basic", "text/csv",
     FeatureTypeError, 400, "the first CSV line is a header"),
    (b'1,"2,3', "text/csv", FeatureCountError, 400, "has 2 values"),
    (b"\xff\xfe1,2", "text/csv", MalformedPayloadError, 400, "not valid UTF-8"),
    (b"1,2\x00,3,0,4,basic", "text/csv", MalformedPayloadError, 400, "NUL"),
    (b'{"instances": [[1,2,3,0]]}', "application/json", FeatureCountError, 400, "instance 0 has 4 values"),
    (b'{"instances": [[1,2,3,0,4,"basic"], [1,2,3,0,"x","basic"]]}', "application/json", FeatureTypeError, 400,
     "instance 1, feature 'avg_session_minutes' (column 5) must be a number or missing; got the string 'x'"),
    (b'{"instances": [[1,2,3,0,[4],"basic"]]}', "application/json", FeatureTypeError, 400, "got a list"),
    (b'{"instances": [[1,true,3,0,4,"basic"]]}', "application/json", FeatureTypeError, 400, "'spend_30d' (column 2) must be"),
    (b'{"tenure_days": 1, "spend": 2}', "application/json", FeatureNameError, 400,
     "missing features ['spend_30d', 'sessions_7d', 'has_failed_payment', 'avg_session_minutes', 'plan'] and "
     "unknown key ['spend']"),
    (b'{"instances": [[1,2,3,0,4,["basic"]]]}', "application/json", FeatureTypeError, 400,
     "feature 'plan' (column 6) must be a category (text) or missing; got a list"),
    (b'{"instances": []}', "application/json", EmptyBodyError, 400, "'instances' is empty"),
    (b'{"instances": 5}', "application/json", MalformedPayloadError, 400, "'instances' must be a list"),
    (b'{"instances": [[1,2,3,0,4,"basic"]], "x": 1}', "application/json", MalformedPayloadError, 400, "unexpected keys ['x']"),
    (b'{"instances": [[1,2,3,0,4,"basic"], {"a": 1}]}', "application/json", MalformedPayloadError, 400, "instance 1 is dict"),
    (b'[1,2,3,0,Infinity,"basic"]', "application/json", MalformedPayloadError, 400, "JSON contains Infinity"),
    (b'[1,2,3,0,1e400,"basic"]', "application/json", FeatureTypeError, 400, "infinite"),
    (b'[1,2,3,0,' + b"9" * 400 + b',"basic"]', "application/json", FeatureTypeError, 400, "beyond float32"),
    (b'{"instances": [[1,2,3,0,4]', "application/json", MalformedPayloadError, 400, "malformed JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", MalformedPayloadError, 400, "nested too deeply"),
    (b'"just a string"', "application/json", MalformedPayloadError, 400, "must be an object or a list"),
    (ROW, "application/xml", UnsupportedContentTypeError, 415, "'application/xml' is not supported"),
    (ROW, None, UnsupportedContentTypeError, 415, "no content type given"),
]


@pytest.mark.parametrize(("body", "ct", "error", "status", "message"), CASES,
                         ids=[f"{c[2].__name__}-{i}" for i, c in enumerate(CASES)])
def test_client_errors_say_what_is_wrong(model: inference.Model, body: bytes, ct: str | None,
                                         error: type[InferenceError], status: int, message: str) -> None:
    with pytest.raises(error) as info:
        inference.invoke(model, body, ct, "application/json")
    assert info.value.status_code == status
    assert message in info.value.message


def test_unsupported_accept_is_406(model: inference.Model) -> None:
    with pytest.raises(UnsupportedAcceptError) as info:
        inference.invoke(model, ROW, "text/csv", "image/png")
    assert info.value.status_code == 406 and "'image/png'" in info.value.message


def test_oversized_payload_is_413(model: inference.Model, monkeypatch: pytest.MonkeyPatch) -> None:
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
def test_any_payload_gives_predictions_or_an_inference_error(model: inference.Model, body: bytes | str,
                                                             ct: str | None, accept: str | None) -> None:
    try:
        out, out_ct = inference.invoke(model, body, ct, accept)
    except InferenceError as exc:
        assert 400 <= exc.status_code < 500 and exc.message
    else:
        assert out_ct in ("text/csv", "application/json") and out


# ---- the SageMaker container ------------------------------------------------------------------------------
def test_inference_py_imports_as_a_top_level_module_and_uses_the_toolkit_error(monkeypatch: pytest.MonkeyPatch,
                                                                              model_dir: Path) -> None:
    """SageMaker imports /opt/ml/code/inference.py as `inference`; the toolkit maps BaseInferenceToolkitError's
    status_code to the HTTP status, anything else to 500."""

    class BaseInferenceToolkitError(Exception):
        def __init__(self, status_code: int, message: str, phrase: str) -> None:
            self.status_code, self.message, self.phrase = status_code, message, phrase

    errors = types.ModuleType("sagemaker_inference.errors")
    errors.BaseInferenceToolkitError = BaseInferenceToolkitError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sagemaker_inference", types.ModuleType("sagemaker_inference"))
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", errors)
    spec = importlib.util.spec_from_file_location("inference", INFERENCE_PY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "inference", module)
    spec.loader.exec_module(module)
    m = module.model_fn(str(model_dir))
    with pytest.raises(BaseInferenceToolkitError) as info:
        module.predict_fn(module.input_fn("1,2", "text/csv"), m)
    assert (info.value.status_code, info.value.phrase) == (400, "Bad Request")
    with pytest.raises(BaseInferenceToolkitError) as info:
        module.input_fn("{}", "application/x-npy")
    assert info.value.status_code == 415


def test_inference_py_depends_only_on_the_container() -> None:
    allowed = {"__future__", "csv", "ctypes", "json", "logging", "math", "os", "re", "threading", "dataclasses", "collections.abc",
               "pathlib", "typing", "numpy", "xgboost", "xgboost.core", "sagemaker_inference.errors"}
    tree = ast.parse(INFERENCE_PY.read_text())
    imported = {n.name for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= allowed, imported - allowed


@pytest.mark.parametrize(("body", "deep"), [
    (b"[" * 64, False), (b"[" * 65, True), (b"[1," * 65, True), (b'{"a": ' * 65, True),
    (b'["' + b"[" * 100 + b'"]', False),                      # brackets inside a string do not nest
    (b'["\\"' + b"[" * 100 + b'"]', False),                   # nor after an escaped quote
    (b'["\\\\"' + b"[" * 100, True),                          # an escaped backslash ends the string
    (b'{"instances": [' + b"[1, 2]," * 1000 + b"[3, 4]]}", False),
])
def test_json_depth_is_decided_before_parsing(body, deep) -> None:
    """The nesting limit is checked before json.loads, whose own limit depends on the caller's stack: in the
    SageMaker container's gevent worker a body 865 levels deep hit it, on the local endpoint it did not, so the
    two answered the same body with different messages."""
    assert inference.json_too_deep(body) is deep
    assert inference.json_too_deep(body.decode("utf-8")) is deep
    if deep:
        with pytest.raises(MalformedPayloadError, match="nested too deeply"):
            inference.parse_json(body)
