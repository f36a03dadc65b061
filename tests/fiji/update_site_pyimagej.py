"""A Fiji with the update site's files, started by plain pyimagej in a Python where trackmate_cellpose is NOT
importable (Fiji's Python mode, a notebook): the glue's discovery puts the site's Python code on sys.path and
registers the in-process service (run by tests/fiji/test_update_site.py; prints one JSON line).

Usage: python update_site_pyimagej.py FIJI_DIR
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pyimagej_scenario import _start

_start(sys.argv[1])
facts = {}
try:
    import trackmate_cellpose
    facts["importable_before"] = True
except ImportError:
    facts["importable_before"] = False
from jpype import JClass  # noqa: E402

loader = JClass("trackmatecellpose.loader.GlueLoader")
result = JClass("trackmatecellpose.glue.PyImageJDiscovery", loader=loader.glueClassLoader()).discover()
facts["service"] = None if result.service is None else str(result.service.describe())
facts["reason"] = None if result.reason is None else str(result.reason)
import trackmate_cellpose  # noqa: E402

facts["code"] = trackmate_cellpose.__file__
print("FACTS " + json.dumps(facts))
