"""Run ``fiji_scenarios.py`` in a Fiji where ``install-fiji`` put the glue, with compiling at run time made impossible.

Usage: as ``fiji_scenarios.py`` (``python installed_scenarios.py OUT.json WORKDIR SCENARIO...``, ``FIJI_DIR`` = the
Fiji copy). Adds the scenario ``glue_source``: where the session's glue came from and which jar TrackMate's factory
class was loaded from.
"""

from __future__ import annotations

import sys

from trackmate_cellpose.bridge import _glue, _jvm


def _no_compile(*args, **kwargs):
    raise AssertionError("the glue was compiled at run time: the installed jar should have been used")


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
