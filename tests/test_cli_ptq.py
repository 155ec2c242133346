"`aqm ptq` end to end: the run layout, the QCDQ graph, the smoke check, with real YOLOv10 architectures; `aqm sensitivity`, and `aqm eval` of a ptq run on its calibration ids."
import json, shutil
from pathlib import Path
import onnx, pytest
from conftest import aqm, assert_one_line_error

def ptq_run(tmp_path, weights, imgsz, run_id="t1"):
    p = aqm("ptq", "--weights", weights, "--mode", "w4a16", "--run-root", tmp_path, "--run-id", run_id, "--imgsz", imgsz)
    assert p.returncode == 0, p.stderr[-3000:]
    return tmp_path/run_id, p.stdout

def check_run(run, stem, n_quant):
    assert sorted(x.name for x in run.iterdir()) == ["onnx", "progress.json", "ptq_w4a16_export.json", "ptq_w4a16_smoke.json", "run.json"]
    fp, q = run/"onnx"/f"{stem}-fp32.onnx", run/"onnx"/f"{stem}-w4a16-qcdq-ptq.onnx"
    for f in (fp, q): onnx.checker.check_model(str(f), full_check=True)
    ex = json.loads((run/"ptq_w4a16_export.json").read_text())
    assert (ex["quant"]["QuantizeLinear"], ex["quant"]["DequantizeLinear"], ex["quant"]["Clip"]) == (0, n_quant, n_quant)
    assert ex["quant"]["initializers_as_inputs"] == 0 and ex["fp32"]["initializers_as_inputs"] == 0
    assert ex["skipped_layers"] == ["model.23.dfl.conv"]
    assert all(r["granularity"] == "per_channel" and r["max_levels_per_channel"] <= 16 for r in ex["layers"] if r["bits"])
    sm = json.loads((run/"ptq_w4a16_smoke.json").read_text())
    used = sm["providers_quant"]["used"]
    assert used[0] in ("CPUExecutionProvider", "CUDAExecutionProvider")
    if "CUDAExecutionProvider" not in used: assert sm["providers_quant"]["fallback_reason"]
    assert sm["quant_onnx_vs_torch"]["relative"] < 1e-3, sm["quant_onnx_vs_torch"]
    rec = json.loads((run/"run.json").read_text())
    assert rec["status"] == "done" and rec["args"]["mode"] == "w4a16"
    return ex, sm, rec

def test_ptq_yolov10n(tmp_path):
    run, out = ptq_run(tmp_path, "yolov10n.yaml", 256)
    check_run(run, "yolov10n", 82)
    assert "time: quantize + export + smoke" in out

@pytest.mark.slow
def test_ptq_yolov10m_acceptance(tmp_path):
    "The foundation acceptance: yolov10m, 640, every fused conv but DFL quantized (117)."
    run, out = ptq_run(tmp_path, "yolov10m.yaml", 640)
    ex, sm, rec = check_run(run, "yolov10m", 117)
    assert ex["quant_to_fp32_size_ratio"] < 0.3
    print(out)

def test_ptq_fp16_and_int4_variants(tmp_path):
    "--fp16 and --int4 write their variants beside the QCDQ artifact, check them and say so."
    p = aqm("ptq", "--weights", "yolov10n.yaml", "--run-root", tmp_path, "--run-id", "v", "--imgsz", 256, "--fp16", "--int4")
    assert p.returncode == 0, p.stderr[-3000:]
    onnx_dir = tmp_path/"v"/"onnx"
    assert sorted(x.name for x in onnx_dir.iterdir()) == ["yolov10n-fp32.onnx", "yolov10n-w4a16-qcdq-ptq-fp16.onnx",
                                                          "yolov10n-w4a16-qcdq-ptq.onnx", "yolov10n-w4a16-qdq-int4.onnx"]
    g = onnx.load(str(onnx_dir/"yolov10n-w4a16-qcdq-ptq-fp16.onnx")).graph
    assert [v.type.tensor_type.elem_type for v in (*g.input, *g.output)] == [onnx.TensorProto.FLOAT16] * 2
    sm = json.loads((tmp_path/"v"/"ptq_w4a16_smoke.json").read_text())
    assert sm["fp16"]["done"] and sm["fp16"]["output_dtype"] == "float16", sm["fp16"]
    assert sm["fp16"]["vs_qcdq"]["relative"] < 2e-2, sm["fp16"]
    if "CUDAExecutionProvider" not in sm["fp16"]["providers"]["used"]: assert "CPU provider" in sm["fp16"]["note"]
    assert sm["int4"]["exact"] is True, sm["int4"]  # pure 4-bit packed: the QCDQ model's outputs, bit for bit
    assert "yolov10n-w4a16-qcdq-ptq-fp16.onnx" in p.stdout and "relative output difference vs QCDQ" in p.stdout, p.stdout

