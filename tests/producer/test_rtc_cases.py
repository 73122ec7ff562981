"""The RTC cases the producer builds from a chunk: the option edges the issue asks for, and the original's
options for each LeRobot-user leftover (no gr00t needed: the cases are numpy)."""

from __future__ import annotations

import numpy as np

from producer.rtc import conversion_cases, model_cases

HORIZON, DIM, ACTION_DIM = 16, 16, 7


def chunk() -> np.ndarray:
    return np.arange(2 * HORIZON * DIM, dtype=np.float32).reshape(2, HORIZON, DIM) + 1


def test_model_cases_cover_the_option_edges() -> None:
    cases = {c.case.name: c for c in model_cases(chunk())}
    options = {name: c.case.options for name, c in cases.items()}
    assert options["frozen0"].frozen == 0
    assert options["frozen_eq_overlap"].frozen == options["frozen_eq_overlap"].overlap > 0
    assert options["full_horizon"].overlap == HORIZON
    assert options["ramp_rate"].ramp_rate != options["frozen0"].ramp_rate
    short = cases["short_prefix"]
    assert short.prefix.shape[1] == short.case.options.action_horizon < HORIZON
    padded = cases["zero_padded"]
    real = padded.case.options.action_horizon
    assert padded.prefix.shape[1] == HORIZON and not padded.prefix[:, real:].any() and padded.prefix[:, :real].all()
    # the overlapping rows are the previous chunk's not yet executed ones: rows H-overlap.. of the chunk
    frozen0 = cases["frozen0"]
    start = HORIZON - frozen0.case.options.overlap
    np.testing.assert_array_equal(frozen0.prefix[:, start:], chunk()[:, start:])


def test_conversion_cases_give_the_original_the_leftover_first_rows() -> None:
    cases = {c.case.name: c for c in conversion_cases(chunk(), ACTION_DIM)}
    for user in cases.values():
        options = user.case.original_options
        assert user.leftover.shape[2] == ACTION_DIM and user.prefix.shape[2] == DIM
        assert options.action_horizon == options.overlap == user.prefix.shape[1]
        assert options.frozen == min(user.case.inference_delay, options.overlap)
        np.testing.assert_array_equal(user.prefix[:, :, :ACTION_DIM], user.leftover[:, : options.overlap])
        assert not user.prefix[:, :, ACTION_DIM:].any()  # action dims zero-padded, as the processor pads
    padded = cases["padded_leftover"]
    assert padded.leftover.shape[1] == HORIZON and padded.case.real_rows < HORIZON
    tail = cases["beyond_execution_horizon"]
    assert tail.case.real_rows > tail.case.execution_horizon == tail.case.original_options.overlap
