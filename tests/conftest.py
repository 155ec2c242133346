"Shared helpers for the end-to-end tests: run `aqm` as a user would, in a subprocess."
import json, os, subprocess, sys
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
AQM = Path(sys.executable).parent/"aqm"  # the console entry point pip installed, as a user runs it

def aqm(*args, cwd=None, timeout=900, **popen):
    "Run `aqm ARGS` in a subprocess; return the CompletedProcess (text output)."
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "YOLO_OFFLINE": "1"}
    return subprocess.run([str(AQM), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
                          **popen)

def files_under(path):
    "Every path below `path`, sorted (empty if it doesn't exist)."
    return sorted(str(p) for p in Path(path).rglob("*")) if Path(path).exists() else []

def assert_one_line_error(proc, *fragments):
    "Exit status 2, exactly one line on stderr naming the problem, and no traceback."
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("aqm: error: "), lines
    for f in fragments: assert f in lines[0], (f, lines[0])

@pytest.fixture(scope="session")
def real_coco():
    "The real COCO photos with their official annotations bundled in the package (val2017/, train2017/)."
    from auto_quantize_model.real import real_data_root
    return real_data_root()
