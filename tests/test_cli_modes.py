"""`aqm run --mode all` on the bundled demo: every mode's artifacts named after it, calibration disjoint from
evaluation, and the report of that run."""
import json, subprocess, sys
import pytest
from conftest import A8_SCORE_BOUND, aqm

MODES = ["w4a16", "w8a16", "w4a8", "w8a8"]

# What the artifacts of each mode hold (these tests), on few images; the demo's accuracy bounds (a slow test below) on more.
ALL_ARGS = ("run", "--weights", "demo", "--data-root", "demo", "--mode", "all", "--max-images", 24, "--calib-images", 8,
            "--act-calib-images", 2, "--bootstrap", 10, "--providers", "cpu")
BOUNDS_ARGS = ("run", "--weights", "demo", "--data-root", "demo", "--mode", "all", "--max-images", 40, "--calib-images", 16,
               "--act-calib-images", 4, "--bootstrap", 20, "--providers", "cpu")

def run_all_modes(root, args):
    "One `aqm run --mode all` (every mode against one FP32 baseline) under `root`: its run directory."
    r = aqm(*args, "--run-root", root, "--run-id", "r")
    assert r.returncode == 0, r.stderr[-2000:]
    for md in MODES: assert f"  {md}: mAP50-95" in r.stdout, r.stdout
    return root/"r"

@pytest.fixture(scope="module")
def demo_all_run(tmp_path_factory):
    "One `aqm run --mode all` on 24 demo images, 8 calibration images."
    return run_all_modes(tmp_path_factory.mktemp("all"), ALL_ARGS)

@pytest.mark.parametrize("mode", MODES)
def test_run_mode(demo_all_run, mode):
    d = demo_all_run
    for f in (f"onnx/yolov10-demo-{mode}-qcdq-ptq.onnx", f"ptq_{mode}_export.json", f"ptq-{mode}-coco/metrics.json",
              f"deltas_{mode}.json", "calib_ids.txt", "image_ids.txt"):
        assert (d/f).is_file(), f
    ev = {int(x) for x in (d/"image_ids.txt").read_text().split()}
    cal = {int(x) for x in (d/"calib_ids.txt").read_text().split()}
    assert len(ev) == 24 and len(cal) == 8 and not ev & cal
    ex = json.loads((d/f"ptq_{mode}_export.json").read_text())
    n_quant = sum(r["bits"] is not None for r in ex["layers"])
    bits = {r["bits"] for r in ex["layers"] if r["bits"]}
    if mode[1] == "4":  # the default budget: the convs that recover most, within 5 % of the weights, at 8 bits
        b = ex["ptq"]["keep_8bit_budget"]  # and the stored tensors it costs: half a byte more per 8-bit weight
        assert bits == {4, 8} and (b["asked"], b["used"]) == ("auto", "5%") and 1 < b["stored_ratio"] <= 1.05, b
        n8, n = (sum(r["n_weights"] for r in ex["layers"] if r["bits"] in b) for b in ((8,), (4, 8)))
        assert 0 < n8 <= 0.05 * n, (n8, n)
    else: assert bits == {8}
    if mode.endswith("a8"):  # the integer graph: every quantized conv's input and output, and SiLU's two steps, quantized
        assert ex["quant"]["QuantizeLinear"] > n_quant, (ex["quant"]["QuantizeLinear"], n_quant)
        act = ex["ptq"]["activations"]  # each activation quantizer ranked by the output error it causes alone
        assert len(act) > n_quant and len({r["name"] for r in act}) == len(act) and ex["ptq"]["activations_images"] == 4
        assert [r["output_sqnr_db"] for r in act] == sorted(r["output_sqnr_db"] for r in act)
        fl = ex["ptq"]["act_float"]  # `--act-float 4`: the costliest of them left float, in ranking order
        assert len(fl) == 4 and fl == sorted(fl, key=[r["name"] for r in act].index), fl
    else:
        assert ex["quant"]["QuantizeLinear"] == 0 and "activations" not in ex["ptq"]
    sm = json.loads((d/f"ptq_{mode}_smoke.json").read_text())
    # ONNX Runtime vs the quantized torch model: weight-only graphs agree to float rounding (at most 1e-4 measured), A8
    # graphs within `A8_SCORE_BOUND` (conftest: one-step rounding flips compound over the quantized layers).
    od = sm["quant_onnx_vs_torch"]
    if mode.endswith("a16"): assert od["relative"] <= 1e-3 and od["rows_compared"] > 0, od
    else: assert od["score_max_abs_diff"] <= A8_SCORE_BOUND and od["rows_compared"] > 0, od
    k = sm["kernels"]  # what ONNX Runtime runs: weights folded in both; A8 keeps its input Q/DQ pairs around float convs
    convs = lambda ops: sum(v for n, v in ops.items() if "Conv" in n)
    assert convs(k["quant"]) == convs(k["fp32"]) > 0, k
    if mode.endswith("a16"): assert k["quant"].get("DequantizeLinear", 0) == 0 and "QuantizeLinear" not in k["quant"], k
    else:  # the integer A8 graph: every quantized conv runs as QLinearConv but the head's last of each branch and at
        # most two for each quantizer left float (`--act-float`)
        assert k["quant"].get("QLinearConv", 0) >= n_quant - 6 - 2 * len(ex["ptq"]["act_float"]) and k["quant"].get("QLinearSigmoid", 0) > 0, (k, n_quant)
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

