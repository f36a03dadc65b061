"""The SLURM options without a SLURM: validation (errors name the option, the value and the rule), the job script
they give, ``run --cluster slurm`` usage errors (exit 2 naming the flag), sbatch missing (exit 1), doctor's slurm
line without sbatch, and Ctrl-C kept as KeyboardInterrupt after dask-jobqueue is imported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile

pytest.importorskip("dask")

from trackmate_cellpose import BackendUnavailableError, InvalidSettingsError
from trackmate_cellpose.cli import main
from trackmate_cellpose.distributed import SlurmOptions, SlurmPool


@pytest.mark.parametrize("field, value, expected", [
    ("jobs", 0, "an integer >= 1"),
    ("jobs", 2.5, "an integer >= 1"),
    ("gpus_per_job", 2, "0 or 1"),
    ("gpus_per_job", -1, "an integer >= 0"),
    ("cpus_per_job", 0, "an integer >= 1"),
    ("memory", "lots", "a size with a unit"),
    ("memory", "100", "at least 1MB"),
    ("walltime", "1h", "a SLURM time limit"),
    ("walltime", "0", "above 0"),
    ("walltime", "1:2:3:4", "a SLURM time limit"),
    ("partition", "gpu queue", "a SLURM name"),
    ("account", "lab;rm", "a SLURM name"),
    ("sbatch_lines", ("qos=short",), "one sbatch option per line"),
    ("sbatch_lines", ("--qos=a\n--x",), "one sbatch option per line"),
    ("prologue", ("",), "one non-empty shell line"),
    ("python", "/nonexistent/bin/python", "exists on this machine"),
    ("start_timeout", -1, "seconds >= 0"),
    ("poll_s", 0, "seconds > 0"),
])
def test_invalid_option_names_field_value_and_rule(field, value, expected):
    with pytest.raises(InvalidSettingsError) as err:
        SlurmOptions(**{field: value})
    assert err.value.key == field
    msg = str(err.value)
    shown = value[0] if isinstance(value, tuple) else value  # the offending line of a list
    assert msg.startswith(f"{field} must be") and expected in msg and msg.endswith(f"got {shown!r}")


@pytest.mark.parametrize("text, seconds", [("30", 1800), ("5:30", 330), ("01:00:00", 3600), ("2-0", 172800),
                                           ("1-02:03", 93780), ("1-00:00:05", 86405)])
def test_walltime_formats(text, seconds):
    assert SlurmOptions(walltime=text).walltime_seconds == seconds


def test_options_give_the_job_script(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from trackmate_cellpose.distributed._slurm import import_slurm_cluster

    opts = SlurmOptions(jobs=3, partition="gpu", account="lab", gpus_per_job=1, cpus_per_job=6, memory="24GB",
                        walltime="04:00:00", sbatch_lines=("--qos=short", "#SBATCH --constraint=a100"),
                        prologue=("module load cuda",), python=sys.executable, log_directory=str(tmp_path))
    assert opts.describe() == ("3 jobs, partition gpu, account lab, 6 CPUs, 1 GPU, 24GB, walltime 04:00:00, "
                               "--qos=short, #SBATCH --constraint=a100")
    kw = opts.cluster_keywords()
    kw["scheduler_options"] = {**kw["scheduler_options"], "host": "127.0.0.1"}
    cluster = import_slurm_cluster()(**kw)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -J tmcp-worker", "#SBATCH -p gpu", "#SBATCH -A lab", "#SBATCH --cpus-per-task=6",
                 "#SBATCH --mem=23G", "#SBATCH -t 04:00:00", "#SBATCH --gres=gpu:1", "#SBATCH --qos=short",
                 "#SBATCH --constraint=a100", f"#SBATCH -e {tmp_path}/tmcp-worker-%J.err",
                 "export TMCP_TORCH_THREADS=6 OMP_NUM_THREADS=6 MKL_NUM_THREADS=6", "module load cuda",
                 f"{sys.executable} -m distributed.cli.dask_worker", "--nthreads 1", "--resources GPU=1"):
        assert line in script, (line, script)


def test_unknown_pool_option_is_named():
    with pytest.raises(InvalidSettingsError, match="unknown SLURM option.*gpus"):
        SlurmPool(gpus=2)


def test_ctrl_c_stays_keyboard_interrupt_after_dask_jobqueue_import():
    """dask-jobqueue 0.9.0 installs ``sys.exit`` as the SIGINT handler on import (Ctrl-C: exit status 0)."""
    pytest.importorskip("dask_jobqueue")
    code = ("import signal; from trackmate_cellpose.distributed._slurm import import_slurm_cluster; "
            "import_slurm_cluster(); print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


# -- the command line ---------------------------------------------------------------------------------------------

@pytest.fixture
def movie_file(tmp_path):
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, np.zeros((2, 32, 32), np.uint16), imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "TYX", "unit": "um"})
    return path


def _run(args: list[str], movie_file, capsys) -> tuple[int, str]:
    try:
        rc = main(["run", str(movie_file), "-o", str(movie_file.parent / "out"), "--quiet", *args])
    except SystemExit as e:  # argparse's own errors (a value that is no int, a choice not offered)
        rc = e.code
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parametrize("args, needles", [
    (["--slurm-jobs", "0"], ["--slurm-jobs (jobs)", "got 0", ">= 1"]),
    (["--slurm-gpus-per-job", "2"], ["--slurm-gpus-per-job (gpus_per_job)", "0 or 1", "got 2"]),
    (["--slurm-cpus-per-job", "0"], ["--slurm-cpus-per-job (cpus_per_job)", "got 0"]),
    (["--slurm-memory", "lots"], ["--slurm-memory (memory)", "'lots'", "a size with a unit"]),
    (["--slurm-walltime", "1h"], ["--slurm-walltime (walltime)", "'1h'", "H:M:S"]),
    (["--slurm-partition", "a b"], ["--slurm-partition (partition)", "'a b'", "a SLURM name"]),
    (["--slurm-account", "x;y"], ["--slurm-account (account)", "'x;y'"]),
    (["--slurm-sbatch", "qos=short"], ["--slurm-sbatch (sbatch_lines)", "'qos=short'", "one sbatch option"]),
    (["--slurm-python", "/nonexistent/python"], ["--slurm-python (python)", "'/nonexistent/python'", "exists"]),
    (["--slurm-start-timeout", "-5"], ["--slurm-start-timeout (start_timeout)", "-5", ">= 0"]),
    (["--slurm-jobs", "two"], ["--slurm-jobs", "invalid int value: 'two'"]),
])
def test_cli_invalid_slurm_option_exit_2_names_flag(args, needles, movie_file, capsys):
    rc, err = _run(["--cluster", "slurm", *args], movie_file, capsys)
    assert rc == 2, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not (movie_file.parent / "out").exists()


@pytest.mark.parametrize("args, needle", [
    (["--slurm-jobs", "2"], "--slurm-jobs needs --cluster slurm"),
    (["--slurm-partition", "gpu", "--workers", "2"], "--slurm-partition needs --cluster slurm"),
    (["--cluster", "slurm", "--workers", "2"], "--cluster slurm and --workers 2 exclude each other"),
    (["--cluster", "slurm", "--scheduler", "tcp://h:1"], "--cluster slurm and --scheduler tcp://h:1 exclude"),
    (["--cluster", "lsf"], "invalid choice: 'lsf'"),
])
def test_cli_slurm_usage_errors(args, needle, movie_file, capsys):
    rc, err = _run(args, movie_file, capsys)
    assert rc == 2 and needle in err, err


@pytest.mark.slow  # the model check loads torch: tens of seconds on a busy machine
def test_cli_cluster_slurm_without_sbatch_exit_1(movie_file, capsys, monkeypatch, tmp_path, test_model):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    rc, err = _run(["--cluster", "slurm", "--model-path", str(test_model)], movie_file, capsys)
    assert rc == 1 and "sbatch is not on PATH" in err, err


def test_doctor_slurm_line_without_sbatch(monkeypatch, tmp_path):
    from trackmate_cellpose.diagnosis import Report, _check_slurm

    monkeypatch.setenv("PATH", str(tmp_path))
    r = Report()
    _check_slurm(r, "")
    (check,) = r.checks
    assert (check.name, check.level) == ("slurm", "info") and "sbatch not found on PATH" in check.detail
    r = Report()
    _check_slurm(r, "gpu")  # asked for a partition: without sbatch that cannot work
    assert r.checks[0].level == "error" and not r.ok


def test_pool_without_sbatch_is_backend_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendUnavailableError, match="sbatch is not on PATH"):
        SlurmPool(SlurmOptions(jobs=1)).start()


def test_user_doc_lists_every_slurm_flag_with_its_default():
    """docs/scale-out-slurm.md's option table: every --slurm-* flag of ``run``, and the defaults of SlurmOptions."""
    from pathlib import Path

    from trackmate_cellpose.cli._options import SLURM_FLAGS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scale-out-slurm.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `--") and len(cells) >= 3:
            rows[cells[0].strip("`").split()[0]] = cells[1]
    assert set(rows) == {"--cluster"} | {flag for flag, _, _ in SLURM_FLAGS.values()}
    defaults = SlurmOptions()
    for field in ("jobs", "gpus_per_job", "cpus_per_job", "memory", "walltime"):
        assert rows[SLURM_FLAGS[field][0]] == str(getattr(defaults, field)), field
        assert f"[{getattr(defaults, field)}]" in SLURM_FLAGS[field][2], field  # and the --help text
