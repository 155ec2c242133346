"""Peer benchmark (run by hand, not collected by pytest): the project's PTQ next to other tools, in one run.

    .venv/bin/python tests/benchmarks/peers.py [--set w4a16|a8] [--weights demo] [--data-root demo] [--max-images 100]
        [--calib-images 64] [--calib-data-root ROOT] [--iters 300] [--quark-python PATH] [--only NAME ...]
        [--skip NAME ...] [--out PREFIX] [--resamples 400]

`--set w4a16` (default): 4-bit weights, float or 16-bit activations. `--set a8`: int8 activations (the project's W8A8
and W4A8 next to NNCF's INT8 quantization and ONNX Runtime's `quantize_static` INT8 QDQ).

One `aqm run` (w4a16, or w8a8 for `--set a8`, default options) gives the FP32 ONNX, its COCO metrics, the evaluation
ids (image_ids.txt) and the calibration ids (calib_ids.txt). Every other row calibrates on those images (letterboxed by
the project's `calibration_batch`) and is scored by the project's `evaluate_onnx_on_coco` on those ids. Latency: ONNX
Runtime CPU, one thread, interleaved with the FP32 graph in this process, in the project's session (weight
DequantizeLinear folded, `session.disable_quant_qdq=1`) and, for `--set a8`, also in ONNX Runtime's default session
(QDQ fusion on: QLinearConv where a conv has quantized input, weight and output); the A8 rows also count the
optimised graph's kernels in that default session and, when the `openvino` extra is installed, time each row on
OpenVINO's CPU plugin (its default precision, one thread, interleaved with the FP32 graph on OpenVINO) and say which
precision its convs run in (the NNCF rows there are the NNCF + OpenVINO peer).
Each row's Δ against the first row that ran (the project's default) has its 95 % paired bootstrap interval over the
evaluated images (`--resamples` draws; both rows scored on each draw), so a difference between rows can be read against
what the images resolve.
Prints a markdown table and writes PREFIX.md and PREFIX.json (default tmp/benchmarks/peers, or peers-a8).

NNCF (the A8 rows) installs beside .venv without touching it; its dependencies that .venv already has are removed
so .venv's own are used:
    .venv/bin/pip install --target /tmp/peers-work/nncf-site nncf==3.4.0
    cd /tmp/peers-work/nncf-site && rm -rf numpy* packaging* psutil* pygments* networkx* pyparsing*
    PYTHONPATH=/tmp/peers-work/nncf-site .venv/bin/python tests/benchmarks/peers.py --set a8 ...

Brevitas learned round (`brevitas_examples.common.learned_round`) imports `accelerate`; without touching .venv:
    .venv/bin/pip install --target /tmp/peers-work/accel-site --no-deps accelerate huggingface_hub safetensors
    PYTHONPATH=/tmp/peers-work/accel-site .venv/bin/python tests/benchmarks/peers.py ...
AMD Quark (pins onnx<=1.22, onnxruntime<=1.28; `quark.onnx` imports torch) runs in its own venv, which borrows
.venv's torch through a .pth appended after its own packages (no second torch download):
    python3.11 -m venv /tmp/peers-work/quark-venv
    /tmp/peers-work/quark-venv/bin/pip install amd-quark==0.13 "onnxruntime<=1.28"
    echo $PWD/.venv/lib/python3.11/site-packages > /tmp/peers-work/quark-venv/lib/python3.11/site-packages/zz_torch.pth
then pass --quark-python /tmp/peers-work/quark-venv/bin/python.
"""
import argparse, contextlib, json, os, subprocess, sys, tempfile, time, traceback
from pathlib import Path
import numpy as np
from latency import kernel_counts  # this folder's latency benchmark

BEST_PURE_W4 = dict(group_size=8)  # options of the best pure 4-bit row of tests/benchmarks/accuracy.py (both models)

NNCF_URL = "https://github.com/openvinotoolkit/nncf/blob/develop/docs/compression_algorithms/CompressWeights.md"
NNCF_NOTE = ("not run: NNCF weight compression keeps convs at 8 bits; its docs: \"All embeddings, convolutions and last "
             "linear layers are always compressed to 8-bit integer data type\" (all_layers=True only moves embeddings and "
             f"last linear layers to 4 bits) {NNCF_URL}")