def test_ptq_group_wise_scales_and_the_8bit_preset(tmp_path):
    "--group-size and --bits-preset: group-wise convs exported by the project match torch; the 8-bit convs are named."
    p = aqm("ptq", "--weights", "yolov10n.yaml", "--run-root", tmp_path, "--run-id", "g", "--imgsz", 256,
            "--group-size", 32, "--bits-preset", "first-last8", "--fp16", "--int4")
    assert p.returncode == 0, p.stderr[-3000:]
    ex = json.loads((tmp_path/"g"/"ptq_w4a16_export.json").read_text())
    grouped = [r for r in ex["layers"] if r["granularity"] == "per_group32"]
    assert len(grouped) > 40 and all(r["bits"] == 4 for r in grouped)
    assert ex["quant"]["DequantizeLinear"] == sum(1 for r in ex["layers"] if r["bits"])
    off = {r["name"]: r["bits"] for r in ex["not_at_mode_bits"]}
    assert off == {"model.0.conv": 8, "model.23.dfl.conv": "float",
                   **{f"model.23.one2one_cv{b}.{k}.2": 8 for b in (2, 3) for k in range(3)}}, off
    sm = json.loads((tmp_path/"g"/"ptq_w4a16_smoke.json").read_text())
    assert sm["quant_onnx_vs_torch"]["relative"] < 1e-3, sm["quant_onnx_vs_torch"]
    assert sm["fp16"]["done"] and sm["fp16"]["vs_qcdq"]["relative"] < 2e-2, sm["fp16"]
    assert sm["int4"]["vs_qcdq"]["relative"] <= 1e-4, sm["int4"]  # 4-bit convs packed, the 8-bit ones left int8
    assert "groups of 32 input channels" in p.stdout and "not at 4 bits: model.0.conv (8)" in p.stdout, p.stdout

