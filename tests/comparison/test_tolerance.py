"""Tolerance knob parsing: strict, injected-environment, never a silent default."""

from __future__ import annotations

import pytest

from comparison.tolerance import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    DEFAULT_SCALE,
    ENV_ATOL,
    ENV_EQUAL_NAN,
    ENV_RTOL,
    ENV_SCALE,
    ENV_TOL,
    KNOBS,
    Tolerance,
    ToleranceConfig,
    ToleranceConfigError,
    fmt_float,
    knobs_help,
    tolerance_from_env,
)


def test_defaults_when_unset_or_empty() -> None:
    for env in ({}, {ENV_ATOL: "", ENV_RTOL: "  ", ENV_TOL: ""}):
        cfg = tolerance_from_env(env)
        assert (
            cfg.default
            == Tolerance(DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_SCALE["float32"])
            == Tolerance(1e-3, 1e-3, 1e-4)
        )
        assert not cfg.equal_nan
        assert dict(cfg.overrides) == {}


def test_atol_rtol_parsed() -> None:
    cfg = tolerance_from_env({ENV_ATOL: "1e-5", ENV_RTOL: " 0 "})
    assert cfg.default == Tolerance(1e-5, 0.0, 1e-4)


@pytest.mark.parametrize("knob", [ENV_ATOL, ENV_RTOL])
@pytest.mark.parametrize("text", ["abc", "-1", "nan", "inf", "-inf", "1e-3:0", "1,2"])
def test_malformed_scalar_knob_raises(knob: str, text: str) -> None:
    with pytest.raises(ToleranceConfigError) as info:
        tolerance_from_env({knob: text})
    msg = str(info.value)
    assert knob in msg and repr(text) in msg and "finite float >= 0" in msg
    assert isinstance(info.value, ValueError)


def test_overrides_parsed_with_whitespace() -> None:
    cfg = tolerance_from_env({ENV_TOL: " state = 1e-6 : 0 , pixel_values=0:0"})
    assert dict(cfg.overrides) == {"state": Tolerance(1e-6, 0.0, 1e-4), "pixel_values": Tolerance(0.0, 0.0, 1e-4)}


@pytest.mark.parametrize("text", ["state=1:2,", ",state=1:2", "state=1:2,,", " , state=1:2 , "])
def test_empty_entries_are_ignored(text: str) -> None:
    """Decision: empty entries (e.g. from shell concatenation) are harmless, so they are skipped."""
    assert dict(tolerance_from_env({ENV_TOL: text}).overrides) == {"state": Tolerance(1.0, 2.0, 1e-4)}


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("state=1e-3", "state=1e-3"),
        ("state=a:b", "'a'"),
        ("=1:1", "=1:1"),
        ("state", "state"),
        ("state=1:2:3:4", "state=1:2:3:4"),
        ("state=1:2:x", "'x'"),
        ("state=1:2:-1", "'-1'"),
        ("state=:1", "''"),
        ("state=1:", "''"),
        ("state=-1:0", "'-1'"),
        ("state=nan:0", "'nan'"),
        ("state=0:inf", "'inf'"),
        ("a b=1:1", "a b=1:1"),
        ("ok=1:1,state=1e-3", "state=1e-3"),
        ("state=1:1,state=2:2", "'state' given twice"),
    ],
)
def test_malformed_tol_raises(text: str, entry: str) -> None:
    with pytest.raises(ToleranceConfigError) as info:
        tolerance_from_env({ENV_TOL: text})
    msg = str(info.value)
    assert ENV_TOL in msg and entry in msg and repr(text) in msg
    assert "name=ATOL:RTOL" in msg


def test_for_tensor_short_and_full_name_full_wins() -> None:
    cfg = tolerance_from_env({ENV_TOL: "state=1e-6:0,inputs.state=0:0", ENV_ATOL: "0.5"})
    assert cfg.for_tensor("inputs.state") == Tolerance(0.0, 0.0, 1e-4)
    assert cfg.for_tensor("raw.state") == Tolerance(1e-6, 0.0, 1e-4)
    assert cfg.for_tensor("state") == Tolerance(1e-6, 0.0, 1e-4)
    assert cfg.for_tensor("inputs.state_mask") == Tolerance(0.5, 1e-3, 1e-4)
    assert cfg.for_tensor("action_pred") == cfg.default


def test_describe_and_fmt_float() -> None:
    assert tolerance_from_env({}).describe() == "atol=1e-03 rtol=1e-03 scale=1e-04"
    cfg = tolerance_from_env({ENV_TOL: "state=1e-6:0,pixel_values=2.5e-4:0:off", ENV_EQUAL_NAN: "1"})
    assert cfg.describe() == (
        "atol=1e-03 rtol=1e-03 scale=1e-04 equal_nan; overrides: state=1e-06:0:1e-04,pixel_values=2.5e-04:0"
    )
    assert "\n" not in cfg.describe()
    assert [fmt_float(x) for x in (0.0, 1e-3, 12.0)] == ["0", "1e-03", "1.2e+01"]


