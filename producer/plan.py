"""A produce plan: many checkpoints in one command, one output folder each, one summary across them.

A plan is a TOML file (``make produce PLAN=plans/example.toml``; ``plans/example.toml`` documents every key)::

    [defaults]                      # optional; every key below may also be set per checkpoint
    image_sizes = ["256x256", "240x320"]
    seed = 42
    batch_size = 2
    tags = []                       # empty: every tag the checkpoint has

    [[checkpoint]]
    name = "libero_10"              # output folder OUT/<name>/ (default: subfolder, else the spec's last part)
    ckpt = "nvidia/GR00T-N1.7-LIBERO"   # Hub repo id, or a local directory (relative to the working directory)
    revision = "<commit>"           # Hub only
    subfolder = "libero_10"         # Hub only
    tags = ["libero_sim"]

Precedence: a checkpoint's own key, then ``[defaults]``, then the command line (``--seed``, ``--batch-size``,
``--image-size``, ``--tags``). Unknown keys are errors, so a typo never silently falls back to a default.
Each checkpoint is loaded once for all its tags and sizes; a checkpoint or a tag that fails is reported
in the summary and never stops the others.

Parsed with ``tomllib`` (Python 3.11+) or ``tomli`` (the producer env's Python 3.10 has it, via pytest).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from producer.arguments import ArgumentProblem, validate_run_options

if TYPE_CHECKING:
    from producer.pipeline import ProduceOptions, TagOutcome

ENTRY_KEYS = (
    "name",
    "ckpt",
    "revision",
    "subfolder",
    "allow_patterns",
    "tags",
    "image_sizes",
    "seed",
    "batch_size",
    "episode",
)
DEFAULT_KEYS = ("tags", "image_sizes", "seed", "batch_size", "episode")
PLAN_SPELLING = {"seed": "seed", "batch_size": "batch_size", "image_sizes": "image_sizes"}
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class PlanError(ValueError):
    """A plan file that cannot be run as written; the message names the file and the entry."""


@dataclass(frozen=True)
class PlanEntry:
    name: str
    ckpt: str
    revision: str | None
    subfolder: str | None
    allow_patterns: list[str] | None
    tags: list[str]
    image_sizes: list[str]
    seed: int
    batch_size: int
    episode: bool = False  # also one seeded episode per tag (producer/episode.py) into <name>/episode/


@dataclass
class CheckpointOutcome:
    entry: PlanEntry
    status: str  # "ok" | "FAILED" (some tag failed) | "NOT RUN" (the checkpoint itself failed)
    written: int = 0
    failed: int = 0
    seconds: float = 0.0
    detail: str = ""
    tags: list[TagOutcome] = field(default_factory=list)


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        try:
            import tomli as tomllib
        except ImportError as exc:  # pragma: no cover - the producer env has it
            raise PlanError("reading a TOML plan on Python 3.10 needs the `tomli` package") from exc
    return tomllib.loads(text)


def load_plan(path: Path, defaults: dict[str, Any]) -> list[PlanEntry]:
    """Parse and validate ``path``; ``defaults`` are the command line's values (lowest precedence)."""
    try:
        data = _toml_loads(path.read_text())
    except OSError as exc:
        raise PlanError(f"plan {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise PlanError(f"plan {path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"defaults", "checkpoint"})
    if unknown:
        raise PlanError(f"plan {path}: unknown top-level key(s) {unknown}; expected [defaults] and [[checkpoint]]")
    plan_defaults = data.get("defaults", {})
    _check_keys(path, "[defaults]", plan_defaults, DEFAULT_KEYS)
    raw_entries = data.get("checkpoint", [])
    if not isinstance(raw_entries, list) or not raw_entries:
        raise PlanError(f"plan {path}: no [[checkpoint]] entries")
    entries = [_entry(path, i, raw, {**defaults, **plan_defaults}) for i, raw in enumerate(raw_entries, start=1)]
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PlanError(f"plan {path}: output folder name(s) {duplicates} used twice; give each entry a distinct name")
    return entries


