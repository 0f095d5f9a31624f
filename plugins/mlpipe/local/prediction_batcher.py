"""Dynamic batching for the local endpoint: the rows of the requests that arrive while a prediction runs are
predicted together in the next XGBoost call, in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MAX_BATCH_ROWS = 1024


class PredictionBatcher:
    """Dynamic batching: the rows of the requests that arrive while a prediction runs are predicted together
    in the next call, in one worker thread. XGBoost's C call releases the GIL, so the event loop parses and
    answers other requests meanwhile, and one call's fixed cost is shared by every request in it. A single
    request waits for nothing but its own prediction; each request gets exactly its own rows back."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], max_rows: int = MAX_BATCH_ROWS) -> None:
        self._predict = predict
        self._max_rows = max_rows
        self._pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self._running = False
        self._executor: ThreadPoolExecutor | None = None
        self.calls = 0
        self.rows = 0

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def predict(self, X: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        if self._executor is None:  # not started (no lifespan): predict here
            return self._predict(X)
        future = loop.create_future()
        self._pending.append((X, future))
        if not self._running:
            self._running = True
            loop.create_task(self._drain(loop))
        return await future

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while self._pending:
                batch, rows = [], 0
                while self._pending and (not batch or rows + len(self._pending[0][0]) <= self._max_rows):
                    item = self._pending.pop(0)
                    batch.append(item)
                    rows += len(item[0])
                X = batch[0][0] if len(batch) == 1 else _concatenate([x for x, _ in batch])
                try:
                    P = await loop.run_in_executor(self._executor, self._predict, X)
                except Exception as exc:  # noqa: BLE001 - every request of the batch gets it
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                self.calls += 1
                self.rows += rows
                offset = 0
                for x, fut in batch:
                    if not fut.done():  # a client that went away cancelled its future
                        fut.set_result(P[offset:offset + len(x)])
                    offset += len(x)
        finally:
            self._running = False


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    import numpy as np

    return np.concatenate(arrays)
