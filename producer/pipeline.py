"""Produce: every (image size, tag) job of one checkpoint, from raw observations to written artifacts.

Driven by a typed :class:`ProduceOptions` that the command line (``producer.cli``) and the plan runner
(``producer.plan``) both build; it prints progress, never parses arguments and never exits. One job
failing (its inputs, its inference, its write) is that job's outcome; the others go on.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from parity_format.codecs import DEFAULT_COMPRESSION
from producer.input_variations import InputVariation

if TYPE_CHECKING:
    from parity_format.artifact import Artifact, RawObservation
    from producer.original import OriginalGr00t, PreparedInputs
    from producer.user_path import OriginalUserPath, UserPathRun
    from producer.writing import BackgroundWriter, Written
    from sources.checkpoint import CheckpointRef


@dataclass(frozen=True)
class ProduceOptions:
    """What a produce run needs beyond the checkpoint and its tags; the CLI and plans build the same one."""

    out_dir: Path
    device: str | None = None  # None: cuda if torch sees one, else cpu
    seed: int = 42
    batch_size: int = 2
    probes: bool = False
    path_root: Path = Path()  # manifests record local paths relative to this directory
    compression: str = DEFAULT_COMPRESSION
    variation: InputVariation = field(default_factory=InputVariation)  # producer/input_variations.py
    episode: bool = False  # one seeded episode per tag (producer/episode.py) instead of artifacts
    training: bool = False  # also record one training step per tag (producer/training.py, issue 23)


@dataclass
class TagOutcome:
    tag: str
    size: str
    status: str  # "ok" | "FAILED"
    seconds: float
    detail: str


PREPARE_AHEAD = 2  # tags whose inputs are collated (and their compression started) while the model loads


@dataclass
class Job:
    """One artifact to produce: a tag at one camera-size combination."""

    index: int
    tag: str
    sizes: list[tuple[int, int]]  # per camera, in camera order (the last repeats)
    folder: str
    label: str
    rtc: bool = False  # record the real-time-chunking cases (producer/rtc.py) in this artifact


@dataclass
class Prepared:
    """A job's raw observation and the original's collated inputs, whose compression has started."""

    raw: RawObservation
    camera_sizes: dict[str, list[int]]  # camera -> [H, W]
    inputs: PreparedInputs
    seconds: float


def produce(
    options: ProduceOptions, ref: CheckpointRef, ckpt: Path, tags: list[str], sizes: list[list[tuple[int, int]]]
) -> list[TagOutcome]:
    """Every (size, tag) job, in order: prepare the inputs, run the original, hand the artifact to the writer.

    WHY this order (issue 15; docs/performance.md):

    - the checkpoint is hashed in a thread from the start (:func:`fingerprint_in_background`):
      sha256 and file reads release the GIL, so the fingerprint (seconds for a multi-GB checkpoint) runs beside the
      imports and the model load; it is waited for after the load, before the first inference;
    - the first :data:`PREPARE_AHEAD` jobs are prepared before the model loads: their inputs need
      only the processor, so their ``pixel_values`` (the largest member) compress beside the load
      rather than beside their own, short, inference.
    """
    from parity_format.naming import artifact_filename
    from parity_format.stage_failures import STAGE_FAILURES
    from producer.observations import size_label
    from producer.original import OriginalGr00t, gr00t_installed, import_gr00t
    from producer.user_path import OriginalUserPath
    from producer.writing import BackgroundWriter
    from sources.checkpoint_statistics import read_statistics
    from sources.resident_memory import return_free_heap
    from torch_hooks.cuda_settings import cuda_determinism

    if not gr00t_installed():
        import_gr00t()  # the install hint, before hashing a multi-GB checkpoint
    jobs = []
    for position, hw_list, tag in ((i, size, tag) for i, size in enumerate(sizes) for tag in tags):
        folder = options.variation.folder(size_label(hw_list), options.probes)
        label = f"[{len(jobs) + 1}/{len(sizes) * len(tags)}] {tag} @ {folder}"
        # RTC cases act on the action head only: once per tag (the first size), not for probes
        rtc = position == 0 and not options.probes
        jobs.append(Job(len(jobs) + 1, tag, hw_list, folder, label, rtc))
    outcomes: dict[int, TagOutcome] = {}
    writes: list[PendingWrite] = []  # submission order; reported as they finish
    fingerprints = fingerprint_in_background(ckpt)
    import torch

    import_gr00t()
    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = cuda_determinism(device)  # before the model touches the GPU
    print(f"checkpoint {ckpt}", flush=True)
    with BackgroundWriter(options.compression) as writer:
        started = time.perf_counter()
        original = OriginalGr00t(ckpt, device)  # the processor; the model loads below
        loading = time.perf_counter() - started
        prepare = partial(prepare_job, options, ckpt, read_statistics(ckpt), original, writer)
        ahead = {job.index: prepare(job) for job in jobs[:PREPARE_AHEAD]}
        started = time.perf_counter()
        original.load_model()
        loading += time.perf_counter() - started
        print(
            f"loaded original GR00T N1.7 once ({device}, float32, {original.attention}) in {loading:.1f}s", flush=True
        )
        started = time.perf_counter()
        whole_files, content = fingerprints.result()
        waited = time.perf_counter() - started
        if waited >= 1.0:
            print(f"checkpoint fingerprint: waited {waited:.1f}s for it after the load", flush=True)
        meta = run_provenance(options, ref, ckpt, (whole_files, content), original, device, cuda)
        meta["embodiment_ids"] = original.embodiment_ids()
        user_path = OriginalUserPath(original)
        # phase 1, the float32 model: every job's inference, decode, float32/float64 user path, RTC, training
        float32_done: list[tuple[Job, Prepared, FirstPhase, float]] = []
        for job in jobs:
            print(f"{job.label} ...", end=" ", flush=True)
            prepared = ahead.pop(job.index) if job.index in ahead else prepare(job)
            t0 = time.perf_counter()
            try:
                if isinstance(prepared, Exception):
                    raise prepared
                first = run_job(options, original, meta, job, prepared, user_path)
                return_free_heap()  # the step's freed activations, before the next tag (sources/resident_memory.py)
                ran = prepared.seconds + time.perf_counter() - t0
                float32_done.append((job, prepared, first, ran))
                print(f"float32 ran {ran:.1f}s", flush=True)
            except Exception as exc:  # one tag failing must not stop the others; reported and exit != 0
                if isinstance(prepared, Prepared):
                    writer.discard(prepared.inputs.inputs.values())
                outcomes[job.index] = tag_failed(job.tag, job.folder, t0, exc)
                print(f"FAILED {outcomes[job.index].detail}", flush=True)
        # phase 2, the policy as shipped: its own load, once the float32 model is freed
        user_path.release_exact()
        original.release_model()
        return_free_heap()
        if float32_done:
            print("float32 work done: released the float32 model; the as-shipped Gr00tPolicy loads next", flush=True)
        for job, prepared, first, ran in float32_done:
            print(f"{job.label} as shipped ...", end=" ", flush=True)
            t0 = time.perf_counter()
            try:
                artifact = finish_job(first, job, prepared, user_path)
                ran += time.perf_counter() - t0
                print(f"ran {time.perf_counter() - t0:.1f}s, writing", flush=True)
                for stage, error in artifact.provenance.get(STAGE_FAILURES, {}).items():
                    print(f"{job.label}: optional stage {stage} failed (recorded in the artifact): {error}", flush=True)
                future = writer.submit(artifact, options.out_dir / job.folder / artifact_filename(job.tag))
                shape = tuple(artifact.action_pred.shape)
                writes.append(PendingWrite(job.index, job.label, job.tag, job.folder, t0, ran, shape, future))
            except Exception as exc:  # one tag failing must not stop the others; reported and exit != 0
                writer.discard(prepared.inputs.inputs.values())
                outcomes[job.index] = tag_failed(job.tag, job.folder, t0, exc)
                print(f"FAILED {outcomes[job.index].detail}", flush=True)
            report_writes(writes, outcomes, wait=False)
        report_writes(writes, outcomes, wait=True)
    return [outcomes[i] for i in sorted(outcomes)]


def run_provenance(
    options: ProduceOptions,
    ref: CheckpointRef,
    ckpt: Path,
    fingerprints: tuple[str, dict],
    original: OriginalGr00t,
    device: str,
    cuda: dict | None,
) -> dict:
    """The manifest's provenance shared by every artifact of one run (per-tag artifacts and episodes)."""
    from producer.provenance import provenance, publishable_argv, publishable_checkpoint

    whole_files, content = fingerprints
    checkpoint = {
        # whole files: what older consumers compare; then what determines the numbers (survives relocation)
        **publishable_checkpoint(ref.to_dict(), ckpt, whole_files, options.path_root),
        "content_fingerprint": content,
    }
    return provenance(
        device=device,
        attention=original.attention,
        checkpoint=checkpoint,
        argv=publishable_argv(sys.argv, options.path_root),
        cuda=cuda,
    )