MODELOPT_URL = "https://nvidia.github.io/Model-Optimizer/reference/generated/modelopt.onnx.quantization.int4.html"
MODELOPT_NOTE = ("not run: ModelOpt's ONNX INT4 weight-only quantization covers MatMul only; its docs: \"Currently, only "
                 f"MatMul nodes quantization is supported.\" {MODELOPT_URL}")

QUARK_SCRIPT = r'''
import sys, time, numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, CalibrationMethod
from quark.onnx import ModelQuantizer, QuantizationConfig, Config, AdaRoundConfig
src, calib, dst, iters = sys.argv[1], np.load(sys.argv[2]), sys.argv[3], int(sys.argv[4])
class Reader(CalibrationDataReader):
    def __init__(self): self.it = iter({"images": x[None]} for x in calib)
    def get_next(self): return next(self.it, None)
qc = QuantizationConfig(quant_format=QuantFormat.QDQ, calibrate_method=CalibrationMethod.MinMax, per_channel=True,
                        weight_type=QuantType.QInt4, activation_type=QuantType.QInt16, op_types_to_quantize=["Conv"],
                        include_cle=True, extra_options={"WeightsOnly": True}, print_summary=False)
algos = [AdaRoundConfig(num_iterations=iters, batch_size=1, num_batches=len(calib), target_op_type=["Conv"])] if iters else []
t = time.perf_counter()
ModelQuantizer(Config(global_quant_config=qc)).quantize_model(src, dst, Reader(), algorithms=algos)
import quark; print("QUARK_VERSION", quark.__version__, "QUARK_SECONDS", time.perf_counter() - t)
'''

class NotRun(Exception): "A row that cannot run here; its message says why."

def one_line(e) -> str:
    "An exception as one line: its type, the first line of its message, and where it was raised (project or package frame)."
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "site-packages" in f.filename or "auto_quantize_model" in f.filename]
    at = f" (at {Path(frames[-1].filename).parent.name}/{Path(frames[-1].filename).name}:{frames[-1].lineno} {frames[-1].name})" if frames else ""
    return f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:600]}{at}"

def weight_share_4bit(onnx_path) -> float:
    "Share of the Conv weights of an ONNX graph fed by a 4-bit DequantizeLinear (INT4/UINT4, or int8 clipped to 16 levels)."
    import onnx
    from onnx import TensorProto, numpy_helper
    g = onnx.load(str(onnx_path)).graph
    inits = {i.name: i for i in g.initializer}
    consts = {**inits, **{n.output[0]: n.attribute[0].t for n in g.node if n.op_type == "Constant" and n.attribute}}
    prod = {o: n for n in g.node for o in n.output}
    def numel(t): return int(np.prod(t.dims))
    def bits(name):  # bits of the integer tensor behind a weight, or None for a float weight
        n = prod.get(name)
        while n is not None and n.op_type in ("Reshape", "Transpose", "Identity", "Cast"): n = prod.get(n.input[0])
        if n is None or n.op_type != "DequantizeLinear": return None
        x = n.input[0]; c = prod.get(x)
        if x in consts and consts[x].data_type in (TensorProto.INT4, TensorProto.UINT4): return 4
        if c is not None and c.op_type == "Clip" and all(i in consts for i in c.input[1:3]):
            lo, hi = (float(numpy_helper.to_array(consts[i])) for i in c.input[1:3]); return int(np.ceil(np.log2(hi - lo + 1)))
        return 8
    def size(name):  # elements of the constant a weight is computed from
        while name not in consts and name in prod and prod[name].input: name = prod[name].input[0]
        return numel(consts[name]) if name in consts else 0
    convs = [n.input[1] for n in g.node if n.op_type == "Conv"]
    total = sum(size(w) for w in convs) or 1
    return round(sum(size(w) for w in convs if bits(w) == 4) / total, 6)

