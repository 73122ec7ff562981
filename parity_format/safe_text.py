"""Text from files made safe to print: the one escaping rule for member names, tags, paths and messages.

WHY: member names, tags and file names come from untrusted files; printed raw, an ESC sequence can
rewrite the terminal (hide a FAIL, fake a PASS) and a newline can forge a line. Every non-printable
character (C0/C1 controls, DEL, line and paragraph separators, ...) becomes a visible escape such as
``\\x1b``; printable text, including non-ASCII letters, is unchanged.
"""

from __future__ import annotations

from typing import Any


def safe_text(value: Any) -> str:
    """``str(value)`` with every non-printable character escaped (``\\xNN``, ``\\uNNNN``, ``\\UNNNNNNNN``)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def safe_lines(text: str) -> str:
    """Escape each line of multi-line output built by the tools; the tools' own newlines are kept."""
    return "\n".join(safe_text(line) for line in text.split("\n"))


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