def fingerprint_in_background(ckpt: Path) -> Future[tuple[str, dict]]:
    """(whole-file sha256, content fingerprint) of the checkpoint, computed in a daemon thread.

    A daemon, so that a run that fails before it needs the result (a broken gr00t install, a model
    that does not load, Ctrl-C) exits at once instead of finishing a multi-GB hash first.
    """
    from sources.checkpoint import checkpoint_fingerprint, content_fingerprint

    future: Future[tuple[str, dict]] = Future()

    def work() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result((checkpoint_fingerprint(ckpt), content_fingerprint(ckpt)))
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=work, name="fingerprint", daemon=True).start()
    return future


def prepare_job(
    options: ProduceOptions, ckpt: Path, statistics: dict, original: OriginalGr00t, writer: BackgroundWriter, job: Job
) -> Prepared | Exception:
    """Build the job's raw observation, collate it with the original's processor, start compressing it.

    An exception is returned, not raised: the job fails at its turn, and the other jobs go on.
    """
    from producer.embodiments import embodiment_spec
    from producer.input_variations import store_cameras_in_order
    from producer.observations import build_observation, camera_sizes
    from sources.checkpoint_statistics import STATISTICS_FILE, tag_statistics

    t0 = time.perf_counter()
    try:
        spec = embodiment_spec(ckpt, job.tag)
        raw = build_observation(
            spec,
            tag_statistics(statistics, job.tag, ckpt / STATISTICS_FILE)["state"],  # validated: names file and key
            batch_size=batch_size(options),
            image_hw=job.sizes,
            seed=options.seed,
            probes=options.probes,
            video_steps=options.variation.video_steps,
        )
        raw = store_cameras_in_order(raw, options.variation.camera_order)
        cameras = {cam: list(hw) for cam, hw in camera_sizes(spec.cameras, job.sizes).items()}
        inputs = original.prepare(job.tag, raw)
    except Exception as exc:  # reported at the job's turn, in order
        return exc
    writer.prefetch(inputs.inputs.values())  # only starts work in threads; their errors surface at the write
    return Prepared(raw, cameras, inputs, time.perf_counter() - t0)


