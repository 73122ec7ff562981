"""The registry is the one list of checks: declared divergences must name a registered check."""

from __future__ import annotations

from dataclasses import replace

from consumer.checks import CHECKS, REGISTRY, unregistered_divergences
from consumer.known_divergences import KNOWN_DIVERGENCES
from consumer.parallel import merge_worker_results


def test_every_declared_divergence_names_a_registered_check() -> None:
    assert unregistered_divergences(KNOWN_DIVERGENCES) == []
    assert {d.check for d in KNOWN_DIVERGENCES} <= set(REGISTRY)


def test_a_typo_in_a_divergences_check_is_named() -> None:
    typo = replace(KNOWN_DIVERGENCES[0], check="preprocesor")
    assert unregistered_divergences((typo,)) == [f"{typo.name} (check 'preprocesor')"]


def test_worker_results_merge_in_the_registrys_check_order() -> None:
    parts = [[{"artifact": "a.npz", "check": c} for c in reversed(CHECKS)]]
    assert [r["check"] for r in merge_worker_results(parts)] == list(CHECKS)
