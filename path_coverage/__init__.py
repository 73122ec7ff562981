"""What the golden replays execute of LeRobot's GR00T port (and of the original on the producer side).

``make coverage`` runs the parity suite on every golden directory under coverage.py, restricted to the
modules named in :mod:`path_coverage.scope`, and :mod:`path_coverage.report` turns coverage.py's JSON into a
Markdown report: the executed share per module, and every statement never executed, grouped by function.
Each function the goldens never enter is classified in ``path_coverage/port_classification.toml`` as out
of scope (with its reason) or as a gap; an unclassified one fails the report. docs/coverage.md has the figures.
"""
