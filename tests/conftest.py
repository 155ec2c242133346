"Shared helpers for the end-to-end tests: run `aqm` as a user would, in a subprocess."
import json, os, subprocess, sys
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
AQM = Path(sys.executable).parent/"aqm"  # the console entry point pip installed, as a user runs it
# ONNX Runtime's integer A8 graph vs the quantized torch model, largest difference of rank-matched scores. They sum in
# different orders, so an activation within float rounding of a .5 step lands on the neighbouring level, and such
# one-step flips compound over the quantized layers: 0 to 0.054 (W4A8) and 0.012 to 0.071 (W8A8) on 5 demo images with
# ranges as calibrated; with their upper ends raised 1.25x (`--act-range-margin`, the default) a step is up to 1.25x
# wider, and the real-photo fixture of test_cli_every_command measured 0.112 (W4A8, 4 activation-calibration images).
# A missing or mis-scaled quantizer moves scores by far more.
A8_SCORE_BOUND = 0.15

def aqm(*args, cwd=None, timeout=900, **popen):
    "Run `aqm ARGS` in a subprocess; return the CompletedProcess (text output)."
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "YOLO_OFFLINE": "1"}
    return subprocess.run([str(AQM), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
                          **popen)

def aqm_popen(*args, **popen):
    "Start `aqm ARGS` in a subprocess (text pipes) and return the Popen without waiting."
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "YOLO_OFFLINE": "1"}
    return subprocess.Popen([str(AQM), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen)

def descendants(pid:int) -> list:
    "`(pid, command line)` of every live process below `pid` (read from /proc)."
    parent, cmd = {}, {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit(): continue
        try:
            stat = (d/"stat").read_text(); parent[int(d.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
            cmd[int(d.name)] = (d/"cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError): continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += [(c, cmd[c]) for c in kids]; todo += kids
    return out

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
