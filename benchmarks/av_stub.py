"""A stand-in for PyAV (``import av``) on the GPU machine, where benchmarks/cuda_replay.sh installs it as ``av``
only when no real PyAV is there. Never installed anywhere else.

WHY: PyAV's wheel (about 40 MB: FFmpeg is inside) does not fit the device tool's 64 MiB working tree, and
that machine has no network. lerobot 0.6.1 imports ``av`` when ``lerobot.policies.groot`` loads
(``lerobot.datasets`` calls ``require_package("av")``, which needs an installed distribution named av;
``video_utils``, ``pyav_utils`` and ``depth_utils`` use ``av.*`` in annotations and default arguments at
definition time), but nothing on the parity path decodes or encodes video: the artifacts carry frames as
arrays. So every attribute chain here resolves to one placeholder, and USING it (calling it, iterating it)
raises ImportError, so code that probes PyAV inside ``try/except ImportError`` sees it absent and code
that really needs video fails loudly instead of computing anything.
"""

from __future__ import annotations

from typing import Any, NoReturn

__version__ = "0.0.0+stub"

MESSAGE = "PyAV is a stub on this machine (benchmarks/av_stub.py): video decoding/encoding is unavailable"


class _Placeholder:
    """Any ``av.x.y.Z``: usable in annotations (``av.VideoFrame | None``) and as a default value only."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> _Placeholder:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Placeholder(f"{self._name}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImportError(f"{MESSAGE} ({self._name} called)")

    def __iter__(self) -> NoReturn:
        raise ImportError(f"{MESSAGE} ({self._name} iterated)")

    def __or__(self, other: Any) -> _Placeholder:
        return self

    def __ror__(self, other: Any) -> _Placeholder:
        return self

    def __getitem__(self, item: Any) -> _Placeholder:
        return self

    def __repr__(self) -> str:
        return f"<stub {self._name}>"


def __getattr__(name: str) -> _Placeholder:
    if name.startswith("__"):
        raise AttributeError(name)
    return _Placeholder(f"av.{name}")
