"""Lake documents on the local filesystem (file:// URIs), written atomically."""

from __future__ import annotations

import json
from typing import Any

from mlpipe.lake import to_path


class LocalStorage:
    def write_json(self, uri: str, doc: dict[str, Any]) -> None:
        path = to_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str))
        tmp.replace(path)

    def read_json(self, uri: str) -> dict[str, Any]:
        return json.loads(to_path(uri).read_text())

    def exists(self, uri: str) -> bool:
        return to_path(uri).exists()
