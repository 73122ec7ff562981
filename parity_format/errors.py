"""The one exception type of the artifact format.

WHY one type: both the producer and the consumer only need to know "this file cannot be trusted,
and here is where"; every message therefore names the file and, when relevant, the member.
"""

from __future__ import annotations

from pathlib import Path


class ArtifactError(Exception):
    """An artifact could not be written or read; ``path`` and ``member`` say where."""

    def __init__(self, path: Path | str, message: str, member: str | None = None) -> None:
        self.path = Path(path)
        self.member = member
        self.reason = message
        where = f"{self.path}" if member is None else f"{self.path} [member {member!r}]"
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type[ArtifactError], tuple[Path, str, str | None]]:
        # Keeps the exception picklable (e.g. across multiprocessing) despite the custom __init__.
        return type(self), (self.path, self.reason, self.member)
