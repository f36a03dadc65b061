"""``bridge.run_script`` (the Python side of ``fiji --script``) refuses clearly before touching Java."""

import pytest

from trackmate_cellpose.bridge import current_session, run_script
from trackmate_cellpose.errors import BackendUnavailableError


def test_run_script_needs_an_existing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_script(tmp_path / "missing.groovy")


def test_run_script_needs_a_running_fiji(tmp_path):
    script = tmp_path / "a.groovy"
    script.write_text("println 'hi'\n")
    assert current_session() is None  # unit tests start no JVM
    with pytest.raises(BackendUnavailableError, match="start_fiji"):
        run_script(script, {"x": "1"})
