"""The serving code inside the model artifact: ``SM_MODEL_DIR/code/``, so ``model.tar.gz`` carries its handler.

The registered model package runs the SageMaker XGBoost image in script mode with
``SAGEMAKER_PROGRAM=inference.py`` and ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``: the container imports
``inference`` from the unpacked archive's ``code/``. The training job writes it there::

    code/inference.py           the container's entry module (``serving/sagemaker_entry.py``)
    code/serving/__init__.py    the handler package, as the local stack imports it
    code/serving/inference.py   the handler (model_fn, input_fn, predict_fn, output_fn), beside its modules

The serving code travels with the training code: ``serving/`` inside the training sourcedir (``make package``
puts it there, so it is ``/opt/ml/code/serving`` in the training container), or ``include/serving`` next to
``include/training`` in the source tree (the local stack).
"""

from __future__ import annotations

import os
import shutil

CODE_DIR = "code"
ENTRY_SOURCE = "sagemaker_entry.py"
ENTRY_MODULE = "inference.py"                         # SAGEMAKER_PROGRAM of the registered model package
PACKAGE = "serving"
# every module the entry imports, besides numpy/xgboost (include/serving but testing.py)
PACKAGE_FILES = ("__init__.py", "content_types.py", "errors.py", "fast_predict.py", "inference.py", "matrix.py",
                 "messages.py", "model.py", "payload.py", "request_parsing.py", "schema.py")

HERE = os.path.dirname(os.path.abspath(__file__))


def find_serving_dir(here: str = HERE) -> str:
    """The serving package's directory: ``<sourcedir>/serving`` in the container, ``include/serving`` locally."""
    candidates = [os.path.join(here, PACKAGE), os.path.join(os.path.dirname(here), PACKAGE)]
    for path in candidates:
        if all(os.path.isfile(os.path.join(path, name)) for name in (ENTRY_SOURCE, *PACKAGE_FILES)):
            return path
    raise FileNotFoundError(
        f"the serving code ({PACKAGE}/{ENTRY_SOURCE}, {', '.join(PACKAGE_FILES)}) is in none of {candidates}; "
        f"the training sourcedir must carry include/serving as serving/ (build it with `make package`)")


def write_model_code(model_dir: str, serving_dir: str | None = None) -> list[str]:
    """Copy the entry module and the handler into ``model_dir/code``; returns the paths written (relative)."""
    source = serving_dir or find_serving_dir()
    code = os.path.join(model_dir, CODE_DIR)
    if os.path.isdir(code):
        shutil.rmtree(code)
    os.makedirs(os.path.join(code, PACKAGE))
    written = [ENTRY_MODULE]
    shutil.copyfile(os.path.join(source, ENTRY_SOURCE), os.path.join(code, ENTRY_MODULE))
    for name in PACKAGE_FILES:
        shutil.copyfile(os.path.join(source, name), os.path.join(code, PACKAGE, name))
        written.append(f"{PACKAGE}/{name}")
    return [f"{CODE_DIR}/{path}" for path in written]
