"""mlpipe.local.prediction_batcher: the rows of waiting requests go into one call, each request gets its own rows."""

from __future__ import annotations

import asyncio

import numpy as np
from mlpipe.local.prediction_batcher import PredictionBatcher


def test_batcher_coalesces_waiting_requests_and_splits_the_result() -> None:
    seen: list[int] = []

    def predict(X: np.ndarray) -> np.ndarray:
        seen.append(len(X))
        return X[:, 0] * 2

    async def run() -> list[np.ndarray]:
        batcher = PredictionBatcher(predict, max_rows=8)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.predict(np.full((n, 2), k, np.float32))
                                          for k, n in enumerate([1, 2, 3, 4, 1])))
        finally:
            batcher.close()

    out = asyncio.run(run())
    assert [o.tolist() for o in out] == [[0.0], [2.0] * 2, [4.0] * 3, [6.0] * 4, [8.0]]
    assert seen == [6, 5]  # 1+2+3 fit in 8 rows, then 4+1
