"""Scoped torch hooks both sides put on their model: stage capture and the flow-matching noise draw.

torch is imported lazily by the caller's environment; these modules import with numpy alone.
"""
