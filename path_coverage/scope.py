"""Which files count: LeRobot's GR00T policy and the processor steps its pipelines use; the original's model,
processor and state/action code. Patterns are coverage.py ``--include`` globs on absolute file paths.

``python -m path_coverage.scope port|original`` prints the comma-joined patterns for the Makefile.
"""

from __future__ import annotations

import sys

# LeRobot 0.6.1: the policy package, and the lerobot.processor modules whose steps and converters
# make_groot_pre_post_processors puts in its two pipelines (rename, batch dimension, device, the pipeline
# class and its transition converters). Relative-action steps are only built for a fallback: not listed.
PORT = (
    "*/lerobot/policies/groot/*",
    "*/lerobot/processor/rename_processor.py",
    "*/lerobot/processor/batch_processor.py",
    "*/lerobot/processor/device_processor.py",
    "*/lerobot/processor/pipeline.py",
    "*/lerobot/processor/converters.py",
)
# gr00t@626af89: the N1.7 model and processor, the modules they are built from, the state/action processor.
ORIGINAL = (
    "*/gr00t/model/gr00t_n1d7/*",
    "*/gr00t/model/modules/*",
    "*/gr00t/data/state_action/*",
)
SIDES = {"port": PORT, "original": ORIGINAL}
PACKAGE_ROOTS = ("lerobot/", "gr00t/")  # module names in the report start here


def module_name(path: str) -> str:
    """``.../site-packages/lerobot/policies/groot/utils.py`` -> ``lerobot/policies/groot/utils.py``."""
    normalized = path.replace("\\", "/")
    starts = [normalized.rfind("/" + root) for root in PACKAGE_ROOTS]
    start = max(starts)
    return normalized[start + 1 :] if start >= 0 else normalized


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SIDES:
        sys.exit(f"usage: python -m path_coverage.scope {'|'.join(SIDES)}")
    print(",".join(SIDES[sys.argv[1]]))
