"""serving.matrix: parsed rows as the model's float32 matrix (CSV tokens, JSON rows and records, categories),
and every value a client gets wrong refused with its row, feature and column."""

from __future__ import annotations

import json

import numpy as np
import pytest
from serving import inference
from serving.errors import FeatureCountError, FeatureNameError, FeatureTypeError, InferenceError
from serving.model import Model
from serving.request_parsing import parse_request


def scores(body: bytes, content_type: str) -> np.ndarray:
    if content_type == "text/csv":
        return np.array(body.decode().split(), dtype=np.float32)
    return np.array([p["score"] for p in json.loads(body)["predictions"]], dtype=np.float32)


def test_bool_words_and_empty_fields_in_csv(model: Model) -> None:
    body, _ = inference.invoke(model, b"10,2.5,3,true,,premium\n10,2.5,3,1,nan,premium\n", "text/csv", "text/csv")
    a, b = scores(body, "text/csv")
    assert a == b


def test_categories_are_predicted_on_their_index_and_unseen_ones_are_missing(model: Model) -> None:
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


ROW = b"1,2,3,0,4,basic"  # a valid row of the test model

CASES = [
    (b"1,2", "text/csv", FeatureCountError, 400, "CSV line 1 has 2 values; the model expects 6 features"),
    (b"1,2,3,0,abc,basic", "text/csv", FeatureTypeError, 400, "feature 'avg_session_minutes' (column 5) must be a number"),
    (b"1.5,2,3,0,4,basic", "text/csv", FeatureTypeError, 400, "feature 'tenure_days' (column 1) is an integer feature"),
    (b"1,2,3,2,4,basic", "text/csv", FeatureTypeError, 400, "'has_failed_payment' (column 4) is a boolean feature"),
    (b"1,2,3,,4,basic", "text/csv", FeatureTypeError, 400, "'has_failed_payment' (column 4) may not be missing"),
    (b"1,2,3,0,inf,basic", "text/csv", FeatureTypeError, 400, "infinite"),
    (b"1,1e39,3,0,4,basic", "text/csv", FeatureTypeError, 400, "beyond float32"),
    (b"tenure_days,spend_30d,sessions_7d,has_failed_payment,avg_session_minutes,plan\n1,2,3,0,4,basic", "text/csv",
     FeatureTypeError, 400, "the first CSV line is a header"),
    (b'1,"2,3', "text/csv", FeatureCountError, 400, "has 2 values"),
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
    (b'[1,2,3,0,1e400,"basic"]', "application/json", FeatureTypeError, 400, "infinite"),
    (b'[1,2,3,0,' + b"9" * 400 + b',"basic"]', "application/json", FeatureTypeError, 400, "beyond float32"),
]


@pytest.mark.parametrize(("body", "ct", "error", "status", "message"), CASES,
                         ids=[f"{c[2].__name__}-{i}" for i, c in enumerate(CASES)])
def test_client_errors_say_what_is_wrong(model: Model, body: bytes, ct: str, error: type[InferenceError],
                                         status: int, message: str) -> None:
    with pytest.raises(error) as info:
        model.matrix.to_matrix(parse_request(body, ct))
    assert info.value.status_code == status
    assert message in info.value.message


def test_a_valid_row_is_the_float32_matrix_in_schema_order(model: Model) -> None:
    X = model.matrix.to_matrix(parse_request(ROW + b"\n" + b"7,0.5,1,1,,premium", "text/csv"))
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, np.array([[1, 2, 3, 0, 4, 0], [7, 0.5, 1, 1, np.nan, 1]], dtype=np.float32))
