"""Run a SciJava script (Groovy, Jython, ...) in the running Fiji, through its ``ScriptService``.

The Python side of ``trackmate-cellpose fiji --script``: the script's ``#@`` parameters are given as strings and
SciJava converts them to the declared types (File, Double, Boolean ...), as when a script is run from Fiji's editor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..errors import BackendUnavailableError, PathNotFoundError
from ._jvm import FijiSession, current_session


def run_script(script: str | Path, inputs: Mapping[str, str] | None = None, *,
               session: FijiSession | None = None) -> dict[str, str]:
    """Run ``script`` in Fiji and wait for it; return its outputs as text.

    Parameters
    ----------
    script : str or Path
        The script file; its extension picks the language (``.groovy``, ``.py``, ``.ijm`` ...).
    inputs : mapping of str to str, optional
        Values of the script's ``#@`` parameters, by name.
    session : FijiSession, optional
        The Fiji to run it in (default: the one started by :func:`start_fiji` in this process).

    Returns
    -------
    dict of str to str
        The script's outputs (``#@output`` parameters), by name.

    Raises
    ------
    PathNotFoundError (a FileNotFoundError)
        ``script`` is not a file.
    BackendUnavailableError
        No Fiji runs in this process, or it has no language for the script's extension.
    """
    script = Path(script)
    if not script.is_file():
        raise PathNotFoundError(f"script {str(script)!r} does not exist", path=script)
    session = session or current_session()
    if session is None or session.ij is None:
        raise BackendUnavailableError("run_script needs a running Fiji: call start_fiji(...) first (headless mode)")
    from jpype import JClass

    params = JClass("java.util.HashMap")()
    for k, v in (inputs or {}).items():
        params.put(k, v)
    scripts = session.ij.script()
    ext = script.suffix.lstrip(".")
    if scripts.getLanguageByExtension(ext) is None:
        raise BackendUnavailableError(
            f"this Fiji has no script language for .{ext} files (install it with Help > Update...)")
    module = scripts.run(JClass("java.io.File")(str(script.resolve())), True, params).get()
    outputs = module.getOutputs() if module is not None else None
    return {} if outputs is None else {str(k): str(outputs.get(k)) for k in outputs.keySet()}
