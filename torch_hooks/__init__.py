"""Scoped torch hooks both sides put on their model: stage capture and the flow-matching noise draw; and the
deterministic CUDA settings both sides apply before their model touches a GPU.

torch is imported lazily by the caller's environment; these modules import with numpy alone.
"""
