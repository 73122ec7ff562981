"""The verdicts a parity check can reach, defined once for checks, CLI, pytest, JSON and the report."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):  # not StrEnum: the format also runs on Python 3.10
    PASS = "pass"
    FAIL = "fail"
    XFAIL = "xfail"  # a declared known divergence reproduced
    SKIP = "skip"  # cannot run here; the message says what to set or run

    @property
    def text(self) -> str:
        """Upper-case label for tables."""
        return STATUS_TEXT[self]

    @classmethod
    def parse(cls, value: str) -> Status:
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown status {value!r}; expected one of {', '.join(s.value for s in cls)}") from None


STATUS_TEXT = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.XFAIL: "KNOWN DIVERGENCE", Status.SKIP: "SKIP"}
