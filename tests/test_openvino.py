"""OpenVINO, the optional second runtime (`--runtime openvino`): the same artifacts on its CPU plugin. In float32
(`--ov-precision f32`) the bundled real-photo model scores what ONNX Runtime scores; the records say which runtime,
which precision was asked for and used, and which precision its convs ran in. Skipped, with the reason, where the
extra isn't installed (`make test` doesn't install it); the one-line error without it is always checked."""
import importlib.util, json, subprocess, sys
from pathlib import Path
import pytest
from conftest import aqm

HAVE_OPENVINO = importlib.util.find_spec("openvino") is not None
NO_OPENVINO = "openvino is not installed (the optional extra): pip install 'auto_quantize_model[openvino]'"
MAP_TOLERANCE = 0.002  # OpenVINO f32 vs ONNX Runtime, mAP50-95 and mAP50 on the same photos

def test_missing_extra_is_one_line_error_and_writes_nothing(tmp_path):
    "Without openvino (hidden from the import system), `aqm eval --runtime openvino` says how to install it and exits 2."
    (tmp_path/"m.onnx").write_bytes(b"not read")
    code = ("import sys; sys.modules['openvino'] = None; from auto_quantize_model.cli import main; sys.exit(main(sys.argv[1:]))")
    p = subprocess.run([sys.executable, "-c", code, "eval", "--onnx", tmp_path/"m.onnx", "--data-root", "real", "--max-images", "2",
                        "--out", tmp_path/"out", "--runtime", "openvino"], capture_output=True, text=True, timeout=300)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert lines[0] == "aqm: error: --runtime openvino needs the optional extra: pip install 'auto_quantize_model[openvino]'", lines
    assert not (tmp_path/"out").exists()

@pytest.fixture(scope="module")
def real_onnx(tmp_path_factory):
    "The bundled real-photo YOLOv10n at 256 px: its FP32 graph, and the INT4 graph of its round-to-nearest W4A16."
    pytest.importorskip("openvino", reason=NO_OPENVINO)
    from auto_quantize_model.export import export_brevitas_qcdq_onnx, export_fp32_onnx, qcdq_to_int4_qdq
    from auto_quantize_model.load import load_yolov10_detection_model
    from auto_quantize_model.ptq import quantize_model_brevitas_ptq
    from auto_quantize_model.spec import resolve_weights
    d, model = tmp_path_factory.mktemp("ov-onnx"), load_yolov10_detection_model(resolve_weights("real"))
    q = export_brevitas_qcdq_onnx(quantize_model_brevitas_ptq(model)[0], d/"w4a16-qcdq.onnx", 256)
    return dict(fp32=export_fp32_onnx(model, d/"fp32.onnx", 256), int4=qcdq_to_int4_qdq(q, d/"w4a16-int4.onnx"))

def evaluate(onnx, out, *runtime, images=100_000):
    "`aqm eval` of `onnx` on the bundled val2017 photos (all of them by default): its metrics.json."
    p = aqm("eval", "--onnx", onnx, "--data-root", "real", "--max-images", images, "--out", out, "--providers", "cpu", *runtime)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads((Path(out)/"metrics.json").read_text()), p.stdout

def test_fp32_on_openvino_f32_scores_as_onnxruntime(real_onnx, tmp_path):
    ort, _ = evaluate(real_onnx["fp32"], tmp_path/"ort")
    ov, out = evaluate(real_onnx["fp32"], tmp_path/"ov", "--runtime", "openvino", "--ov-precision", "f32")
    rec = ov["providers"]
    assert (rec["runtime"], rec["device"], rec["precision_requested"], rec["precision_used"]) == ("openvino", "CPU", "f32", "f32")
    assert rec["kernels"]["Convolution"] == {"f32": 83}, rec["kernels"]  # every conv of yolov10n, in float32
    assert ort["providers"]["runtime"] == "onnxruntime" and ov["images"] == ort["images"] == 49
    for k in ("mAP_50_95", "mAP_50"): assert abs(ov[k] - ort[k]) <= MAP_TOLERANCE, (k, ov[k], ort[k])
    assert "on OpenVINO CPU (f32)" in out, out

