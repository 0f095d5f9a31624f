"""serving.fast_predict: the direct C call gives Booster.inplace_predict's predictions bit for bit."""

from __future__ import annotations

import numpy as np
from serving.model import Model
from serving.testing import synthetic_features


def test_fast_prediction_path_equals_inplace_predict(model: Model) -> None:
    assert model._fast is not None  # the direct C call is in use (else throughput drops by half)
    X = synthetic_features(300, seed=9, missing_rate=0.2)
    for rows in (X, X[:1], X[7:8], X[:100]):
        np.testing.assert_array_equal(model.predict(rows), model.booster.inplace_predict(rows, validate_features=False))
