"""`aqm run --mode all` on the bundled demo: every mode's artifacts named after it, calibration disjoint from
evaluation, and the report of that run."""
import json, subprocess, sys
import pytest
from conftest import aqm

MODES = ["w4a16", "w8a16", "w4a8", "w8a8"]

@pytest.fixture(scope="module")
def demo_all_run(tmp_path_factory):
    "One `aqm run --mode all` on 12 demo images, 16 calibration images: every mode against one FP32 baseline."
    root = tmp_path_factory.mktemp("all")
    r = aqm("run", "--weights", "demo", "--data-root", "demo", "--mode", "all", "--max-images", "12",
            "--calib-images", "16", "--providers", "cpu", "--run-root", root, "--run-id", "r")
    assert r.returncode == 0, r.stderr[-2000:]
    for md in MODES: assert f"  {md}: mAP50-95" in r.stdout, r.stdout
    return root/"r"

@pytest.mark.parametrize("mode", MODES)
def test_run_mode(demo_all_run, mode):
    d = demo_all_run
    for f in (f"onnx/yolov10-demo-{mode}-qcdq-ptq.onnx", f"ptq_{mode}_export.json", f"ptq-{mode}-coco/metrics.json",
              f"deltas_{mode}.json", "calib_ids.txt", "image_ids.txt"):
        assert (d/f).is_file(), f
    ev = {int(x) for x in (d/"image_ids.txt").read_text().split()}
    cal = {int(x) for x in (d/"calib_ids.txt").read_text().split()}
    assert len(ev) == 12 and len(cal) == 16 and not ev & cal
    ex = json.loads((d/f"ptq_{mode}_export.json").read_text())
    n_quant = sum(r["bits"] is not None for r in ex["layers"])
    assert {r["bits"] for r in ex["layers"] if r["bits"]} == {int(mode[1])}
    if mode.endswith("a8"):  # one input QuantizeLinear per quantized conv (convs reading one tensor share none)
        assert 0 < ex["quant"]["QuantizeLinear"] <= n_quant
        act = ex["ptq"]["activations"]  # each quantized conv's input ranked by the output error it causes alone
        assert len(act) == n_quant and ex["ptq"]["activations_images"] == 4, (len(act), n_quant)
        assert {r["name"] for r in act} <= {r["name"] for r in ex["layers"] if r["bits"]}
        assert [r["output_sqnr_db"] for r in act] == sorted(r["output_sqnr_db"] for r in act)
    else:
        assert ex["quant"]["QuantizeLinear"] == 0 and "activations" not in ex["ptq"]
    sm = json.loads((d/f"ptq_{mode}_smoke.json").read_text())
    # ONNX Runtime vs the quantized torch model. Weight-only graphs agree to float rounding. In A8 graphs ORT and torch
    # sum in different orders, so an activation within float rounding of a .5 step lands on the neighbouring int8
    # level, and such one-step flips compound over ~60 quantized inputs: on 5 demo images the score differences
    # measured 0 to 0.054 (w4a8) and 0.012 to 0.071 (w8a8), against at most 1e-4 for A16. The bound allows for that,
    # not for a wrong graph (a missing or mis-scaled quantizer moves scores by far more than 0.1).
    od = sm["quant_onnx_vs_torch"]
    if mode.endswith("a16"): assert od["relative"] <= 1e-3, od
    else: assert od["score_max_abs_diff"] <= 0.1 and od["rows_compared"] > 0, od
    k = sm["kernels"]  # what ONNX Runtime runs: weights folded in both; A8 keeps its input Q/DQ pairs around float convs
    convs = lambda ops: sum(v for n, v in ops.items() if "Conv" in n)
    assert convs(k["quant"]) == convs(k["fp32"]) > 0, k
    if mode.endswith("a16"): assert k["quant"].get("DequantizeLinear", 0) == 0 and "QuantizeLinear" not in k["quant"], k
    else: assert k["quant"]["QuantizeLinear"] > 0 and k["quant"]["DequantizeLinear"] > 0, k
    dl = json.loads((d/f"deltas_{mode}.json").read_text())
    if mode == "w8a16": assert dl["delta_mAP_50_95"] > -0.02, dl  # the sanity check: 8-bit weights lose almost nothing

