"""GROOT_N1_7_PARITY_DIR=hf://datasets/...: artifacts fetched into a Hugging Face cache replay like local ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.session import ParitySession, discover
from consumer.settings import SettingsError, settings_from_env

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden"

REPO_ID = "acme/groot-parity-artifacts"
COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The golden fixtures as a published revision in an offline cache, laid out as huggingface_hub keeps it."""
    storage = tmp_path / "hf-cache" / f"datasets--{REPO_ID.replace('/', '--')}"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(COMMIT)
    snapshot = storage / "snapshots" / COMMIT
    for source in GOLDEN.rglob("*.npz"):
        target = snapshot / "tiny" / source.relative_to(GOLDEN)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return snapshot


def test_hub_spelling_resolves_to_the_cached_revision_and_replays(hub_cache: Path, session: ParitySession) -> None:
    settings = settings_from_env({"GROOT_N1_7_PARITY_DIR": f"hf://datasets/{REPO_ID}@main/tiny"})
    assert settings.artifact_dir == hub_cache / "tiny"
    cases = discover(settings.artifact_dir)
    assert sorted(c.case_id for c in cases) == sorted(c.case_id for c in discover(GOLDEN))
    case = next(c for c in cases if c.case_id == "256x256-libero_sim")
    result = session.run(case, "model")
    assert result.status == "pass", result.message


def test_missing_revision_offline_is_a_settings_error_naming_make_fetch(hub_cache: Path) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from_env({"GROOT_N1_7_PARITY_DIR": f"hf://datasets/{REPO_ID}@v9"})
    assert f"GROOT_N1_7_PARITY_DIR: hf://datasets/{REPO_ID}@v9 is not in the Hugging Face cache" in str(info.value)
    assert f"make fetch REPO={REPO_ID} REVISION=v9" in str(info.value)


def test_consume_table_accepts_the_hub_spelling(hub_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from consumer.cli import main

    assert main(["--dir", f"hf://datasets/{REPO_ID}@v9"]) == 2
    assert f"make fetch REPO={REPO_ID} REVISION=v9" in capsys.readouterr().err
