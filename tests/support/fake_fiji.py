"""Test support: fake TrackMate jars, with just the classes by which the bridge tells a TrackMate line apart."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path


def fake_trackmate_jar(path: Path, line: str, major: int = 52, *, global_detectors: bool = False) -> Path:
    """A jar with ``Spot.class`` (class-file ``major`` version) and the marker classes of ``line`` (tm7/tm8/tm9);
    ``global_detectors`` adds ``SpotGlobalDetectorFactory`` (TrackMate 7.x and later)."""
    spot = struct.pack(">IHH", 0xCAFEBABE, 0, major) + b"\0" * 8
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("fiji/plugin/trackmate/Spot.class", spot)
        if global_detectors:
            z.writestr("fiji/plugin/trackmate/detection/SpotGlobalDetectorFactory.class", spot)
        if line in ("tm8", "tm9"):
            z.writestr("fiji/plugin/trackmate/TrackMateFactoryBase.class", spot)
        if line == "tm9":
            z.writestr("fiji/plugin/trackmate/SpotMesh.class", spot)
    return path


def fake_fiji(root: Path, version: str = "7.13.2", line: str = "tm7") -> Path:
    """A Fiji.app folder at ``root`` (``jars/``, ``plugins/``) whose only jar is a fake TrackMate ``version``."""
    (root / "jars").mkdir(parents=True)
    (root / "plugins").mkdir()
    fake_trackmate_jar(root / "jars" / f"TrackMate-{version}.jar", line, global_detectors=True)
    return root
