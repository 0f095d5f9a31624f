"""Make this directory importable as the package ``training`` whatever the directory is called.

In SageMaker script mode the source directory lands in ``/opt/ml/code`` and ``train.py`` runs as a plain
script, so ``training.contract`` would not resolve; this registers the directory under that name first.
"""

from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def ensure_package() -> None:
    existing = sys.modules.get("training")
    if existing is not None and os.path.abspath(os.path.dirname(getattr(existing, "__file__", "") or "")) == HERE:
        return
    spec = importlib.util.spec_from_file_location("training", os.path.join(HERE, "__init__.py"),
                                                  submodule_search_locations=[HERE])
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["training"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