class Bench:
    "The baseline run and everything the rows share: ids, images, FP32 graph, evaluation and latency."
    def __init__(self, a, root, mode="w4a16"):
        from auto_quantize_model.run import run_full
        from auto_quantize_model.data import prepare_coco, prepare_calib_source, calibration_batch
        from auto_quantize_model.data import image_files
        from auto_quantize_model.spec import RunSpec
        from auto_quantize_model.rundir import RunDir
        self.a, self.root = a, root
        self.base_opts = dict(weights=a.weights, data_root=a.data_root, max_images=a.max_images, providers="cpu",
                              calib_images=a.calib_images, run_root=str(root), calib_data_root=a.calib_data_root)
        self.mode, self.spec = mode, RunSpec.build(mode=mode, run_id="base", **self.base_opts)
        t = time.perf_counter()
        self.base = run_full(self.spec, log=lambda *x: None, show_progress=False)
        self.base_s = round(time.perf_counter() - t, 1)
        self.rd = rd = RunDir(self.base.run_dir); rec = rd.read_record()
        self.imgsz, self.fp32_onnx = rec["imgsz"], rd.onnx(rec["stem"])
        self.ids, self.calib_ids = rd.read_ids("image"), rd.read_ids("calib")
        ev, src = rec["evaluation"], rec["calibration"]["source"]
        self.data = prepare_coco(images=ev["images_dir"], annotations=ev["annotations"], image_ids_list=rd.ids_file("image"))
        cal = prepare_calib_source(calib_image_dir=src["images_dir"], calib_annotations=src["annotations"])
        self.calib = calibration_batch(image_files(cal["coco"], self.calib_ids, cal["images_dir"]), self.imgsz)
        self.fp32 = self.base.metrics_fp32
        self.lat_x = self.calib[:1].numpy()

    def evaluate(self, onnx_path, name):
        "COCO metrics of an ONNX model on the baseline's ids (written next to it)."
        from auto_quantize_model.coco import evaluate_onnx_on_coco
        return evaluate_onnx_on_coco(onnx_path, self.data["coco"], self.data["files"], Path(onnx_path).parent/"coco",
                                     self.imgsz, self.spec.head, "cpu", desc=name[:20])

    def latency_ratio(self, onnx_path, fold_weight_qdq=True) -> float:
        "Median latency of `onnx_path` over the FP32 graph's, runs interleaved, one ORT CPU thread, in the project's session (weight DQ folded) or ORT's default one."
        from auto_quantize_model.ort import create_ort_session, interleaved_latency_ms
        s = {k: create_ort_session(p, "cpu", fold_weight_qdq=fold_weight_qdq, threads=1)[0]
             for k, p in (("fp32", self.fp32_onnx), ("q", onnx_path))}
        lat = interleaved_latency_ms(s, self.lat_x, warmup=3, runs=self.a.latency_runs)
        return round(lat["q"]["median_ms"] / lat["fp32"]["median_ms"], 3)

    def openvino_latency(self, onnx_path) -> dict:
        "OpenVINO CPU (its default precision, one thread), interleaved with the FP32 graph on the same runtime: the ratio, the precision used and its conv kernels' precisions; {} without the extra."
        from auto_quantize_model.core import AqmError
        from auto_quantize_model.ort import create_ov_session, interleaved_latency_ms
        try: import openvino  # noqa: F401  (the optional extra)
        except ImportError: return {}
        try:
            s = {k: create_ov_session(p, "default", threads=1) for k, p in (("fp32", self.fp32_onnx), ("q", onnx_path))}
        except AqmError as e: return dict(openvino_error=str(e)[:300])
        lat = interleaved_latency_ms({k: v[0] for k, v in s.items()}, self.lat_x, warmup=3, runs=self.a.latency_runs)
        return dict(latency_ratio_openvino=round(lat["q"]["median_ms"] / lat["fp32"]["median_ms"], 3),
                    openvino_precision=s["q"][1]["precision_used"], kernels_openvino=s["q"][1]["kernels"])

    def aqm_ptq(self, run_id, mode="w4a16", **opts):
        "A project run (`aqm ptq`) on the baseline's calibration ids: `(onnx, quantize seconds, 4-bit weight share)`."
        from auto_quantize_model.run import run_ptq
        from auto_quantize_model.spec import RunSpec
        spec = RunSpec.build(mode=mode, run_id=run_id, calib_ids_list=str(self.rd.ids_file("calib")), **self.base_opts, **opts)
        r = run_ptq(spec, log=lambda *x: None, show_progress=False).modes[mode]
        share = r.export["bit_widths"].get("4", {}).get("weight_share", 0.0)
        return r.paths["quant_onnx"], r.wall_times_s["quantize"], share

# --- rows: each returns dict(onnx=..., quantize_s=..., share4=..., note=...) or raises NotRun ---
def row_aqm_default(b):
    r = b.base.modes[b.mode]
    note = ("the baseline run itself (asym GPTQ + bias correction)" if b.mode == "w4a16" else
            "the baseline run itself: int8 weights (asym GPTQ + bias correction), conv inputs uint8 with zero point, MSE range (--act-quant asym-mse)")
    return dict(onnx=r.paths["quant_onnx"], quantize_s=r.wall_times_s["quantize"], metrics=r.metrics_quant,
                predictions=b.rd.coco_dir(b.mode)/"predictions.json",
                share4=r.export["bit_widths"].get("4", {}).get("weight_share", 0.0), note=note)

