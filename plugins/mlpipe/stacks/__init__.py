"""The stack seam: one interface per stage, an ``aws`` and a ``local`` implementation, chosen by config.

DAG files ask :func:`get_stack` for the stack and wire what it returns; they never branch on the stack.
The chosen implementation is imported lazily, so a local DAG parse never imports boto3 and vice versa.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlpipe.config import PipelineConfig
    from mlpipe.stacks.base import Stack


def get_stack(cfg: PipelineConfig) -> Stack:
    if cfg.stack == "local":
        from mlpipe.stacks.local import LocalStack

        return LocalStack(cfg)
    from mlpipe.stacks.aws import AwsStack

    return AwsStack(cfg)
