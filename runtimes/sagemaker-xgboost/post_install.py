"""The image's own patch of sagemaker-containers for Python 3.10 (docker/3.0-5/final/Dockerfile.cpu):
``collections.Mapping`` became ``collections.abc.Mapping`` in ``_mapping.py``. Argument: the venv's path."""

import sys
from pathlib import Path

venv = Path(sys.argv[1])
(mapping,) = venv.glob("lib/python3.*/site-packages/sagemaker_containers/_mapping.py")
text = mapping.read_text()
mapping.write_text(text.replace("collections.Mapping", "collections.abc.Mapping"))
