"""Comparison and verdict vocabulary shared by every check: tensors compared under tolerances, stage
comparison, typed results that round-trip through JSON, statuses, number formatting and tables.

numpy and the standard library only (and ``parity_format`` for stage keys), like the artifact format.
"""
