from __future__ import annotations

from producer.original import flatten


def test_flatten_nested_mappings_to_dotted_paths_in_order() -> None:
    nested = {"inputs": {"state": 1, "vlm": {"input_ids": 2, "mask": 3}}, "other": 4}
    assert list(flatten("", nested, {}).items()) == [
        ("inputs.state", 1),
        ("inputs.vlm.input_ids", 2),
        ("inputs.vlm.mask", 3),
        ("other", 4),
    ]
