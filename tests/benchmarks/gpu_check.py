"""GPU check (run by hand: `make gpu-check`; not collected by pytest): ONNX Runtime's CUDA provider on the project's
artifacts of yolov10m (random weights, 640 px): FP32, W4A16 QCDQ (weights folded at load), its FP16 variant and W8A8
(integer graph), plus the TensorRT provider when it loads. Prints a latency table (median ms, interleaved runs, ratio
to FP32 on the same provider) and writes JSON (default tmp/benchmarks/gpu_check.json).

On a machine with an NVIDIA GPU it first installs, from the package registry, the CUDA and cuDNN libraries ONNX
Runtime's CUDA provider loads (`onnxruntime-gpu[cuda,cudnn]` at the installed version; `onnxruntime.preload_dlls()`
then loads them). Without a GPU it says so in one line and exits 0.

    .venv/bin/python tests/benchmarks/gpu_check.py [--weights yolov10m.yaml] [--imgsz 640] [--runs 50] [--no-install]
"""
import argparse, json, os, shutil, subprocess, sys, tempfile
from pathlib import Path

def gpu_name() -> str | None:
    "The first NVIDIA GPU's name, or None when there is none (no nvidia-smi, or it finds no device)."
    if not shutil.which("nvidia-smi"): return None
    p = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
    names = [l.strip() for l in p.stdout.splitlines() if l.strip()]
    return names[0] if p.returncode == 0 and names else None

def install_cuda_libraries():
    "pip-install the CUDA and cuDNN wheels that the installed onnxruntime-gpu loads, at its own version."
    from importlib.metadata import version
    v = version("onnxruntime-gpu")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"onnxruntime-gpu[cuda,cudnn]=={v}"], check=True)

def artifacts(weights:str, imgsz:int, out:Path) -> dict:
    "name → (ONNX path, fold the weight DequantizeLinear at load): the project's FP32, W4A16 (+FP16) and W8A8 graphs."
    import torch
    from auto_quantize_model.config import ptq_config_for_mode
    from auto_quantize_model.export import export_brevitas_qcdq_onnx, export_fp32_onnx, qdq_to_fp16
    from auto_quantize_model.load import load_yolov10_detection_model, spread_random_weights_
    from auto_quantize_model.quantize import quantize_model_ptq
    model = spread_random_weights_(load_yolov10_detection_model(weights))
    xc = torch.rand(2, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    fp = export_fp32_onnx(model, out/"fp32.onnx", imgsz)
    w4 = export_brevitas_qcdq_onnx(quantize_model_ptq(model, ptq_config_for_mode("w4a16", algorithm="rtn"), show_progress=False)[0],
                                   out/"w4a16.onnx", imgsz)
    q8 = quantize_model_ptq(model, ptq_config_for_mode("w8a8", algorithm="rtn", bias_correction=False, act_rank_images=0, act_float=0, act_quant="asym"),
                            xc, show_progress=False)[0]
    return dict(fp32=(fp, True), w4a16=(w4, True), w4a16_fp16=(qdq_to_fp16(w4, out/"w4a16-fp16.onnx"), True),
                w8a8_integer=(export_brevitas_qcdq_onnx(q8, out/"w8a8.onnx", imgsz), False))

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="yolov10m.yaml"); ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--runs", type=int, default=50); ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--no-install", action="store_true", help="use the CUDA libraries already installed")
    ap.add_argument("--out", default="tmp/benchmarks/gpu_check.json")
    a = ap.parse_args(argv)
    gpu = gpu_name()
    if gpu is None:
        print("gpu-check: no NVIDIA GPU on this machine (nvidia-smi finds none): nothing to check"); return 0
    if not a.no_install: install_cuda_libraries()
    import numpy as np, onnxruntime as ort
    if hasattr(ort, "preload_dlls"): ort.preload_dlls()
    from auto_quantize_model.core import package_versions, write_json
    from auto_quantize_model.ort import create_ort_session, interleaved_latency_ms
    d = Path(tempfile.mkdtemp())
    arts = artifacts(a.weights, a.imgsz, d)
    x = np.random.default_rng(0).random((1, 3, a.imgsz, a.imgsz), dtype=np.float32)
    rows, used = [], {}
    for prov in ("cuda", "tensorrt"):
        sessions = {}
        for name, (path, fold) in arts.items():
            s, info = create_ort_session(path, f"{prov},cpu", fold_weight_qdq=fold)
            used[(prov, name)] = info["used"][0]
            if info["used"][0] == "CPUExecutionProvider": print(f"{prov} {name}: fell back to the CPU ({(info['fallback_reason'] or '')[:160]})"); continue
            sessions[name] = s
        if "fp32" not in sessions: continue
        lat = interleaved_latency_ms(sessions, x, a.warmup, a.runs)
        rows += [dict(provider=used[(prov, k)], model=k, median_ms=v["median_ms"], ratio_to_fp32=round(v["median_ms"] / lat["fp32"]["median_ms"], 3))
                 for k, v in lat.items()]
    print(f"GPU: {gpu}; {a.weights} at {a.imgsz}, batch 1, {a.runs} interleaved runs\n")
    print("| provider | model | median ms | / FP32 |\n|---|---|---|---|")
    for r in rows: print(f"| {r['provider']} | {r['model']} | {r['median_ms']:.2f} | {r['ratio_to_fp32']:.3f} |")
    res = dict(gpu=gpu, weights=a.weights, imgsz=a.imgsz, runs=a.runs, rows=rows, versions=package_versions())
    write_json(a.out, res); print(json.dumps(res)); print(f"wrote {a.out}")
    return 0

if __name__ == "__main__": sys.exit(main())
