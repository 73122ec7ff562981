"""The RTC record in an artifact's provenance: round trip, what counts as absent, what is refused."""

from __future__ import annotations

import json

import pytest

from parity_format.rtc_members import (
    RTC_PROVENANCE,
    ConversionCase,
    ModelCase,
    RtcOptions,
    RtcRecordError,
    conversion_member,
    model_member,
    read_rtc_provenance,
    rtc_provenance,
)


def test_cases_round_trip_through_json() -> None:
    model = [ModelCase("frozen0", "none frozen", RtcOptions(16, 8, 0, 6.0))]
    conversion = [ConversionCase("tail", "long leftover", 2, 8, 12, RtcOptions(8, 8, 2, 6.0))]
    record = json.loads(json.dumps(rtc_provenance(model, conversion)))
    assert record["model_cases"][0]["options"] == {
        "action_horizon": 16,
        "rtc_overlap_steps": 8,
        "rtc_frozen_steps": 0,
        "rtc_ramp_rate": 6.0,
    }
    assert read_rtc_provenance({RTC_PROVENANCE: record}) == (model, conversion)


def test_no_record_is_none_and_a_malformed_one_is_refused() -> None:
    assert read_rtc_provenance({}) is None
    with pytest.raises(RtcRecordError, match="must be an object"):
        read_rtc_provenance({RTC_PROVENANCE: [1]})
    with pytest.raises(RtcRecordError, match=r"options \{\} are malformed.*action_horizon"):
        read_rtc_provenance({RTC_PROVENANCE: {"model_cases": [{"name": "a", "about": "", "options": {}}]}})


def test_regions_split_the_new_chunk_at_frozen_and_overlap() -> None:
    assert RtcOptions(16, 8, 2, 6.0).regions() == {"frozen": (0, 2), "ramp": (2, 8), "free": (8, -1)}


def test_member_names() -> None:
    assert model_member("frozen0", "prefix") == "rtc.frozen0.prefix"
    assert conversion_member("leftover", "action_pred") == "rtc_user.leftover.action_pred"


def test_an_artifact_written_without_cases_says_why() -> None:
    from parity_format.rtc_members import NOT_RECORDED, rtc_not_recorded

    provenance = {RTC_PROVENANCE: {NOT_RECORDED: "once per tag"}}
    assert rtc_not_recorded(provenance) == "once per tag" and read_rtc_provenance(provenance) is None
    assert rtc_not_recorded({}) is None
