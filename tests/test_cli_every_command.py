"""Every subcommand with every mode through the installed `aqm` entry point, on the bundled real photos: exit 0 and
a summary, never a traceback. The `run --mode all` here also calibrates on one image set and evaluates all of another."""
import json, os, stat
from pathlib import Path
import pytest
from conftest import aqm

MODES = ["w4a16", "w8a16", "w4a8", "w8a8"]

def umask_027(): os.umask(0o027)

@pytest.fixture(scope="module")
def run_all(tmp_path_factory, real_coco):
    "`aqm run --mode all`: calibrated on the bundled train2017 photos, every val2017 photo evaluated, umask 027."
    root = tmp_path_factory.mktemp("runs")
    p = aqm("run", "--weights", "real", "--data-root", "real", "--calib-data-root", "real", "--mode", "all",
            "--max-images", 100_000, "--calib-images", 8, "--imgsz", 128, "--providers", "cpu", "--run-root", root,
            "--run-id", "all", preexec_fn=umask_027)
    return root/"all", p

def test_run_mode_all_ends_with_a_summary(run_all, real_coco):
    d, p = run_all
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-3000:]
    for md in MODES: assert f"  {md}: mAP50-95" in p.stdout, p.stdout
    rec = json.loads((d/"run.json").read_text())
    n_val = len(json.loads((real_coco/"annotations/instances_val2017.json").read_text())["images"])
    assert rec["status"] == "done" and rec["images"] == n_val  # every evaluation image
    assert rec["calibration"]["source"]["annotations"].endswith("instances_train2017.json")
    assert rec["calibration"]["ids"] == [int(x) for x in (d/"calib_ids.txt").read_text().split()]

def test_run_files_follow_the_umask(run_all):
    d, _ = run_all
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in d.rglob("*") if f.is_file()}
    assert modes and set(modes.values()) == {0o640}, modes

@pytest.mark.parametrize("which", ["fp32"] + MODES)
def test_eval_every_model_of_the_run(run_all, tmp_path, which):
    d, _ = run_all
    onnx = next((d/"onnx").glob(f"*-{which}.onnx" if which == "fp32" else f"*-{which}-qcdq-ptq.onnx"))
    p = aqm("eval", "--onnx", onnx, "--data-root", "real", "--image-ids-list", d/"image_ids.txt", "--out", tmp_path/"e",
            "--providers", "cpu")
    assert p.returncode == 0, p.stderr[-2000:]
    ours = json.loads((tmp_path/"e/metrics.json").read_text())["mAP_50_95"]
    run_dir = "baseline-fp32-coco" if which == "fp32" else f"ptq-{which}-coco"
    assert ours == json.loads((d/run_dir/"metrics.json").read_text())["mAP_50_95"]  # the same model, ids, numbers

@pytest.mark.parametrize("mode", MODES)
def test_ptq_then_eval_of_its_float_baseline_on_calibration_ids(real_coco, tmp_path, mode):
    val = ("--images", real_coco/"val2017", "--annotations", real_coco/"annotations/instances_val2017.json")
    p = aqm("ptq", "--weights", "real", "--mode", mode, *val, "--calib-images", 4, "--imgsz", 64,
            "--providers", "cpu", "--run-root", tmp_path, "--run-id", "p")
    assert p.returncode == 0 and "time: quantize" in p.stdout, p.stderr[-2000:]
    # the float graph was never calibrated: its calibration ids are fair evaluation ids
    e = aqm("eval", "--onnx", next((tmp_path/"p/onnx").glob("*-fp32.onnx")), *val,
            "--image-ids-list", tmp_path/"p/calib_ids.txt", "--out", tmp_path/"e", "--providers", "cpu")
    assert e.returncode == 0, e.stderr[-2000:]
    # the quantized one was: refused, one line
    q = aqm("eval", "--onnx", next((tmp_path/"p/onnx").glob("*-qcdq-ptq.onnx")), *val,
            "--image-ids-list", tmp_path/"p/calib_ids.txt", "--out", tmp_path/"q", "--providers", "cpu")
    assert q.returncode == 2 and "calibrated this model" in q.stderr, q.stderr

@pytest.mark.parametrize("mode", MODES)
def test_sensitivity_every_mode(tmp_path, mode):
    p = aqm("sensitivity", "--weights", "real", "--mode", mode, "--data-root", "real", "--calib-images", 2, "--imgsz", 64,
            "--run-root", tmp_path, "--run-id", "s")
    assert p.returncode == 0 and f"sensitivity_{mode}.json" in p.stdout, p.stderr[-2000:]