@pytest.mark.slow  # lighter twins in `make test`: test_demo_run's sharded evaluation on Ray, and the failed Ray tasks below
def test_mode_all_on_ray_gives_the_same_artifacts_and_metrics(demo_all_run, tmp_path):
    """The same `aqm run --mode all` on a local Ray runtime: the modes quantized as Ray tasks side by side, every evaluation
    sharded over two workers; every artifact, predictions file and metric is the local run's, to the last digit."""
    r = aqm(*ALL_ARGS, "--run-root", tmp_path, "--run-id", "r", "--ray", "--ray-workers", "2")
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
    """A mode's Ray task that fails (here: every mode meets a skip pattern that leaves no conv to quantize) is reported on
    one line with the mode's name and its error, never as a traceback, and `run.json` records `failed` with that reason."""
    from conftest import assert_one_line_error
    r = aqm("ptq", "--weights", "demo", "--data-root", "demo", "--mode", "all", "--calib-images", "4", "--algorithm", "rtn",
            "--providers", "cpu", "--skip", "*", "--run-root", tmp_path, "--run-id", "r", "--ray")
    assert_one_line_error(r, "on Ray: ", "w4a16 failed: no conv layer left to quantize", "w8a8 failed: no conv layer left")
    rec = json.loads((tmp_path/"r/run.json").read_text())
    assert rec["status"] == "failed" and "w4a8 failed: no conv layer left" in rec["reason"], rec
    assert not [p for p in (tmp_path/"r").rglob(".*")], "a half-written (temporary) file was left behind"

# The product's numbers on a trained model (the demo detector, 40 demo images, 16 calibration images, one torch thread;
# a slow test: the real-photo bounds of tests/test_cli_every_command.py run in `make test`):
# each mode's Δ mAP50-95 against FP32 may not fall below the measured value by more than the stated margin.
# Measured 2026-12-05 on two CPUs, as in tests/test_cli_every_command.py (the AVX-512 one before the 7-bit weights, with
# 16 activation images / the AVX2 one with this fixture as it is): w4a16 -1.13 / -0.40, w8a16 +0.31 / +0.31,
# w4a8 -1.46 / -2.16, w8a8 -0.25 / -1.70. Bound: the lower less 0.75 point.
DEMO_DELTA_BOUNDS = dict(w4a16=-1.9, w8a16=-0.45, w4a8=-2.9, w8a8=-2.45)  # points

@pytest.mark.slow
def test_accuracy_bounds_on_the_demo(tmp_path):
    d = run_all_modes(tmp_path, BOUNDS_ARGS)
    got = {md: 100 * json.loads((d/f"deltas_{md}.json").read_text())["delta_mAP_50_95"] for md in MODES}
    print("demo, Δ mAP50-95 points:", {k: round(v, 2) for k, v in got.items()})
    assert all(got[md] >= DEMO_DELTA_BOUNDS[md] for md in MODES), (got, DEMO_DELTA_BOUNDS)