def batch_size(options: ProduceOptions) -> int:
    from producer.observations import PROBES

    return max(options.batch_size, len(PROBES)) if options.probes else options.batch_size


@dataclass
class FirstPhase:
    """A job's artifact without its as-shipped members, and what the second phase needs to add them."""

    artifact: Artifact
    noise: object  # the recorded flow-matching noise (np.ndarray), None when the original recorded none
    exact: UserPathRun | None  # the float32/float64 user path; None when it failed (recorded in the artifact)


def run_job(
    options: ProduceOptions,
    original: OriginalGr00t,
    meta: dict,
    job: Job,
    prepared: Prepared,
    user_path: OriginalUserPath,
) -> FirstPhase:
    """Phase 1 (the float32 model): ``get_action`` on the prepared inputs, the decoded actions, the user path's
    float32 and float64 precisions (from the same noise), RTC and training; the artifact without its
    as-shipped members, which :func:`finish_job` adds once the float32 model is freed."""
    from parity_format.artifact import Artifact
    from parity_format.rtc_members import NOT_RECORDED, RTC_PROVENANCE
    from parity_format.stage_failures import STAGE_FAILURES, USER_PATH
    from parity_format.training_members import MANIFEST_KEY
    from producer.decode import decode_outputs
    from producer.observations import PROBES
    from producer.rtc import rtc_for_artifact
    from torch_hooks.noise_draw import NOISE_MEMBER

    raw = prepared.raw
    recorded = options.variation.provenance()
    if options.variation.video_steps is not None:  # what a caller of the original's policy gets for these frames
        recorded["original_policy"] = original.policy_verdict(job.tag, raw)
    # the RTC cases feed the backbone what get_action fed it: one pass (torch_hooks/forward_memo.py)
    with original.remembered_backbone() as memo:
        result = original.infer(prepared.inputs, options.seed)
        failures: dict[str, str] = {}  # optional stages that failed: recorded, the tag goes on (issue 25)
        decode = decode_outputs(original.processor, job.tag, result.action_pred, raw.state, options.seed, failures)
        noise = result.outputs.get(NOISE_MEMBER)
        exact: UserPathRun | None = None
        try:
            exact = user_path.run_exact(job.tag, raw, prepared.inputs, noise)
        except Exception as exc:  # an optional stage: recorded, and the policy check FAILs naming it
            debug_traceback(exc)
            failures[USER_PATH] = f"{type(exc).__name__}: {exc}"
        batch = len(raw.language)
        if job.rtc:
            rtc, rtc_record = rtc_for_artifact(original, prepared.inputs, result, decode, job.tag)
        else:  # said in the artifact, so the consumer's skip names the reason
            rtc, rtc_record = (
                {},
                {
                    NOT_RECORDED: "real-time-chunking cases are recorded once per tag per run, in the "
                    "first --image-size's artifact, and not for probes"
                },
            )
    print(f"backbone {memo.summary}", end="; ", flush=True)
    training: dict = {}
    if options.training:
        from producer.training import record_training
        from sources.checkpoint import read_json

        statistics = read_json(original.ckpt / "statistics.json")
        train_outputs, training = record_training(original, job.tag, raw, statistics, options.seed)
        decode = {**decode, **train_outputs}
    artifact = Artifact(
        embodiment_tag=job.tag,
        seed=options.seed,
        action_pred=result.action_pred,
        inputs=result.inputs,
        input_torch_dtypes=result.input_torch_dtypes,
        raw=raw,
        outputs={**result.outputs, **decode, **rtc},
        provenance={
            **meta,
            "image_size": list(job.sizes[0]),
            "camera_image_sizes": prepared.camera_sizes,
            "batch_size": batch,
            "probes": [PROBES[i % len(PROBES)] for i in range(batch)] if options.probes else None,
            **({STAGE_FAILURES: failures} if failures else {}),
            **recorded,
            RTC_PROVENANCE: rtc_record,
            **({MANIFEST_KEY: training} if training else {}),
        },
    )
    return FirstPhase(artifact, noise, exact)