def row_aqm_best(b):
    from auto_quantize_model.core import AqmError
    opts, note = dict(BEST_PURE_W4), f"options {BEST_PURE_W4}"
    try: onnx_path, s, share = b.aqm_ptq("best", **opts)
    except AqmError as e:
        if "unknown option" not in str(e): raise
        print(f"peers: RunSpec refuses BEST_PURE_W4 {BEST_PURE_W4} ({e}): running dict() instead", flush=True)
        note = f"BEST_PURE_W4 {BEST_PURE_W4} refused ({e}): ran the default options instead"
        onnx_path, s, share = b.aqm_ptq("best")
    return dict(onnx=onnx_path, quantize_s=s, share4=share, note=note)

def row_brevitas_gptq(b):
    p, s, share = b.aqm_ptq("brevitas-gptq", algorithm="brevitas-gptq", weight_quant="mse", bias_correction=False)
    return dict(onnx=p, quantize_s=s, share4=share, note="project row algorithm=brevitas-gptq (Brevitas gptq_mode, act order), MSE scales, no bias correction")

def row_aqm_adaround(b):
    p, s, share = b.aqm_ptq("adaround", algorithm="adaround", weight_quant="mse", bias_correction=False, adaround_iters=b.a.iters)
    return dict(onnx=p, quantize_s=s, share4=share, note=f"project row algorithm=adaround, MSE scales, {b.a.iters} steps per conv")

def row_brevitas_learned_round(b):
    "Brevitas' learned round (brevitas_examples trainer, layerwise, hard sigmoid, regularised MSE) on the project's RTN model."
    import torch
    from argparse import Namespace
    try:
        from brevitas_examples.common.learned_round.learned_round_trainer import LearnedRoundTrainer, get_blocks
        from brevitas_examples.imagenet_classification.ptq.learned_round_utils import (
            CacheVision, is_layer, parse_args_to_dataclass, vision_block_forward, vision_forward)
    except ImportError as e: raise NotRun(f"not run: brevitas_examples' learned round needs {e.name} ({one_line(e)}); see the module docstring")
    from auto_quantize_model.run import load_checked_model, bit_width_shares
    from auto_quantize_model.quantize import quantize_model_ptq
    from auto_quantize_model.config import ptq_config_for_mode
    from auto_quantize_model.export import export_brevitas_qcdq_onnx
    model, t = load_checked_model(b.spec), time.perf_counter()
    qmodel, table, _ = quantize_model_ptq(model, ptq_config_for_mode("w4a16", algorithm="rtn", weight_quant="absmax",
                                                                     bias_correction=False), show_progress=False)
    cfg = parse_args_to_dataclass(Namespace(learned_round_lr_scheduler=None, learned_round_iters=b.a.iters, learned_round_lr=1e-3,
                                            learned_round_loss="regularised_mse", learned_round_batch_size=8, learned_round="hard_sigmoid"))
    cfg.training_args.use_amp = False  # the example's float16 autocast is for GPUs
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(b.calib, torch.zeros(len(b.calib))), batch_size=8)
    LearnedRoundTrainer(cfg).train(qmodel, vision_forward, vision_block_forward, loader, CacheVision(),
                                   lambda m: get_blocks(m, is_layer), keep_gpu=False)
    qmodel.eval(); s = time.perf_counter() - t
    p = export_brevitas_qcdq_onnx(qmodel, b.root/"brevitas-learned-round"/"model-qcdq.onnx", b.imgsz)
    return dict(onnx=p, quantize_s=s, share4=bit_width_shares(table).get("4", {}).get("weight_share", 0.0),
                note=f"per-channel absmax RTN grid, then layerwise learned round, {b.a.iters} steps per conv, batch 8, lr 1e-3, float32")

def calib_reader(x):
    "An ONNX Runtime CalibrationDataReader over the calibration images, one image per batch."
    from onnxruntime.quantization import CalibrationDataReader
    class Reader(CalibrationDataReader):
        def __init__(self): self.it = iter({"images": xi[None]} for xi in x)
        def get_next(self): return next(self.it, None)
    return Reader()

