"""The Python environment the detector's worker can run in, built by trackmate-cellpose itself with uv: cellpose 3
or 4 and the torch build for this machine, in the user's data folder (``trackmate-cellpose setup-env``; in Fiji the
menu command and the detector panel's button run the same builder).

Imports: the standard library only (the Fiji glue also runs ``_builder.py`` by path).
"""

from ._builder import (CELLPOSE_SPECS, PYTHON_REQUEST, TORCH_SPEC, TORCHVISION_SPEC, VARIANTS, BuildCancelled,
                       BuiltEnv, EnvBuildError, EnvRequest, IndexUnreachableError, PythonDownloadError, build_env,
                       data_dir, env_name, find_uv, list_envs, remove_env, resolve_variant)

__all__ = ["EnvRequest", "BuiltEnv", "EnvBuildError", "IndexUnreachableError", "PythonDownloadError",
           "BuildCancelled", "build_env", "remove_env", "list_envs", "data_dir", "env_name", "resolve_variant",
           "find_uv", "CELLPOSE_SPECS", "TORCH_SPEC", "TORCHVISION_SPEC", "PYTHON_REQUEST", "VARIANTS"]