def finish_job(first: FirstPhase, job: Job, prepared: Prepared, user_path: OriginalUserPath) -> Artifact:
    """Phase 2: the as-shipped ``Gr00tPolicy`` run joined with the first phase's user path, into the artifact."""
    from parity_format.stage_failures import STAGE_FAILURES, USER_PATH
    from parity_format.user_path_members import PROVENANCE_KEY

    artifact = first.artifact
    if first.exact is None:  # the first phase recorded the user path's failure: nothing to join
        return artifact
    try:
        shipped = user_path.run_shipped(job.tag, prepared.raw, first.noise)  # type: ignore[arg-type]
    except Exception as exc:  # an optional stage: recorded, and the policy check FAILs naming it
        debug_traceback(exc)
        artifact.provenance[STAGE_FAILURES] = {
            **artifact.provenance.get(STAGE_FAILURES, {}),
            USER_PATH: f"{type(exc).__name__}: {exc}",
        }
        return artifact
    user = user_path.combine(shipped, first.exact)
    artifact.outputs.update(user.outputs)
    artifact.provenance[PROVENANCE_KEY] = user.provenance
    return artifact


@dataclass
class PendingWrite:
    index: int
    label: str
    tag: str
    folder: str
    started: float
    ran_seconds: float  # inference, decode and assembly, before the artifact went to the writer
    action_shape: tuple[int, ...]
    future: Future[Written]


def report_writes(writes: list[PendingWrite], outcomes: dict[int, TagOutcome], *, wait: bool) -> None:
    """Print and record finished writes, in submission order; ``wait`` blocks until all are done."""
    while writes and (wait or writes[0].future.done()):
        w = writes.pop(0)
        try:
            written = w.future.result()
        except Exception as exc:  # a write failing is that tag's failure, like a failing inference
            outcomes[w.index] = tag_failed(w.tag, w.folder, w.started, exc)
            print(f"{w.label} FAILED writing: {outcomes[w.index].detail}", flush=True)
            continue
        detail = f"action_pred {w.action_shape} -> {written.path} ({written.bytes / 1e3:.0f} kB)"
        outcomes[w.index] = TagOutcome(w.tag, w.folder, "ok", w.ran_seconds + written.seconds, detail)
        print(f"{w.label} ok, written in {written.seconds:.1f}s: {detail}", flush=True)


def debug_traceback(exc: BaseException) -> None:
    """The full traceback on stderr when GROOT_PARITY_DEBUG is set; errors are one line otherwise."""
    if os.environ.get("GROOT_PARITY_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        traceback.print_exception(type(exc), exc, exc.__traceback__)


def tag_failed(tag: str, folder: str, started: float, exc: Exception) -> TagOutcome:
    debug_traceback(exc)
    return TagOutcome(tag, folder, "FAILED", time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