# On the bundled real photos: ptq then eval on the calibration ids, and the sensitivity command of each weight width.
@pytest.mark.parametrize("mode", ["w4a16", "w8a8"])  # weights only, and weights with activations: the two ways a model is calibrated
def test_ptq_then_eval_of_its_float_baseline_on_calibration_ids(real_coco, tmp_path, mode):
    val = ("--images", real_coco/"val2017", "--annotations", real_coco/"annotations/instances_val2017.json")
    p = aqm("ptq", "--weights", "real", "--mode", mode, *val, "--calib-images", 4, "--imgsz", 64, "--algorithm", "rtn",
            "--act-rank-images", 0, "--act-float", 0, "--keep-8bit-budget", 0, "--act-quant", "asym",
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

@pytest.mark.parametrize("mode", ["w4a8", "w8a16"])  # each weight width once, with and without the activation ranking
def test_sensitivity_of_each_weight_width(tmp_path, mode):
    p = aqm("sensitivity", "--weights", "real", "--mode", mode, "--data-root", "real", "--calib-images", 2, "--imgsz", 64,
            "--algorithm", "rtn", "--act-quant", "asym", "--keep-8bit-budget", 0, "--run-root", tmp_path, "--run-id", "s")
    assert p.returncode == 0 and f"sensitivity_{mode}.json" in p.stdout, p.stderr[-2000:]

def test_qat_stage_on_the_demo(tmp_path):
    "--qat (here on the labels): the stage runs after PTQ on the calibration ids only, is named and recorded, its export matches the trained torch model, and the model before it is scored too."
    p = aqm("run", "--weights", "demo", "--data-root", "demo", "--imgsz", 64, "--calib-images", 8, "--max-images", 4, "--bootstrap", 20,
            "--providers", "cpu", "--keep-8bit-budget", "0", "--qat", "--qat-loss", "labels", "--qat-steps", 3, "--int4",
            "--run-root", tmp_path, "--run-id", "q")
    assert p.returncode == 0, p.stderr[-3000:]
    run = tmp_path/"q"
    rec, ex = json.loads((run/"run.json").read_text()), json.loads((run/"ptq_w4a16_export.json").read_text())
    q = rec["qat"]["w4a16"]
    assert (q["steps"], len(q["loss_curve"]), q["images"], q["seed"]) == (3, 3, 8, 0), q
    assert rec["args"]["qat"] is True and rec["args"]["qat_steps"] == 3 and ex["ptq"]["qat"]["steps"] == 3
    assert (q["objective"], rec["args"]["qat_loss"]) == ("labels", "labels") and "detection loss on their labels" in p.stdout, q
    evaluated = set((run/"image_ids.txt").read_text().split())
    trained = set((run/"calib_ids.txt").read_text().split())
    assert len(trained) == 8 and not trained & evaluated and {str(i) for i in rec["calibration"]["ids"]} == trained
    assert "then QAT (3 steps on the calibration images" in p.stdout, p.stdout
    sm = json.loads((run/"ptq_w4a16_smoke.json").read_text())
    assert sm["quant_onnx_vs_torch"]["relative"] < 1e-3 and sm["quant_onnx_vs_torch"]["rows_compared"] > 0, sm["quant_onnx_vs_torch"]
    assert sm["int4"]["vs_qcdq"]["relative"] < 1e-6, sm["int4"]  # learned scales: the same integers, float rounding apart
    d = json.loads((run/"deltas_w4a16.json").read_text())  # the PTQ model before QAT, evaluated on the same ids
    before = json.loads((run/"ptq-w4a16-before-qat-coco"/"metrics.json").read_text())
    assert (run/"onnx"/"yolov10-demo-w4a16-qcdq-ptq-before-qat.onnx").is_file() and before["images"] == 4, before
    assert abs(d["qat_gain_mAP_50_95"]["delta"] - (d["delta_mAP_50_95"] - d["before_qat"]["delta_mAP_50_95"])) < 1e-9, d
    assert d["qat_gain_mAP_50_95"]["interval"]["resamples"] == 20 and d["before_qat"]["delta_mAP_50_95_interval"]["resamples"] == 20, d
    assert "yolov10-demo-w4a16-qcdq-ptq-before-qat.onnx: the PTQ model before QAT" in p.stdout, p.stdout
    assert "    QAT: delta mAP50-95 " in p.stdout and "yolov10-demo-w4a16-qcdq-ptq-before-qat.onnx" in json.dumps(rec["artifacts"]), p.stdout

def test_qat_on_a_plain_image_folder(real_coco, tmp_path):
    "--calib-image-dir without --calib-annotations: unlabeled photos calibrate and train QAT; run.json names the folder and no labels."
    folder = tmp_path/"photos"; folder.mkdir()
    for p in sorted((real_coco/"train2017").iterdir())[:4]: shutil.copy(p, folder/p.name)
    (folder/"README.txt").write_text("not an image")
    p = aqm("ptq", "--weights", "real", "--imgsz", 64, "--calib-image-dir", folder, "--calib-images", 3, "--providers", "cpu",
            "--keep-8bit-budget", "0", "--qat", "--qat-steps", 2, "--run-root", tmp_path, "--run-id", "f")
    assert p.returncode == 0, p.stderr[-3000:]
    rec = json.loads((tmp_path/"f"/"run.json").read_text())
    assert rec["calibration"]["source"] == {"images_dir": str(folder), "annotations": None}, rec["calibration"]
    assert len(rec["calibration"]["ids"]) == 3 and set(rec["calibration"]["ids"]) <= {1, 2, 3, 4} and rec["qat"]["w4a16"]["images"] == 3, rec["qat"]
    assert "then QAT (2 steps on the calibration images" in p.stdout and "from photos" in p.stdout, p.stdout
    p = aqm("ptq", "--weights", "real", "--imgsz", 64, "--calib-image-dir", folder, "--calib-images", 3, "--providers", "cpu",
            "--keep-8bit-budget", "0", "--qat", "--qat-loss", "labels", "--run-root", tmp_path, "--run-id", "g")
    assert_one_line_error(p, "--qat-loss labels trains on the calibration images' annotations"); assert not (tmp_path/"g").exists()
