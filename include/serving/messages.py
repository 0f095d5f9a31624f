"""How the handler's messages show what they quote: a list of names, a client's value (clipped)."""

from __future__ import annotations

from collections.abc import Sequence

MAX_SHOWN_NAMES = 20  # names listed in one message


def shown(names: Sequence[str]) -> str:
    """``['a', 'b', ...]``: the first MAX_SHOWN_NAMES names, quoted."""
    head = ", ".join(repr(n) for n in names[:MAX_SHOWN_NAMES])
    return f"[{head}{', ...' if len(names) > MAX_SHOWN_NAMES else ''}]"


def clip(s: str, n: int = 40) -> str:
    """``s`` cut to ``n`` characters (``...`` marks a cut)."""
    s = str(s)
    return s if len(s) <= n else s[:n] + "..."