def row_ort_static(b):
    from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationMethod
    out = b.root/"ort-static"; out.mkdir(exist_ok=True); p = out/"model-qdq.onnx"; t = time.perf_counter()
    quantize_static(str(b.fp32_onnx), str(p), calib_reader(b.calib.numpy()), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt4, activation_type=QuantType.QInt16, op_types_to_quantize=["Conv"],
                    calibrate_method=CalibrationMethod.MinMax)
    return dict(onnx=p, quantize_s=time.perf_counter() - t, share4=weight_share_4bit(p),
                note="QDQ, per-channel symmetric INT4 conv weights, INT16 conv activations (MinMax), opset raised by ORT")

def row_quark(b):
    if not b.a.quark_python: raise NotRun("not run: give --quark-python (pip install amd-quark==0.13 in a separate venv, see the module docstring)")
    out = b.root/"quark"; out.mkdir(exist_ok=True); p, npy, script = out/"model-qdq.onnx", out/"calib.npy", out/"run_quark.py"
    np.save(npy, b.calib.numpy()); script.write_text(QUARK_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    t = time.perf_counter()
    r = subprocess.run([b.a.quark_python, str(script), str(b.fp32_onnx), str(npy), str(p), str(b.a.iters)], capture_output=True,
                       text=True, env=env, timeout=b.a.row_timeout)
    (out/"quark.log").write_text(r.stdout + r.stderr)
    if "Only INT8, UINT8, INT16, and UINT16 are supported" in r.stdout + r.stderr:
        raise RuntimeError("Quark refuses 4-bit QDQ conv weights: \"Unexpected data type 22 (INT4) requested. Only INT8, UINT8, "
                           "INT16, and UINT16 are supported.\" (quark/onnx/quantization/quant_utils.py get_qmin_qmax_for_qType); "
                           "its only 4-bit ONNX path is MatMulNBits (quark/onnx/quantizers/matmul_nbits_quantizer.py: MatMul "
                           "nodes), though its README lists int4/uint4 for the ONNX backend")
    if r.returncode or not p.exists():
        err = [l for l in (r.stderr or r.stdout).splitlines() if "Error" in l or "error" in l] or (r.stderr or r.stdout).splitlines()[-1:]
        raise RuntimeError(f"Quark failed (exit {r.returncode}): {(err[-1] if err else '')[:300]} (log {out/'quark.log'})")
    ver = next((l.split()[1] for l in r.stdout.splitlines() if l.startswith("QUARK_VERSION")), None)
    return dict(onnx=p, quantize_s=time.perf_counter() - t, share4=weight_share_4bit(p), quark_version=ver,
                note=f"QDQ, per-channel INT4 conv weights (QuantType.QInt4), float activations (WeightsOnly), CLE + AdaRound "
                     f"{b.a.iters} steps, MinMax; time includes the subprocess start")

def row_aqm_w4a8(b, **opts):
    p, s, share = b.aqm_ptq("w4a8" + "".join(f"-{k}{v}" for k, v in opts.items()), "w4a8", **opts)
    return dict(onnx=p, quantize_s=s, share4=share, note=f"project mode w4a8, options {opts or 'default'} (conv inputs as in w8a8)")

def row_aqm_w8a8(b, **opts):
    p, s, share = b.aqm_ptq("w8a8" + "".join(f"-{k}{v}" for k, v in opts.items()), "w8a8", **opts)
    return dict(onnx=p, quantize_s=s, share4=share, note=f"project mode w8a8, options {opts}")

def row_aqm_head_float(b, mode):
    "The project's mode with the detection head's convs left float (`--skip model.N.*`): the scope the head-ignored peers keep float."
    from auto_quantize_model.run import load_checked_model
    pattern = f"model.{len(load_checked_model(b.spec).model) - 1}.*"
    p, s, share = b.aqm_ptq(f"{mode}-head-float", mode, skip=(pattern,))
    return dict(onnx=p, quantize_s=s, share4=share, note=f"project mode {mode}, --skip {pattern}: the head's convs float, as the head-ignored peers")

def head_ignored_scope(onnx_model) -> list:
    "Names of the nodes Ultralytics' OpenVINO INT8 export leaves float: every Sigmoid and everything in the head's scope (the last Sigmoid's `/model.N/`)."
    import re
    nodes = onnx_model.graph.node
    head = re.match(r"^/model\.\d+/", [n.name for n in nodes if n.op_type == "Sigmoid"][-1]).group(0)
    return [n.name for n in nodes if n.op_type == "Sigmoid" or n.name.startswith(head)]

def row_nncf(b, ignore_head):
    "NNCF's INT8 post-training quantization of the FP32 ONNX (mixed preset, all calibration images), as Ultralytics' OpenVINO INT8 export calls it."
    try: import nncf
    except ImportError as e: raise NotRun(f"not run: nncf is not importable ({one_line(e)}); see the module docstring")
    import onnx
    m = onnx.load(str(b.fp32_onnx)); scope = head_ignored_scope(m) if ignore_head else None
    out = b.root/("nncf-head-ignored" if ignore_head else "nncf"); out.mkdir(exist_ok=True); p = out/"model-qdq.onnx"
    t = time.perf_counter()
    q = nncf.quantize(m, nncf.Dataset(list(b.calib.numpy()), lambda x: {"images": x[None]}), preset=nncf.QuantizationPreset.MIXED,
                      subset_size=len(b.calib), ignored_scope=nncf.IgnoredScope(names=scope, validate=False) if scope else None)
    s = time.perf_counter() - t; onnx.save(q, str(p))
    return dict(onnx=p, quantize_s=s, share4=0.0, nncf_version=nncf.__version__,
                note=f"nncf {nncf.__version__} quantize, INT8 QDQ, mixed preset, subset {len(b.calib)}"
                     + (f", ignored scope: {len(scope)} nodes (every Sigmoid and the head {scope[-1].split('/')[1]}, as Ultralytics' OpenVINO INT8 export)" if scope else ", no ignored scope"))

def row_ort_static_int8(b, method, exclude_head=False):
    "ONNX Runtime's `quantize_static` INT8 QDQ (per-channel int8 weights, uint8 activations, every op it supports) after its `quant_pre_process`; optionally the head left float."
    import onnx
    from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationMethod
    from onnxruntime.quantization.shape_inference import quant_pre_process
    out = b.root/f"ort-static-int8-{method.lower()}{'-head-excluded' if exclude_head else ''}"; out.mkdir(exist_ok=True)
    pre, p = out/"model-pre.onnx", out/"model-qdq.onnx"
    t = time.perf_counter()
    with contextlib.chdir(out):  # a failing pre-process leaves its external-data files in the working directory
        quant_pre_process(str(b.fp32_onnx), str(pre), skip_symbolic_shape=True)  # its symbolic shape inference stops here: "Incomplete symbolic shape inference"
    exclude = head_ignored_scope(onnx.load(str(pre))) if exclude_head else []
    quantize_static(str(pre), str(p), calib_reader(b.calib.numpy()), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, calibrate_method=getattr(CalibrationMethod, method),
                    nodes_to_exclude=exclude)
    return dict(onnx=p, quantize_s=time.perf_counter() - t, share4=0.0,
                note=f"quant_pre_process (ONNX shape inference), then QDQ, per-channel int8 weights, uint8 activations, {method} "
                     f"calibration, default op types" + (f", {len(exclude)} nodes excluded (the Ultralytics OpenVINO scope above)" if exclude_head else "")
                     + ("; quantize_static's Entropy histogram has 128 bins for 128 quantized bins, one candidate threshold, so it gives MinMax's ranges" if method == "Entropy" else ""))

def row_not_run(note):
    def row(b): raise NotRun(note)
    return row

ROWS = {"aqm default": row_aqm_default, "aqm best pure 4-bit": row_aqm_best, "Brevitas gptq_mode": row_brevitas_gptq,
        "aqm AdaRound": row_aqm_adaround, "Brevitas learned rounding": row_brevitas_learned_round,
        "ONNX Runtime quantize_static": row_ort_static, "AMD Quark ONNX": row_quark,
        "NNCF": row_not_run(NNCF_NOTE), "NVIDIA ModelOpt": row_not_run(MODELOPT_NOTE)}

# --set a8: the project's int8-activation modes next to the A8 peers
ROWS_A8 = {"aqm w8a8 default": row_aqm_default, "aqm w4a8 default": row_aqm_w4a8,
           "aqm w4a8 groups of 32": lambda b: row_aqm_w4a8(b, group_size=32),
           "aqm w8a8, no quantizer left float (--act-float 0)": lambda b: row_aqm_w8a8(b, act_float=0),
           "aqm w8a8, head float (the peers' scope)": lambda b: row_aqm_head_float(b, "w8a8"),
           "NNCF INT8 (mixed preset)": lambda b: row_nncf(b, False),
           "NNCF INT8, head ignored (Ultralytics' OpenVINO scope)": lambda b: row_nncf(b, True),
           "ONNX Runtime quantize_static INT8 MinMax": lambda b: row_ort_static_int8(b, "MinMax"),
           **{f"ONNX Runtime quantize_static INT8 {m}, head excluded": (lambda m: lambda b: row_ort_static_int8(b, m, True))(m)
              for m in ("MinMax", "Percentile", "Entropy")}}

def run_row(b, name, fn) -> dict:
    "Run one row and score it; a failure becomes a row with its one-line error."
    t = time.perf_counter()
    try:
        r = fn(b)
        m = r.pop("metrics", None) or b.evaluate(r["onnx"], name)
        r["predictions"] = str(r.get("predictions") or Path(r["onnx"]).parent/"coco"/"predictions.json")
        r.update(status="ok", mAP_50_95=m["mAP_50_95"], delta_points=round(100 * (m["mAP_50_95"] - b.fp32["mAP_50_95"]), 2),
                 size_bytes=Path(r["onnx"]).stat().st_size, latency_ratio=b.latency_ratio(r["onnx"]), onnx=str(r["onnx"]),
                 quantize_s=round(r["quantize_s"], 1))
        if b.mode != "w4a16":
            r.update(latency_ratio_default_session=b.latency_ratio(r["onnx"], fold_weight_qdq=False),
                     kernels_default_session=kernel_counts(r["onnx"], fold_weight_qdq=False), **b.openvino_latency(r["onnx"]))
    except NotRun as e: r = dict(status="not run", note=str(e))
    except Exception as e:
        (b.root/"errors.log").open("a").write(f"--- {name}\n{traceback.format_exc()}\n")
        r = dict(status="failed", note=one_line(e))
    print(f"{name}: {r['status']}" + (f", mAP50-95 {r['mAP_50_95']:.4f} ({r['delta_points']:+.2f} points)" if r["status"] == "ok" else "")
          + f" [{time.perf_counter() - t:.0f} s] {r.get('note', '')}", flush=True)
    return dict(name=name, row_s=round(time.perf_counter() - t, 1), **r)

def add_paired_intervals(b, rows, resamples:int) -> dict:
    "Each scored row's Δ mAP50-95 against the first scored row (the project's default), with its 95 % paired bootstrap interval over the evaluated images."
    from levers import delta_interval_points  # this folder's levers benchmark
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok or resamples < 1: return {}
    for r in ok[1:]:
        r["vs_reference_points"] = delta_interval_points(b.data["coco"], b.ids, ok[0]["predictions"], r["predictions"], resamples)
    return dict(name=ok[0]["name"], resamples=resamples, level=0.95)

def markdown(b, rows) -> list:
    "The results table, with a line on the FP32 baseline and the shared images."
    f = lambda v, fmt: "" if v is None else format(v, fmt)
    a8 = b.mode != "w4a16"
    ref = next((r["name"] for r in rows if r["status"] == "ok"), "the first row")
    md = [f"FP32 mAP50-95 {b.fp32['mAP_50_95']:.4f} on {len(b.ids)} evaluation images; {len(b.calib_ids)} calibration "
          f"images; FP32 ONNX {b.fp32_onnx.stat().st_size} bytes\n",
          f"| row | status | mAP50-95 | Δ vs FP32 (points) | Δ vs {ref} [95 %] | 4-bit weight share | quantize (s) | artifact (bytes) | CPU latency / FP32 |"
          + (" CPU latency / FP32, ORT default session | kernels, ORT default session | OpenVINO CPU latency / FP32 (its default precision) | OpenVINO conv precisions |" if a8 else "") + " note |",
          "|---|---|---|---|---|---|---|---|---|" + ("---|---|---|---|" if a8 else "") + "---|"]
    kern = lambda k: ", ".join(f"{n} {c}" for n, c in (k or {}).items())
    ov_kern = lambda k: "; ".join(f"{t} " + ", ".join(f"{p} {c}" for p, c in d.items()) for t, d in (k or {}).items() if t == "Convolution")
    vs = lambda v: f"{v[0]:+.2f} [{v[1]:+.2f}, {v[2]:+.2f}]" if v else ""
    return md + [f"| {r['name']} | {r['status']} | {f(r.get('mAP_50_95'), '.4f')} | {f(r.get('delta_points'), '+.2f')} | {vs(r.get('vs_reference_points'))} | "
                 f"{f(r.get('share4'), '.1%')} | {f(r.get('quantize_s'), '.1f')} | {r.get('size_bytes', '')} | "
                 f"{f(r.get('latency_ratio'), '.3f')} |"
                 + (f" {f(r.get('latency_ratio_default_session'), '.3f')} | {kern(r.get('kernels_default_session'))} |"
                    f" {f(r.get('latency_ratio_openvino'), '.3f')} | {ov_kern(r.get('kernels_openvino')) or r.get('openvino_error', '')} |" if a8 else "")
                 + f" {r.get('note', '')} |" for r in rows]

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="w4a16", choices=("w4a16", "a8"), help="the 4-bit weight rows or the int8-activation rows")
    ap.add_argument("--weights", default="demo"); ap.add_argument("--data-root", default="demo")
    ap.add_argument("--max-images", type=int, default=100); ap.add_argument("--calib-images", type=int, default=64)
    ap.add_argument("--calib-data-root", default=None, help="calibrate every row on this COCO root's images (default: the data root's train split, else its ids not evaluated)")
    ap.add_argument("--iters", type=int, default=300, help="learned-rounding steps per conv (project AdaRound, Brevitas, Quark)")
    ap.add_argument("--latency-runs", type=int, default=20)
    ap.add_argument("--resamples", type=int, default=400, help="bootstrap draws of each row's interval of Δ against the first row (0: none)")
    ap.add_argument("--quark-python", default=None, help="a python with amd-quark 0.13 installed (see the docstring)")
    ap.add_argument("--row-timeout", type=int, default=1800, help="seconds before the Quark subprocess is stopped")
    ap.add_argument("--only", nargs="*", default=None, help="substrings of the row names to run")
    ap.add_argument("--skip", nargs="*", default=[], help="substrings of the row names to leave out")
    ap.add_argument("--out", default=None, help="output prefix (default tmp/benchmarks/peers, or peers-a8 for --set a8)")
    a = ap.parse_args(argv)
    a.out = a.out or ("tmp/benchmarks/peers" if a.set == "w4a16" else "tmp/benchmarks/peers-a8")
    for k in ("max_images", "calib_images", "latency_runs", "row_timeout"):
        if getattr(a, k) < 1: ap.error(f"--{k.replace('_', '-')} must be at least 1, got {getattr(a, k)}")
    if a.resamples < 0: ap.error(f"--resamples must be 0 or more, got {a.resamples}")
    if a.iters < 0: ap.error(f"--iters must be 0 or more, got {a.iters}")
    if a.quark_python and not os.access(a.quark_python, os.X_OK): ap.error(f"--quark-python is not an executable: {a.quark_python}")
    return a

