"Shared helpers for the end-to-end tests: run `aqm` as a user would, in a subprocess."
import json, os, subprocess, sys
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (REPO.parent/"shared"/"data"/"coco-mini-train",) if p.exists()), None)

def aqm(*args, cwd=None, timeout=900):
    "Run `aqm ARGS` in a subprocess; return the CompletedProcess (text output)."
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "YOLO_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "auto_quantize_model.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)

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
def shared_coco():
    "The real COCO images with official annotations beside the repo."
    if SHARED is None: pytest.fail("../shared/data/coco-mini-train is missing: the tests need it")
    return SHARED
