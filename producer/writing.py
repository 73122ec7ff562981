"""Writing artifacts behind the producer's back: compression overlaps the next inference.

WHY: a produce run alternates CPU-bound inference with CPU-bound compression. Run in sequence, the
write of every artifact adds to the wall time (issue 15: 6.0 s of a 16.4 s run). Here one writer
thread takes whole artifacts in submission order while the main thread goes on with the next tag,
and the shared :class:`~parity_format.codecs.MemberEncoder` starts on ``pixel_values`` as soon as
the collator produced it (``prefetch``), before ``get_action`` runs. At most ``max_pending``
artifacts wait in memory: a slow disk makes ``submit`` wait instead of the process growing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from parity_format.artifact import Artifact, write_artifact
from parity_format.codecs import DEFAULT_COMPRESSION, MemberEncoder


@dataclass(frozen=True)
class Written:
    path: Path
    bytes: int
    seconds: float  # from submit to the file in place (waiting included)


class BackgroundWriter:
    """``submit`` an artifact, get a Future of :class:`Written`; leaving the ``with`` waits for every write."""

    def __init__(self, compression: str = DEFAULT_COMPRESSION, max_pending: int = 2) -> None:
        self.encoder = MemberEncoder(compression)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="artifact-writer")
        self._slots = threading.BoundedSemaphore(max_pending)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Wait for every submitted write, then stop the threads."""
        self._thread.shutdown(wait=True)
        self.encoder.close()

    def prefetch(self, arrays: Iterable[np.ndarray]) -> None:
        """Start compressing these arrays now (see :meth:`MemberEncoder.prefetch`)."""
        self.encoder.prefetch(arrays)

    def discard(self, arrays: Iterable[np.ndarray]) -> None:
        """Drop prefetched work for an artifact that will not be written."""
        self.encoder.discard(arrays)

    def submit(self, artifact: Artifact, path: Path) -> Future[Written]:
        self._slots.acquire()  # blocks while max_pending artifacts are still being written
        submitted = time.perf_counter()

        def write() -> Written:
            try:
                written = write_artifact(artifact, path, self.encoder)
                return Written(written, written.stat().st_size, time.perf_counter() - submitted)
            finally:
                self._slots.release()

        try:
            return self._thread.submit(write)
        except BaseException:
            self._slots.release()
            raise
