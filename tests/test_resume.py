"""Long runs resume: a `--mode all` run killed (SIGKILL) while it evaluates its second mode, then `aqm run --resume`d,
gives the same artifacts (sha256) and metrics as an uninterrupted run, and does not redo what it had finished."""
import hashlib, json, signal, time
from pathlib import Path
import pytest
from conftest import aqm, aqm_popen, assert_one_line_error

# Cheap quantization (round to nearest, percentile ranges, no ranking or budget): the test is about what a resume redoes.
ARGS = ("run", "--weights", "demo", "--data-root", "demo", "--mode", "all", "--imgsz", 96, "--max-images", 96,
        "--calib-images", 8, "--algorithm", "rtn", "--act-quant", "asym", "--act-calib-images", 4, "--act-rank-images", 0, "--act-float", 0,
        "--keep-8bit-budget", 0, "--bootstrap", 5, "--providers", "cpu")
METRIC_KEYS = ("mAP_50_95", "mAP_50", "stats", "per_class_AP", "images", "ground_truth_boxes", "detections")

def sha256(p): return hashlib.sha256(Path(p).read_bytes()).hexdigest()

def artifacts(run) -> dict:
    "sha256 of every ONNX file and predictions file of a run, by path inside it."
    return {str(p.relative_to(run)): sha256(p) for p in sorted(run.rglob("*")) if p.suffix == ".onnx" or p.name == "predictions.json"}

def metrics(run) -> dict:
    "The accuracy numbers of every model of a run (not its timings)."
    return {str(p.relative_to(run)): {k: json.loads(p.read_text())[k] for k in METRIC_KEYS} for p in sorted(run.rglob("metrics.json"))}

def deltas(run) -> dict:
    return {p.name: {k: v for k, v in json.loads(p.read_text()).items() if "ms" not in k and "latency" not in k and k not in ("fp32", "quant")}
            for p in sorted(run.glob("deltas_*.json"))}

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    "An uninterrupted run, and the same run killed while its second mode's predictions are kept, then resumed."
    root = tmp_path_factory.mktemp("resume")
    whole = aqm(*ARGS, "--run-root", root, "--run-id", "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    p = aqm_popen(*ARGS, "--run-root", root, "--run-id", "cut")
    shards, started = root/"cut/ptq-w8a16-coco/shards", time.time()
    while not (shards.is_dir() and any(shards.glob("shard-*.json"))):
        assert p.poll() is None and time.time() - started < 900, "the run ended before its second mode's evaluation"
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait(timeout=60)
    killed = json.loads((root/"cut/progress.json").read_text())
    resumed = aqm("run", "--resume", root/"cut")
    return root/"whole", root/"cut", killed, resumed

def test_killed_run_was_left_running(runs):
    _, cut, killed, _ = runs
    assert "evaluate w4a16" in killed and "evaluate w8a16" not in killed, sorted(killed)
    assert all(f"quantize {m}" in killed for m in ("w4a16", "w8a16", "w4a8", "w8a8"))

def test_resume_gives_the_same_artifacts_and_metrics(runs):
    whole, cut, killed, resumed = runs
    assert resumed.returncode == 0 and "resuming run directory" in resumed.stdout, resumed.stderr[-2000:]
    rec = json.loads((cut/"run.json").read_text())
    assert rec["status"] == "done" and len(rec["resumed"]) == 1
    assert artifacts(cut) == artifacts(whole)
    assert metrics(cut) == metrics(whole) and deltas(cut) == deltas(whole)
    assert not list(cut.rglob("shards"))  # checkpoints go once the metrics are written

def test_resume_redoes_nothing_it_had_finished(runs):
    _, cut, killed, _ = runs
    now = json.loads((cut/"progress.json").read_text())
    for step, done in killed.items():  # every step finished before the kill is untouched: same files, same sha256
        assert now[step] == done, step

def test_a_finished_or_changed_run_does_not_resume(runs, tmp_path):
    import shutil
    whole, cut, _, _ = runs
    assert_one_line_error(aqm("run", "--resume", whole), "finished: nothing to resume")
    assert_one_line_error(aqm("run", "--resume", tmp_path), "holds no run.json")
    assert_one_line_error(aqm("run", "--resume", cut, "--mode", "w4a16"), "--resume continues a run with its recorded options")
    other = tmp_path/"other"; shutil.copytree(whole, other)  # a stopped run whose finished artifact was changed since
    rec = json.loads((other/"run.json").read_text()); (other/"run.json").write_text(json.dumps(dict(rec, status="failed")))
    with open(next((other/"onnx").glob("*-w4a16-qcdq-ptq.onnx")), "ab") as f: f.write(b"0")
    assert_one_line_error(aqm("run", "--resume", other), "changed or went since", "w4a16-qcdq-ptq.onnx")
