"""Start Fiji inside this Python process (pyimagej + JPype) with the glue on the class path and the service registered.

JPype runs one JVM per process and cannot restart it, so :func:`start_fiji` is called once; later calls return the
same :class:`FijiSession`. Two ways to get Fiji:

* a local Fiji folder (``fiji_dir``): works offline. pyimagej 1.8 needs three adjustments for that (Java fetch set to
  "auto", no Maven endpoints, imglyb's start hooks dropped when the Fiji lacks ``imglib2-imglyb``);
* a Maven endpoint (``endpoint``, e.g. ``"sc.fiji:fiji"``): pyimagej's normal online path; jgo resolves the jars
  once to compile the glue, then pyimagej starts from the same (cached) resolution.

The glue jar must be on the class path when the JVM starts: SciJava's plugin index ignores jars added later. Which jar
(:func:`select_glue`): the one ``install-fiji`` put into the Fiji's ``jars/`` (already on Fiji's class path) when it is
current, else the prebuilt jar shipped in the package for the Fiji's TrackMate line, else (no current prebuilt jar, e.g.
a package built without a JDK) the glue compiled with javac against that Fiji.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import BackendUnavailableError, InvalidSettingsError
from ._fiji import FijiInstallation, find_fiji, installation_from_jars
from ._glue import build_glue, shipped_jar
from ._install import check_installed_glue

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_session: "FijiSession | None" = None

_MODES = ("headless", "interactive", "gui")


@dataclass
class FijiSession:
    """The running Fiji of this process.

    Attributes
    ----------
    fiji : FijiInstallation
    glue_jar : Path
    glue_origin : str
        Where the glue came from: ``"installed"`` (the Fiji's own jars/, put there by install-fiji), ``"prebuilt"``
        (shipped in the package) or ``"compiled"`` (javac against this Fiji, the fallback).
    ij : object
        The ImageJ2 gateway (``net.imagej.ImageJ``); None in GUI mode until the GUI is up.
    mode : str
    service : object
        The registered Python detection service (a JPype proxy of ``CellposePyService``).
    timings : dict
        Seconds spent: ``glue`` (compile or cache hit), ``jvm`` (JVM + ImageJ2 start).
    """

    fiji: FijiInstallation
    glue_jar: Path
    mode: str
    glue_origin: str = "compiled"
    ij: Any = None
    service: Any = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def line(self) -> str:
        return self.fiji.line


def current_session() -> FijiSession | None:
    """The session started by :func:`start_fiji` in this process, if any."""
    return _session


def jvm_options_for_tests(home: Path) -> list[str]:
    """JVM options that keep Java's preferences and perf data out of the real home folder (tests, CI)."""
    home.mkdir(parents=True, exist_ok=True)
    return [f"-Duser.home={home}", f"-Djava.util.prefs.userRoot={home / 'prefs'}", "-XX:-UsePerfData"]


def _resolve_endpoint(endpoint: str) -> FijiInstallation:
    """Resolve a Maven endpoint with jgo (as scyjava does) and classify its jars."""
    try:
        import jgo
        import scyjava
    except ImportError as e:  # pragma: no cover - both are dependencies of pyimagej
        raise BackendUnavailableError(f"resolving {endpoint!r} needs jgo and scyjava: {e}") from e
    try:
        env = jgo.build(endpoint=endpoint, cache_dir=scyjava.config.get_cache_dir(),
                        resolver=jgo.maven.PythonResolver(lenient=True))
    except Exception as e:  # network/Maven failures of many kinds
        raise BackendUnavailableError(
            f"cannot resolve the endpoint {endpoint!r} (network or Maven repository unavailable?): {e}. "
            "Offline, use a local Fiji with --fiji DIR.") from e
    jars = sorted(Path(env.jars_dir).glob("*.jar")) + sorted(Path(env.modules_dir).glob("*.jar"))
    return installation_from_jars(Path(env.jars_dir), jars)


def select_glue(fiji: FijiInstallation, *, java_home: str | Path | None = None, log: Callable[[str], None] | None = None
                ) -> tuple[Path, str]:
    """The glue jar for ``fiji`` and where it comes from (``"installed"``, ``"prebuilt"`` or ``"compiled"``).

    Raises
    ------
    BackendUnavailableError
        The Fiji holds a stale copy of our jar (it would clash; the message says to run install-fiji), or no prebuilt
        jar matches and no JDK is there to compile one.
    """
    installed = check_installed_glue(fiji)
    if installed is not None:
        return installed, "installed"
    jar = shipped_jar(fiji.line, log=log)
    if jar is not None:
        return jar, "prebuilt"
    return build_glue(fiji, java_home=java_home, log=log), "compiled"


def _drop_imglyb_hooks() -> None:
    """imglyb registers JVM-start hooks that fail without the imglib2-imglyb jar; drop them (no zero-copy views)."""
    import scyjava._jvm as sj

    sj._startup_callbacks[:] = [c for c in sj._startup_callbacks
                                if not str(getattr(c, "__module__", "")).startswith("imglyb")]


def _check_java_version(fiji: FijiInstallation) -> None:
    """Fail early, with advice, when the JVM that JPype will start is older than TrackMate's bytecode."""
    import scyjava

    try:
        found = scyjava.jvm_version()
    except Exception:  # noqa: BLE001 - unknown: let pyimagej decide (it may fetch a JDK)
        return
    if found and found[0] < fiji.java_release:
        raise BackendUnavailableError(
            f"TrackMate {fiji.trackmate_version} needs Java {fiji.java_release} or later, but the Java found is "
            f"{'.'.join(map(str, found))}; install a newer JDK and set JAVA_HOME (or pass --java-home)")


def start_fiji(fiji_dir: str | Path | None = None, *, endpoint: str | None = None, mode: str = "headless",
               java_home: str | Path | None = None, jvm_options: Sequence[str] = (), max_heap: str | None = None,
               on_ready: Callable[[FijiSession], None] | None = None, log: Callable[[str], None] | None = None
               ) -> FijiSession:
    """Start Fiji in this process with the "Cellpose advanced (Python)" detector available.

    Parameters
    ----------
    fiji_dir : path, optional
        Local Fiji.app folder (offline-capable). Defaults to ``$FIJI_DIR`` when neither this nor ``endpoint`` is given.
    endpoint : str, optional
        Maven endpoint for pyimagej (e.g. ``"sc.fiji:fiji"``); needs network the first time.
    mode : {"headless", "interactive", "gui"}
        pyimagej mode. ``"gui"`` shows Fiji and **blocks** until it is closed (``on_ready`` runs first).
    java_home : path, optional
        JDK to run and compile with (else ``$JAVA_HOME``, else the system default).
    jvm_options : sequence of str
        Extra JVM options (e.g. ``-Duser.home=...`` in tests).
    max_heap : str, optional
        JVM maximum heap, e.g. ``"8g"``.
    on_ready : callable, optional
        Called with the session once ImageJ2 is up (in GUI mode, before blocking).
    log : callable, optional
        Receives progress messages (glue compilation, start).

    Returns
    -------
    FijiSession
    """
    global _session
    import time

    if mode not in _MODES:
        raise InvalidSettingsError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}", key="mode", value=mode)
    with _lock:
        if _session is not None:
            return _session
        if fiji_dir is None and endpoint is None:
            fiji_dir = os.environ.get("FIJI_DIR") or None
            if fiji_dir is None:
                raise BackendUnavailableError(
                    "no Fiji given: pass a Fiji.app folder (--fiji DIR / fiji_dir=...), set FIJI_DIR, or give a Maven "
                    "endpoint (--endpoint sc.fiji:fiji, needs network)")
        if java_home:
            os.environ["JAVA_HOME"] = str(java_home)

        import scyjava

        if scyjava.jvm_started():
            raise BackendUnavailableError(
                "a JVM is already running in this Python process; start_fiji must run before anything else starts "
                "Java (JPype cannot restart the JVM)")
        t0 = time.perf_counter()
        fiji = find_fiji(fiji_dir) if fiji_dir is not None else _resolve_endpoint(endpoint)
        glue, origin = select_glue(fiji, java_home=java_home, log=log)
        t_glue = time.perf_counter() - t0
        if log:
            log(f"TrackMate {fiji.trackmate_version} ({fiji.line}); glue {glue} ({origin})")

        _check_java_version(fiji)

        import imagej  # imports imglyb, which registers JVM hooks and endpoints

        if fiji_dir is not None:
            scyjava.config.endpoints.clear()
            scyjava.config.set_java_constraints(fetch="auto", version=str(max(11, fiji.java_release)))
        if not fiji.has_imglyb:
            _drop_imglyb_hooks()
        if origin != "installed":  # an installed jar is in Fiji's jars/, on the class path already
            scyjava.config.add_classpath(str(glue))
        opts = ["--add-opens=java.base/java.lang=ALL-UNNAMED"]
        if mode == "headless":
            opts.append("-Djava.awt.headless=true")
        if max_heap:
            opts.append(f"-Xmx{max_heap}")
        for o in [*opts, *jvm_options]:
            scyjava.config.add_option(o)

        session = FijiSession(fiji=fiji, glue_jar=glue, glue_origin=origin, mode=mode, timings={"glue": t_glue})
        _session = session

        def _register() -> None:
            from ._service import register_service

            session.service = register_service()

        scyjava.when_jvm_starts(_register)

        def _ready(ij: Any) -> None:
            session.ij = ij
            session.timings["jvm"] = time.perf_counter() - t0 - t_glue
            if on_ready:
                on_ready(session)

        imagej.when_imagej_starts(_ready)
        target = str(fiji.root) if fiji_dir is not None else endpoint
        try:
            ij = imagej.init(target, mode=mode)
        except Exception as e:
            _session = None
            raise BackendUnavailableError(f"starting Fiji from {target} failed: {e}") from e
        if mode != "gui" and ij is None:
            _session = None
            raise BackendUnavailableError(f"pyimagej could not start ImageJ2 from {target} (see the log above)")
        if mode != "gui":
            session.ij = ij
        return session
