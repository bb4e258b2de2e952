"""Text from nodes made safe for the hub's log: printable, one line, bounded.

A node chooses its ``agent_version``, its topic names and what its payloads
hold; written to the log as they are, a newline would forge a log line and a
terminal escape sequence would rewrite the operator's screen. Every such field
goes through :func:`safe` first.
"""

from __future__ import annotations

LOG_FIELD_MAX = 200


def safe(value: object, limit: int = LOG_FIELD_MAX) -> str:
    """``value`` as printable text: control and other non-printable characters escaped, at most ``limit`` characters."""
    text = str(value)
    if text.isprintable() and len(text) <= limit:
        return text
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text[:limit])
    return out[:limit] + ("…" if len(text) > limit or len(out) > limit else "")
