"""groot-parity's shared artifact format: one pickle-free .npz per embodiment tag, and the keys it stores.

Imported by both the producer (Python 3.10, numpy 1.26) and the consumer (Python 3.12, numpy 2.x),
so it depends on nothing but the standard library and numpy (a test enforces it). How artifacts are
compared lives in ``comparison``; where they are fetched from, in ``sources``.
"""

from .artifact import FORMAT_VERSION as FORMAT_VERSION
from .artifact import Artifact as Artifact
from .artifact import RawObservation as RawObservation
from .artifact import read_artifact as read_artifact
from .artifact import write_artifact as write_artifact
from .errors import ArtifactError as ArtifactError
from .naming import ARTIFACT_PREFIX as ARTIFACT_PREFIX
from .naming import artifact_filename as artifact_filename
from .naming import discover_artifacts as discover_artifacts
from .naming import tag_from_filename as tag_from_filename