def test_report_of_mode_all_compares_every_mode_against_one_baseline(tmp_path, demo_all_run):
    "The report of an `aqm run --mode all` (re-rendered): every mode against one FP32 baseline."
    from test_report import papermill, Tables, fmt
    out = tmp_path/"all.ipynb"
    papermill(out, mode="all", weights="demo", run_root=str(demo_all_run.parent), run_id=demo_all_run.name)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--no-input", str(out)], check=True,
                   capture_output=True)
    p = Tables(); p.feed(out.with_suffix(".html").read_text())
    run = demo_all_run
    rows = {r[0]: r for r in p.tables["modes"][1:]}
    assert sorted(rows) == sorted(["w4a16", "w8a16", "w4a8", "w8a8"])
    fps = set()
    for md, r in rows.items():
        d = json.loads((run/f"deltas_{md}.json").read_text())
        assert r[1] == fmt(d["quant"]["mAP_50_95"]) and r[2] == f"{100 * d['delta_mAP_50_95']:+.2f}"
        fps.add(d["fp32"]["mAP_50_95"])
        assert f"metrics-{md}" in p.tables
    assert len(fps) == 1  # one FP32 baseline for all
    assert len(list((run/"onnx").glob("*-qcdq-ptq.onnx"))) == 4 and len(list(run.glob("baseline-fp32-coco"))) == 1

def test_mode_all_on_ray_gives_the_same_artifacts_and_metrics(demo_all_run, tmp_path):
    """The same `aqm run --mode all` on a local Ray runtime: the modes quantized as Ray tasks side by side, every evaluation
    sharded over two workers; every artifact, predictions file and metric is the local run's, to the last digit."""
    r = aqm("run", "--weights", "demo", "--data-root", "demo", "--mode", "all", "--max-images", "12", "--calib-images", "16",
            "--providers", "cpu", "--run-root", tmp_path, "--run-id", "r", "--ray", "--ray-workers", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    local, on_ray = demo_all_run, tmp_path/"r"
    for md in MODES:
        f = f"onnx/yolov10-demo-{md}-qcdq-ptq.onnx"
        assert (on_ray/f).read_bytes() == (local/f).read_bytes(), f
    for d in ["baseline-fp32-coco"] + [f"ptq-{md}-coco" for md in MODES]:
        assert (on_ray/d/"predictions.json").read_bytes() == (local/d/"predictions.json").read_bytes(), d
        a, b = (json.loads((x/d/"metrics.json").read_text()) for x in (on_ray, local))
        for k in ("mAP_50_95", "mAP_50", "stats", "per_class_AP", "detections", "images"): assert a[k] == b[k], (d, k)
        assert (a["ran_on"]["engine"], a["ran_on"]["workers"], b["ran_on"]["engine"]) == ("ray", 2, "local")
    rec = json.loads((on_ray/"run.json").read_text())
    assert (rec["status"], rec["ran_on"]["engine"], rec["ran_on"]["nodes"]) == ("done", "ray", 1)

def test_failed_ray_tasks_are_named_and_the_run_records_failed(tmp_path):
    """A mode's Ray task that fails (here: every mode's smoke check meets an unreadable image) is reported on one line
    with the mode's name and its error, never as a traceback, and `run.json` records `failed` with that reason."""
    from conftest import assert_one_line_error
    bad = tmp_path/"broken.jpg"; bad.write_bytes(b"not a jpeg")
    r = aqm("ptq", "--weights", "demo", "--data-root", "demo", "--mode", "all", "--calib-images", "4", "--algorithm", "rtn",
            "--providers", "cpu", "--smoke-image", bad, "--run-root", tmp_path, "--run-id", "r", "--ray")
    assert_one_line_error(r, "on Ray: ", "w4a16 failed: cannot read image", "w8a8 failed: cannot read image")
    rec = json.loads((tmp_path/"r/run.json").read_text())
    assert rec["status"] == "failed" and "w4a8 failed: cannot read image" in rec["reason"], rec
    assert not [p for p in (tmp_path/"r").rglob(".*")], "a half-written (temporary) file was left behind"
