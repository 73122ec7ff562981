"""A remembered forward runs once per distinct input, and never answers what it cannot see or must not skip."""

from __future__ import annotations

from collections import UserDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch_hooks.forward_memo import call_key, remembered_forward  # noqa: E402


class Backbone(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.inner = torch.nn.Linear(4, 4)

    def forward(self, inputs: UserDict, scale: float = 1.0) -> dict[str, torch.Tensor]:
        return {"features": self.inner(inputs["x"]) * scale}


def batch(value: float = 1.0) -> UserDict:
    return UserDict({"x": torch.full((2, 4), value)})


def test_a_repeat_is_answered_from_memory_and_a_change_runs() -> None:
    model = Backbone().eval()
    with torch.no_grad(), remembered_forward(model) as memo:
        first = model(batch())
        again = model(batch())
        other = model(batch(2.0))
        scaled = model(batch(), scale=3.0)
    assert (memo.calls, memo.runs) == (4, 3)
    assert torch.equal(first["features"], again["features"])
    assert not torch.equal(first["features"], other["features"])
    torch.testing.assert_close(scaled["features"], first["features"] * 3)
    assert memo.summary == "3 runs for 4 calls"


def test_an_answer_is_a_copy_an_in_place_edit_does_not_reach_the_memory() -> None:
    model = Backbone().eval()
    with torch.no_grad(), remembered_forward(model):
        first = model(batch())
        expected = first["features"].clone()
        first["features"].zero_()
        assert torch.equal(model(batch())["features"], expected)


def test_training_grad_mode_inner_hooks_and_unseen_objects_always_run() -> None:
    model = Backbone()
    with remembered_forward(model) as memo:
        model.eval()
        model(batch())
        model(batch())  # grad enabled: runs
        with torch.no_grad():
            model.train()
            model(batch())
            model(batch())  # train mode: runs
            model.eval()
            handle = model.inner.register_forward_hook(lambda *_: None)
            model(batch())
            model(batch())  # a hook inside: runs
            handle.remove()
    assert memo.runs == memo.calls == 6


def test_the_key_sees_dtype_shape_and_bytes_and_refuses_opaque_objects() -> None:
    base = call_key((torch.zeros(2, 2),), {})
    assert call_key((torch.zeros(2, 2),), {}) == base
    assert call_key((torch.zeros(2, 2, dtype=torch.float64),), {}) != base
    assert call_key((torch.zeros(4),), {}) != base
    assert call_key((np.zeros((2, 2), np.float32),), {}) != base
    with pytest.raises(TypeError):
        call_key((object(),), {})


def test_forward_is_restored_on_exit() -> None:
    model = Backbone().eval()
    with remembered_forward(model):
        assert "forward" in vars(model)
    assert "forward" not in vars(model)


class Reader(torch.nn.Module):
    """Reads two entries of its batch, as a GR00T backbone reads the VLM's inputs from the whole batch."""

    def __init__(self, optional: bool = False) -> None:
        super().__init__()
        self.optional = optional

    def forward(self, batch: UserDict) -> torch.Tensor:
        out = batch["x"] * 2
        if self.optional and "bias" in batch:
            out = out + batch["bias"]
        return out


def test_a_mapping_is_keyed_by_what_was_read_of_it() -> None:
    model = Reader().eval()
    with torch.no_grad(), remembered_forward(model) as memo:
        model(UserDict({"x": torch.ones(2), "action": torch.zeros(3)}))
        model(UserDict({"x": torch.ones(2), "action": torch.ones(3)}))  # unread entry differs: a hit
        changed = model(UserDict({"x": torch.full((2,), 5.0), "action": torch.ones(3)}))  # read entry: runs
        model(UserDict({"x": torch.ones(2), "state": torch.ones(3)}))  # other unread names: a hit
    assert (memo.calls, memo.runs) == (4, 2)
    assert torch.equal(changed, torch.full((2,), 10.0))


def test_a_tested_key_and_whole_mapping_reads_are_part_of_the_key() -> None:
    model = Reader(optional=True).eval()
    with torch.no_grad(), remembered_forward(model) as memo:
        first = model(UserDict({"x": torch.ones(2), "bias": torch.ones(2)}))
        other = model(UserDict({"x": torch.ones(2), "bias": torch.zeros(2)}))
        absent = model(UserDict({"x": torch.ones(2)}))  # the tested key absent: runs
        model(UserDict({"x": torch.ones(2), "other": torch.ones(2)}))  # absent again: a hit
    assert (memo.calls, memo.runs) == (4, 3) and not torch.equal(first, other)
    assert torch.equal(absent, torch.full((2,), 2.0))

    class Everything(torch.nn.Module):
        def forward(self, batch: dict) -> torch.Tensor:
            return sum(v.sum() for v in batch.values())

    model = Everything().eval()
    with torch.no_grad(), remembered_forward(model) as memo:
        a = model({"x": torch.ones(2), "y": torch.ones(1)})
        b = model({"x": torch.ones(2), "y": torch.zeros(1)})
    assert memo.runs == 2 and float(a) == 3.0 and float(b) == 2.0


class Batch(UserDict):
    """As transformers' BatchFeature: entries readable as attributes."""

    def __getattr__(self, item: str) -> torch.Tensor:
        try:
            return self.data[item]
        except KeyError as missing:
            raise AttributeError(item) from missing


def test_an_entry_read_as_an_attribute_or_through_data_is_part_of_the_key() -> None:
    class ByAttribute(torch.nn.Module):
        def forward(self, batch: Batch) -> torch.Tensor:
            return batch.x + batch.data["y"]

    model = ByAttribute().eval()
    with torch.no_grad(), remembered_forward(model) as memo:
        a = model(Batch({"x": torch.ones(1), "y": torch.ones(1)}))
        b = model(Batch({"x": torch.zeros(1), "y": torch.ones(1)}))
        c = model(Batch({"x": torch.zeros(1), "y": torch.zeros(1)}))
    assert memo.runs == 3 and [float(t) for t in (a, b, c)] == [2.0, 1.0, 0.0]


def test_a_write_to_the_mapping_reaches_the_callers_and_keys_everything() -> None:
    class Writer(torch.nn.Module):
        def forward(self, batch: UserDict) -> torch.Tensor:
            batch["seen"] = batch["x"] + 1
            return batch["seen"]

    model = Writer().eval()
    first, second = UserDict({"x": torch.ones(1)}), {"x": torch.ones(1)}
    with torch.no_grad(), remembered_forward(model) as memo:
        model(first)
        model(second)
    assert torch.equal(first["seen"], torch.full((1,), 2.0)) and torch.equal(second["seen"], torch.full((1,), 2.0))
    assert memo.runs == 2  # a write reads as a use of the whole mapping: never answered from memory


def test_a_deep_copy_made_inside_the_block_runs_its_own_forward() -> None:
    import copy

    model = Backbone().eval()
    with torch.no_grad(), remembered_forward(model) as memo:
        twin = copy.deepcopy(model).to(torch.float64)
        out = twin(UserDict({"x": torch.ones(2, 4, dtype=torch.float64)}))
        model(batch())
    assert out["features"].dtype == torch.float64  # the copy's own float64 weights, not the original's forward
    assert memo.calls == 1
