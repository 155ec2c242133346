"""Checkpoints cannot run code unless the user says so, and a run says where its files came from (sizes, sha256)."""
import hashlib, json, os
from pathlib import Path
import pytest, torch
from conftest import aqm, assert_one_line_error, files_under

class RunsACommand:
    "Unpickling this runs `touch <marker>`."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))

@pytest.fixture
def evil(tmp_path):
    marker = tmp_path/"it-ran"
    torch.save({"model": RunsACommand(marker), "train_args": {"imgsz": 64}}, tmp_path/"evil.pt")
    return tmp_path/"evil.pt", marker

def sha256(path): return hashlib.sha256(Path(path).read_bytes()).hexdigest()

def test_a_pickle_that_runs_code_is_refused_by_default(evil, tmp_path):
    ckpt, marker = evil
    p = aqm("ptq", "--weights", ckpt, "--mode", "w4a16", "--run-root", tmp_path/"runs", "--run-id", "a")
    assert_one_line_error(p, "needs posix.system to load", "--trust-checkpoint")
    assert not marker.exists() and files_under(tmp_path/"runs") == []

def test_the_opt_in_loads_the_full_pickle(evil, tmp_path):
    ckpt, marker = evil
    p = aqm("ptq", "--weights", ckpt, "--trust-checkpoint", "--run-root", tmp_path/"runs", "--run-id", "a")
    assert_one_line_error(p, "holds no model")  # it ran the pickle (the marker), then failed for its own reason
    assert marker.exists()

def test_wrong_sha256_is_refused_before_unpickling(evil, tmp_path):
    ckpt, marker = evil
    p = aqm("ptq", "--weights", ckpt, "--trust-checkpoint", "--weights-sha256", "0" * 64, "--run-root", tmp_path/"runs",
            "--run-id", "a")
    assert_one_line_error(p, "has sha256", "refused")
    assert not marker.exists() and files_under(tmp_path/"runs") == []

@pytest.fixture
def torch_load_calls(monkeypatch):
    "The `weights_only` argument of every `torch.load` call while the test runs (what really loaded the file)."
    calls, real = [], torch.load
    def spy(*a, **k): calls.append(k.get("weights_only")); return real(*a, **k)
    monkeypatch.setattr(torch, "load", spy)
    return calls

@pytest.mark.parametrize("which", ["demo", "real", "ultralytics-save", "fp16-ema"])
def test_real_checkpoints_load_safely_by_default(which, tmp_path, torch_load_calls):
    from auto_quantize_model.load import load_yolov10_detection_model, save_test_checkpoint
    from auto_quantize_model.spec import resolve_weights
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel
    if which in ("demo", "real"): path = resolve_weights(which)
    elif which == "ultralytics-save": path = tmp_path/"saved.pt"; YOLO("yolov10n.yaml").save(str(path))
    else: path = save_test_checkpoint(DetectionModel("yolov10n.yaml", verbose=False), tmp_path/"ema.pt", key="ema", half=True)
    torch_load_calls.clear()
    m = load_yolov10_detection_model(path)
    assert torch_load_calls == [True]  # torch's weights-only unpickler read it, nothing else
    assert m.aqm_checkpoint["loader"] == "weights-only, Ultralytics allow-list"
    assert m.aqm_checkpoint["sha256"] == sha256(path)

def test_run_records_checkpoint_artifacts_and_the_opt_in(tmp_path):
    from auto_quantize_model.spec import resolve_weights
    demo = resolve_weights("demo")
    p = aqm("ptq", "--weights", "demo", "--imgsz", 64, "--calib-images", 0, "--trust-checkpoint", "--weights-sha256", sha256(demo),
            "--providers", "cpu", "--run-root", tmp_path, "--run-id", "a")
    assert p.returncode == 0, p.stderr[-2000:]
    rec = json.loads((tmp_path/"a/run.json").read_text())
    assert rec["args"]["trust_checkpoint"] is True and rec["args"]["weights_sha256"] == sha256(demo)
    assert rec["checkpoint"] == dict(path=demo, size_bytes=Path(demo).stat().st_size, sha256=sha256(demo),
                                     loader="full pickle (--trust-checkpoint)")
    onnx = sorted((tmp_path/"a/onnx").glob("*.onnx"))
    assert len(onnx) == 2 and rec["artifacts"] == {f.name: dict(size_bytes=f.stat().st_size, sha256=sha256(f)) for f in onnx}
    assert rec["versions"]["torch"] and rec["versions"]["ultralytics"]

def test_the_opt_in_is_what_loads_the_full_pickle(tmp_path, torch_load_calls):
    from auto_quantize_model.load import load_yolov10_detection_model
    from auto_quantize_model.spec import resolve_weights
    m = load_yolov10_detection_model(resolve_weights("demo"), trust_checkpoint=True)
    assert torch_load_calls == [False] and m.aqm_checkpoint["loader"] == "full pickle (--trust-checkpoint)"

def test_offline_mode_is_set_by_the_package_itself():
    "Without YOLO_OFFLINE in the environment, importing the package switches Ultralytics offline before it loads."
    import subprocess, sys
    env = {k: v for k, v in os.environ.items() if k != "YOLO_OFFLINE"}
    code = "import auto_quantize_model.load, os, ultralytics.utils as u; print(os.environ['YOLO_OFFLINE'], u.ONLINE)"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.split() == ["1", "False"], (p.stdout, p.stderr[-1500:])