def test_default_precision_is_recorded(real_onnx, tmp_path):
    ov, _ = evaluate(real_onnx["fp32"], tmp_path/"ov", "--runtime", "openvino", images=8)
    rec = ov["providers"]
    assert rec["precision_requested"] == "default" and rec["precision_used"] in ("f32", "bf16", "f16"), rec
    assert set(rec["kernels"]["Convolution"]) == {rec["precision_used"]}, rec["kernels"]  # float convs run in the precision used

def test_int4_graph_compiles_and_scores_as_onnxruntime(real_onnx, tmp_path):
    "The INT4 file (its Split-fed 1x1 conv reading a Slice) compiles on OpenVINO, whose 1x1 convs then read the packed 4-bit weights."
    ort, _ = evaluate(real_onnx["int4"], tmp_path/"ort", images=16)
    ov, _ = evaluate(real_onnx["int4"], tmp_path/"ov", "--runtime", "openvino", "--ov-precision", "f32", images=16)
    fc = ov["providers"]["kernels"].get("FullyConnected", {})
    assert fc.get("u4", 0) >= 1, ov["providers"]["kernels"]
    assert ov["providers"]["dynamic_quantization_group_size"] == 0  # f32: no int8 activations on the fly
    for k in ("mAP_50_95", "mAP_50"): assert abs(ov[k] - ort[k]) <= MAP_TOLERANCE, (k, ov[k], ort[k])

def test_run_on_openvino_records_runtime_and_kernels(tmp_path):
    pytest.importorskip("openvino", reason=NO_OPENVINO)
    p = aqm("run", "--weights", "real", "--data-root", "real", "--mode", "w8a16", "--calib-images", 0, "--max-images", 4,
            "--bootstrap", 0, "--providers", "cpu", "--runtime", "openvino", "--ov-precision", "f32", "--run-root", tmp_path, "--run-id", "ov")
    assert p.returncode == 0, p.stderr[-2000:]
    rd = tmp_path/"ov"
    args = json.loads((rd/"run.json").read_text())["args"]
    assert (args["runtime"], args["ov_precision"]) == ("openvino", "f32")
    for m in ("baseline-fp32-coco", "ptq-w8a16-coco"):
        rec = json.loads((rd/m/"metrics.json").read_text())["providers"]
        assert (rec["runtime"], rec["precision_used"]) == ("openvino", "f32"), rec
    smoke = json.loads((rd/"ptq_w8a16_smoke.json").read_text())
    assert smoke["kernels_openvino"]["fp32"]["Convolution"] == {"f32": 83} and smoke["kernels"]["fp32"], smoke["kernels_openvino"]

def test_conv_input_a8_graph_runs_its_convs_in_int8(tmp_path):
    "`--a8-graph conv-inputs` (conv inputs quantized, as NNCF does; int8 weights with zero points at 0) runs every quantized conv in u8 on OpenVINO."
    pytest.importorskip("openvino", reason=NO_OPENVINO)
    import torch
    from auto_quantize_model.config import ptq_config_for_mode
    from auto_quantize_model.export import export_brevitas_qcdq_onnx
    from auto_quantize_model.load import load_yolov10_detection_model
    from auto_quantize_model.ort import create_ov_session
    from auto_quantize_model.quantize import quantize_model_ptq
    from auto_quantize_model.spec import resolve_weights
    model = load_yolov10_detection_model(resolve_weights("real"))
    config = ptq_config_for_mode("w8a8", algorithm="rtn", bias_correction=False, a8_graph="conv-inputs", act_rank_images=0, act_float=0)
    q, table, _ = quantize_model_ptq(model, config, torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0)), show_progress=False)
    _, info = create_ov_session(export_brevitas_qcdq_onnx(q, tmp_path/"w8a8-conv-inputs.onnx", 256), "f32", threads=1)
    quantized = sum(1 for r in table if r["quantized"])
    assert info["kernels"]["Convolution"].get("u8") == quantized, (info["kernels"]["Convolution"], quantized)