def test_config_is_frozen_hashable_and_read_only() -> None:
    source = {"state": Tolerance(0.0, 0.0)}
    cfg = ToleranceConfig(Tolerance(1.0, 1.0), source)
    source["other"] = Tolerance(1.0, 1.0)  # later mutation of the input must not leak in
    assert "other" not in cfg.overrides
    with pytest.raises(TypeError):
        cfg.overrides["x"] = Tolerance(0.0, 0.0)  # type: ignore[index]
    assert hash(cfg) == hash(ToleranceConfig(Tolerance(1.0, 1.0), {"state": Tolerance(0.0, 0.0)}))
    assert cfg == ToleranceConfig(Tolerance(1.0, 1.0), {"state": Tolerance(0.0, 0.0)})


@pytest.mark.parametrize(("atol", "rtol"), [(-1.0, 0.0), (0.0, float("nan")), (float("inf"), 0.0)])
def test_tolerance_validates_directly(atol: float, rtol: float) -> None:
    with pytest.raises(ValueError):
        Tolerance(atol, rtol)


def test_none_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ATOL, "0.25")
    monkeypatch.delenv(ENV_RTOL, raising=False)
    for knob in (ENV_TOL, ENV_SCALE, ENV_EQUAL_NAN):
        monkeypatch.delenv(knob, raising=False)
    assert tolerance_from_env().default == Tolerance(0.25, DEFAULT_RTOL, 1e-4)


def test_knob_docs_cover_every_knob() -> None:
    assert set(KNOBS) == {ENV_ATOL, ENV_RTOL, ENV_SCALE, ENV_TOL, ENV_EQUAL_NAN}
    text = knobs_help()
    assert all(knob in text and desc in text for knob, desc in KNOBS.items())
    assert "name=ATOL:RTOL" in KNOBS[ENV_TOL]


def test_scale_tolerance_tiers_knob_and_per_tensor_override() -> None:
    assert tolerance_from_env({}, "bfloat16").default == Tolerance(1e-3, 1e-3, 5e-2)
    assert tolerance_from_env({ENV_SCALE: "1e-6"}, "bfloat16").default.scale == 1e-6
    assert tolerance_from_env({ENV_SCALE: " OFF "}).default.scale is None
    cfg = tolerance_from_env({ENV_TOL: "velocity=0:0:1e-2,state=0:0:off,action_pred=1:1"}, "bfloat16")
    assert cfg.for_tensor("stage.04.step0.velocity") == Tolerance(0.0, 0.0, 1e-2)
    assert cfg.for_tensor("state").scale is None and cfg.for_tensor("action_pred").scale == 5e-2
    with pytest.raises(ToleranceConfigError, match=ENV_SCALE):
        tolerance_from_env({ENV_SCALE: "-1"})
    with pytest.raises(ToleranceConfigError, match="float16"):
        tolerance_from_env({}, "float16")


@pytest.mark.parametrize(("text", "value"), [("", False), ("0", False), ("false", False), ("1", True), ("True", True)])
def test_equal_nan_flag(text: str, value: bool) -> None:
    assert tolerance_from_env({ENV_EQUAL_NAN: text}).equal_nan is value


def test_equal_nan_flag_typo_is_an_error() -> None:
    with pytest.raises(ToleranceConfigError, match=ENV_EQUAL_NAN):
        tolerance_from_env({ENV_EQUAL_NAN: "ye"})


def test_unmatched_overrides_are_named() -> None:
    cfg = tolerance_from_env({ENV_TOL: "actoin_pred=0:0,state=1:1,stage.04.step0.velocity=1:1"})
    assert cfg.unmatched(["action_pred", "inputs.state", "stage.04.step0.velocity"]) == ["actoin_pred"]
    assert cfg.unmatched([]) == ["actoin_pred", "state", "stage.04.step0.velocity"]


@pytest.mark.parametrize("text", ["\u0661\u0660\u0660", "\uff11e-3", "1_0", "0x10", "1e-3\u200b"])
def test_only_ascii_numerals_are_read(text: str) -> None:
    """float() reads Arabic-Indic and full-width digits and underscores (issue 25): a knob must not."""
    for env in ({ENV_ATOL: text}, {ENV_SCALE: text}, {ENV_TOL: f"state=0:{text}"}):
        with pytest.raises(ToleranceConfigError, match="not a number in ASCII digits"):
            tolerance_from_env(env)
    assert tolerance_from_env({ENV_ATOL: " +1.5E-3 "}).default.atol == 1.5e-3


@pytest.mark.parametrize(
    ("env", "blind"),
    [
        ({ENV_ATOL: "1e300", ENV_SCALE: "off"}, "atol=1e+300 with the scale criterion off"),
        ({ENV_RTOL: "1", ENV_SCALE: "off"}, "rtol=1e+00 with the scale criterion off"),
        ({ENV_SCALE: "2"}, "scale=2e+00 >= 1 passes an all-zero output"),
        ({ENV_TOL: "action_pred=5:0:off"}, "GROOT_PARITY_TOL entry action_pred: atol=5e+00"),
    ],
)
def test_a_knob_that_makes_a_check_blind_is_named(env: dict[str, str], blind: str) -> None:
    from comparison.tolerance_blindness import blind_spots

    (line,) = blind_spots(tolerance_from_env(env))
    assert blind in line and "blind" in line


def test_strict_or_merely_loose_knobs_are_not_called_blind() -> None:
    from comparison.tolerance_blindness import blind_spots

    for env in ({}, {ENV_ATOL: "1e300"}, {ENV_ATOL: "0.5", ENV_SCALE: "off"}, {ENV_SCALE: "0.5"}):
        assert blind_spots(tolerance_from_env(env)) == [], env
