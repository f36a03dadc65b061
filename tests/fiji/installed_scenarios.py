"""Run ``fiji_scenarios.py`` with the glue's origin under control, and report where the glue came from.

Usage: as ``fiji_scenarios.py`` (``python installed_scenarios.py OUT.json WORKDIR SCENARIO...``, ``FIJI_DIR`` set).

* default: for a Fiji where ``install-fiji`` put the glue; compiling at run time is made impossible (javac lookup and
  compilation raise), so a run that works used a jar from the Fiji or the package;
* ``TMCP_TEST_NO_PREBUILT=1``: the package's prebuilt jars are hidden, so the glue must be compiled against the Fiji
  (the fallback of a package built without a JDK).

Adds the scenario ``glue_source``: the session's glue origin and jar, and the jar TrackMate's factory class was loaded
from.
"""

from __future__ import annotations

import os
import sys

from trackmate_cellpose.bridge import _glue, _jvm


def _no_compile(*args, **kwargs):
    raise AssertionError("the glue was compiled at run time: the installed jar should have been used")


if os.environ.get("TMCP_TEST_NO_PREBUILT") == "1":
    _glue.shipped_jar = _jvm.shipped_jar = lambda line, log=None: None
else:
    _glue.build_glue = _glue.compile_glue = _glue.find_javac = _jvm.build_glue = _no_compile

import fiji_scenarios  # noqa: E402 - after the patch, next to this script


def sc_glue_source(work, ctx) -> dict:
    from jpype import JClass

    fac = JClass("fiji.plugin.trackmate.providers.DetectorProvider")().getFactory(fiji_scenarios.KEY)
    where = fac.getClass().getProtectionDomain().getCodeSource().getLocation().toURI()
    session = ctx["session"]
    return {"origin": session.glue_origin, "session_jar": str(session.glue_jar),
            "factory_jar": str(JClass("java.io.File")(where).getAbsolutePath())}


fiji_scenarios.SCENARIOS["glue_source"] = sc_glue_source

if __name__ == "__main__":
    sys.exit(fiji_scenarios.main(sys.argv[1:]))
