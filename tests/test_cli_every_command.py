"""`aqm run --mode all` through the installed `aqm` entry point on the bundled real photos, and `aqm eval` of each of its models: exit 0 and
a summary, never a traceback. The `run --mode all` here also calibrates on one image set and evaluates all of another."""
import json, os, stat
from pathlib import Path
import pytest
from conftest import A8_SCORE_BOUND, aqm

MODES = ["w4a16", "w8a16", "w4a8", "w8a8"]

def umask_027(): os.umask(0o027)

@pytest.fixture(scope="module")
def run_all(tmp_path_factory, real_coco):
    "`aqm run --mode all --fp16 --int4` at the model's 256 px: calibrated on the bundled train2017 photos, every val2017 photo evaluated, umask 027."
    root = tmp_path_factory.mktemp("runs")
    p = aqm("run", "--weights", "real", "--data-root", "real", "--calib-data-root", "real", "--mode", "all", "--fp16", "--int4",
            "--max-images", 100_000, "--calib-images", 16, "--act-calib-images", 4, "--act-rank-images", 0, "--act-float", 0, "--bootstrap", 20, "--providers", "cpu", "--run-root", root,
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
    reused = {md: json.loads((d/f"ptq_{md}_export.json").read_text())["ptq"].get("recovery_reused") for md in MODES}
    assert reused == dict(w4a16=False, w8a16=None, w4a8=True, w8a8=None), reused  # W4A8 ranks its 8-bit convs with W4A16's GPTQ

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

# The product's numbers on a trained model: each mode's Δ mAP50-95 against FP32 may not fall below what was measured
# (this module's `run_all`, one torch thread) by more than the stated margin; the FP32 baseline must stay what Ultralytics'
# own tools give for this model (tests/test_real_photos.py).
REAL_FP32 = 0.6092
# Measured 2026-12-05 on two CPUs (float sums round differently, and GPTQ's choices follow): an AVX-512 VNNI one, before
# integer graphs rounded 8-bit weights to 7 bits and with 16 activation images (w4a16 -1.05, w8a16 -0.12, w4a8 -1.67,
# w8a8 -0.96), and an AVX2 one with this fixture as it is (-1.33, -0.14, -2.12, -1.02). Bound: the lower of the two less
# a 0.75-point margin. A per-tensor absmax weight quantizer swapped in gave w4a16 -5.71 and w4a8 -5.37 (on the first).
REAL_DELTA_BOUNDS = dict(w4a16=-2.1, w8a16=-0.9, w4a8=-2.9, w8a8=-1.8)  # points

def test_accuracy_bounds_on_real_photos(run_all):
    d, p = run_all
    assert p.returncode == 0, p.stderr[-2000:]
    fp = json.loads((d/"baseline-fp32-coco/metrics.json").read_text())["mAP_50_95"]
    assert abs(fp - REAL_FP32) < 1e-4, fp
    got = {md: 100 * json.loads((d/f"deltas_{md}.json").read_text())["delta_mAP_50_95"] for md in MODES}
    print("real photos, Δ mAP50-95 points:", {k: round(v, 2) for k, v in got.items()})
    assert all(got[md] >= REAL_DELTA_BOUNDS[md] for md in MODES), (got, REAL_DELTA_BOUNDS)

def test_int4_is_the_qcdq_model_and_fp16_keeps_its_accuracy(run_all):
    d, _ = run_all
    sm = json.loads((d/"ptq_w4a16_smoke.json").read_text())
    i4 = sm["int4"]["vs_qcdq"]  # packed INT4 (the budget's 8-bit convs left int8): the QCDQ outputs up to float rounding
    assert i4["rows_compared"] > 0 and i4["score_max_abs_diff"] <= 1e-5 and i4["relative"] <= 1e-6, sm["int4"]
    for md in MODES:  # the FP16 variant of each mode, scored on the same photos: within a point of its QCDQ model
        dl = json.loads((d/f"deltas_{md}.json").read_text())
        assert abs(dl["fp16"]["delta_mAP_50_95"] - dl["delta_mAP_50_95"]) < 0.01, (md, dl["fp16"]["delta_mAP_50_95"], dl["delta_mAP_50_95"])

def test_onnx_matches_torch_on_a_trained_model(run_all):
    d, _ = run_all
    for md in MODES:
        od = json.loads((d/f"ptq_{md}_smoke.json").read_text())["quant_onnx_vs_torch"]
        assert od["rows_compared"] > 0, (md, od)  # scores large enough to match rows: the comparison means something
        if md.endswith("a16"): assert od["relative"] <= 1e-3, (md, od)
        else: assert od["score_max_abs_diff"] <= A8_SCORE_BOUND, (md, od)
