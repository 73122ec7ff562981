"""Block hooks on a toy model whose module paths are those of GR00T N1.7's LLM layers (torch, no gr00t/LeRobot)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from parity_format.block_keys import BlockId  # noqa: E402
from torch_hooks.block_capture import capture_blocks  # noqa: E402


class Layer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, hidden_states, position_embeddings=None, past_key_values=None, mask=None):  # type: ignore[no-untyped-def]
        if past_key_values is not None:
            past_key_values.append(1)  # a cache the first call fills: a rerun must not see it
        return self.linear(hidden_states) * position_embeddings[0]


def toy() -> torch.nn.Module:
    root = torch.nn.Module()
    node = root
    for name in ("backbone", "model", "model", "language_model"):
        child = torch.nn.Module()
        node.add_module(name, child)
        node = child
    node.add_module("layers", torch.nn.ModuleList([Layer(), Layer()]))
    torch.manual_seed(0)
    return root


def run(model: torch.nn.Module, **options: object) -> dict[str, np.ndarray]:
    records: dict[str, np.ndarray] = {}
    x = torch.ones(2, 4)
    cos = (torch.full((2, 4), 0.5), torch.zeros(2, 4))
    with capture_blocks(model, "lerobot", records.__setitem__, **options), torch.inference_mode():  # type: ignore[arg-type]
        layers = model.get_submodule("backbone.model.model.language_model.layers")
        h = layers[0](x, position_embeddings=cos, past_key_values=[], mask=torch.ones(2, dtype=torch.bool))
        layers[1](h, cos)
    return records


def test_inputs_are_named_by_parameter_and_a_float64_rerun_recorded() -> None:
    records = run(toy(), inputs=True, float64=True)
    assert sorted(records) == sorted(
        f"block.llm_layer.{i}.{what}"
        for i in (0, 1)
        for what in ("in.hidden_states", "in.position_embeddings.0", "in.position_embeddings.1", "out", "out64")
    )  # positional and keyword calls name the same input; the bool mask is not a float input
    assert records["block.llm_layer.0.out64"].dtype == np.float64
    np.testing.assert_allclose(records["block.llm_layer.0.out64"], records["block.llm_layer.0.out"], atol=1e-6)


def test_a_fed_input_replaces_the_blocks_own() -> None:
    model = toy()
    reference = run(model, inputs=True)
    fed_input = np.full((2, 4), 3.0, np.float32)

    def feed(block: BlockId) -> dict[str, np.ndarray]:
        return {"hidden_states": fed_input} if block.index == 1 else {}

    isolated = run(model, inputs=False, feed=feed)
    layer = model.get_submodule("backbone.model.model.language_model.layers.1")
    with torch.no_grad():
        expected = (layer.linear(torch.from_numpy(fed_input)) * 0.5).numpy()
    np.testing.assert_array_equal(isolated["block.llm_layer.1.out"], expected)
    np.testing.assert_array_equal(isolated["block.llm_layer.0.out"], reference["block.llm_layer.0.out"])