def _check_keys(path: Path, where: str, table: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(table, dict):
        raise PlanError(f"plan {path}: {where} must be a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise PlanError(f"plan {path}: {where}: unknown key(s) {unknown}; allowed: {', '.join(allowed)}")


def _entry(path: Path, index: int, raw: Any, defaults: dict[str, Any]) -> PlanEntry:
    where = f"checkpoint #{index}"
    _check_keys(path, where, raw, ENTRY_KEYS)
    merged = {**defaults, **raw}

    def fail(message: str) -> PlanError:
        return PlanError(f"plan {path}: {where}: {message}")

    def text(key: str, required: bool = False) -> str | None:
        value = merged.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{key} must be a non-empty string")
        return value.strip()

    def texts(key: str) -> list[str]:
        value = merged.get(key, [])
        if isinstance(value, str):  # the command line's comma-separated spelling
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail(f"{key} must be a list of strings")
        return [v.strip() for v in value]

    def boolean(key: str) -> bool:
        value = merged.get(key, False)
        if not isinstance(value, bool):
            raise fail(f"{key} must be true or false")
        return value

    ckpt = text("ckpt", required=True)
    assert ckpt is not None
    subfolder = text("subfolder")
    name = text("name") or (subfolder or ckpt).rstrip("/").split("/")[-1]
    if not _SAFE_NAME.fullmatch(name):
        raise fail(f"name {name!r} is not a plain folder name (letters, digits, '.', '_', '-')")
    sizes = texts("image_sizes")
    try:  # the command line's own checks, so a plan can never ask for what --seed/--batch-size/--image-size refuse
        validate_run_options(merged.get("seed"), merged.get("batch_size"), sizes, PLAN_SPELLING)
    except ArgumentProblem as exc:
        raise fail(str(exc)) from exc
    return PlanEntry(
        name=name,
        ckpt=ckpt,
        revision=text("revision"),
        subfolder=subfolder,
        allow_patterns=texts("allow_patterns") or None,
        tags=texts("tags"),
        image_sizes=sizes,
        seed=merged["seed"],
        batch_size=merged["batch_size"],
        episode=boolean("episode"),
    )


def run_plan(entries: list[PlanEntry], options: ProduceOptions) -> list[CheckpointOutcome]:
    """Produce every entry into ``options.out_dir/<name>/``; nothing an entry does stops the next one.

    ``options`` carries what the command line sets for every checkpoint (device, path root, compression);
    each entry replaces the output folder, seed and batch size. Raises Gr00tUnavailable (nothing can run
    without the original) before touching any checkpoint.
    """
    import time
    from dataclasses import replace

    from producer.observations import parse_camera_sizes
    from producer.original import import_gr00t
    from producer.pipeline import produce
    from producer.preflight import PreflightError, resolve_target
    from sources.checkpoint import CheckpointRef

    import_gr00t()
    outcomes = []
    for index, entry in enumerate(entries, start=1):
        print(f"\n=== [{index}/{len(entries)}] {entry.name}: {entry.ckpt} ===", flush=True)
        started = time.perf_counter()
        outcome = CheckpointOutcome(entry, "NOT RUN")
        try:
            sizes = [parse_camera_sizes(s) for s in entry.image_sizes]
            ref = CheckpointRef(entry.ckpt, entry.revision, entry.subfolder)
            ckpt, tags = resolve_target(ref, entry.allow_patterns, entry.tags)
            entry_options = replace(
                options,
                out_dir=options.out_dir / entry.name,
                seed=entry.seed,
                batch_size=entry.batch_size,
                probes=False,
            )
            outcome.tags = produce(entry_options, ref, ckpt, tags, sizes)
            if entry.episode:
                from producer.episode import produce_episodes

                outcome.tags += produce_episodes(entry_options, ref, ckpt, tags)
        except (ValueError, PreflightError) as exc:
            outcome.detail = str(exc)
        except Exception as exc:  # loading this checkpoint failed: report it, go on with the next one
            outcome.detail = f"{type(exc).__name__}: {exc}"
        outcome.seconds = time.perf_counter() - started
        outcome.written = sum(t.status == "ok" for t in outcome.tags)
        outcome.failed = len(outcome.tags) - outcome.written
        if outcome.tags:
            outcome.status = "ok" if not outcome.failed else "FAILED"
            outcome.detail = str(options.out_dir / entry.name)
        if outcome.status == "NOT RUN":
            print(f"NOT RUN: {outcome.detail}", flush=True)
        outcomes.append(outcome)
    return outcomes


def print_plan_summary(outcomes: list[CheckpointOutcome]) -> None:
    """One row per checkpoint, then every failed tag: what a person reads after a long run."""
    width = max([len(o.entry.name) for o in outcomes] + [10])
    print(f"\n{'checkpoint':<{width}}  {'result':<7}  {'written':>7}  {'failed':>6}  {'time':>7}  detail")
    for o in outcomes:
        print(f"{o.entry.name:<{width}}  {o.status:<7}  {o.written:>7}  {o.failed:>6}  {o.seconds:>6.1f}s  {o.detail}")
    for o in outcomes:
        for t in o.tags:
            if t.status != "ok":
                print(f"FAILED {o.entry.name} {t.tag} @ {t.size}: {t.detail}")
    not_run = sum(o.status == "NOT RUN" for o in outcomes)
    written = sum(o.written for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    print(f"\nplan: {len(outcomes)} checkpoint(s), {not_run} not run; {written} artifact(s) written, {failed} failed")