def main(argv=None):
    a = parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import warnings; warnings.filterwarnings("ignore")
    from auto_quantize_model.core import AqmError, write_json, package_versions
    root = Path(tempfile.mkdtemp(prefix="aqm-peers-"))
    try: b = Bench(a, root, mode="w4a16" if a.set == "w4a16" else "w8a8")
    except AqmError as e: sys.exit(f"peers.py: error: {e}")
    print(f"baseline run {b.rd.path}: FP32 mAP50-95 {b.fp32['mAP_50_95']:.4f}, {len(b.ids)} evaluation ids, "
          f"{len(b.calib_ids)} calibration ids [{b.base_s:.0f} s]", flush=True)
    rows = [run_row(b, n, fn) for n, fn in (ROWS if a.set == "w4a16" else ROWS_A8).items()
            if not ((a.only and not any(s in n for s in a.only)) or any(s in n for s in a.skip))]
    reference = add_paired_intervals(b, rows, a.resamples)
    md = markdown(b, rows)
    out = dict(command=" ".join([sys.executable, *sys.argv]), env={k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "PYTHONPATH")},
               set=a.set, weights=a.weights, data_root=a.data_root, calib_data_root=a.calib_data_root, imgsz=b.imgsz,
               evaluation_ids=len(b.ids), calibration_ids=len(b.calib_ids), fp32=dict(mAP_50_95=b.fp32["mAP_50_95"],
               mAP_50=b.fp32["mAP_50"], onnx_bytes=b.fp32_onnx.stat().st_size), baseline_run_dir=str(b.rd.path),
               best_pure_w4=BEST_PURE_W4, iters=a.iters, interval_reference=reference, rows=rows, versions=package_versions(("torch", "brevitas", "onnx",
               "onnxruntime", "ultralytics", "numpy", "pycocotools", "accelerate", "nncf")))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(Path(a.out + ".json"), out); Path(a.out + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))

if __name__ == "__main__": main()
