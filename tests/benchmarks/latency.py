"""Latency benchmark (run by hand, not collected by pytest): FP32 ONNX vs W4A16 QCDQ, with ONNX Runtime's default
session and with the project's session (weight DequantizeLinear folded at load time), vs the true INT4 artifact and
the FP16 variant (project session), and the group-wise W4A16 QCDQ (`--group-size`, the project's own weight chain), all
interleaved in one process. `--a8` adds W8A8 and W4A8 in both A8 graph forms (`--a8-graph integer`, the default, in ONNX Runtime's default session,
which fuses it into integer kernels; `conv-inputs` in both sessions), round to nearest, ranges calibrated on `--a8-calib`
random images (latency depends on the graph, not on the values), every conv at the mode's bits (`--keep-8bit-budget 0`), the
integer graphs with the project's `--act-float` quantizers left float (ranked on those images, one forward pass per
quantizer and image: the slow step on yolov10m) and, when that is above 0, with none left float, and prints the kernels ONNX Runtime's optimised graph
runs for each artifact (QLinearConv = int8 conv; Conv/FusedConv = float conv) and how many quantized convs run as
QLinearConv. `--openvino` times the same artifacts on OpenVINO's CPU plugin too (the optional extra), in float32 and
in its default precision (bf16 on CPUs with bf16 instructions), all interleaved in one run, each ratio against the FP32
graph on the same runtime and precision, and prints the precision each conv runs in (OpenVINO's runtime model).

    .venv/bin/python tests/benchmarks/latency.py [--weights yolov10m.yaml] [--imgsz 640] [--batches 1 8] [--runs 20]
        [--group-size 32] [--a8] [--a8-calib 4] [--act-float N] [--openvino] [--providers cpu]

A model yaml gets He-normal random weights (`load.spread_random_weights_`): with Ultralytics' initialisation, fused,
activations shrink to about 1e-7 by the neck, where the A8 ranges collapse and branches fall on each other's grids by
coincidence, which no trained model does.

Prints a markdown table and writes JSON (default tmp/benchmarks/latency.json). Ratios are measured in one run, so a
busy machine slows every variant alike.
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path
import numpy as np

def kernel_counts(onnx_path, fold_weight_qdq=False) -> dict:
    "The ops ONNX Runtime's CPU session runs for a graph that tell int8 from float convs (`report.KERNEL_KINDS`)."
    from auto_quantize_model.ort import session_op_counts
    from auto_quantize_model.report import KERNEL_KINDS
    ops = session_op_counts(onnx_path, "cpu", fold_weight_qdq)
    return {k: ops[k] for k in KERNEL_KINDS if ops.get(k)}

def openvino_rows(artifacts:list, precisions:list, batches:list, imgsz:int, warmup:int, runs:int) -> tuple:
    "`(rows, kernels)`: OpenVINO CPU latency of each `(name, path)` in each precision, interleaved, ratio to FP32 at the same precision."
    from auto_quantize_model.core import AqmError
    from auto_quantize_model.ort import create_ov_session, interleaved_latency_ms
    sessions, kernels, used = {}, {}, {}
    for prec in precisions:
        for name, path in artifacts:
            try: s, info = create_ov_session(path, prec)
            except AqmError as e: print(f"OpenVINO {prec}: {name} skipped ({str(e)[:200]})"); continue
            sessions[(name, prec)], used[prec] = s, info["precision_used"]
            kernels[f"{name} ({prec}: {info['precision_used']})"] = info["kernels"]
    rows = []
    for b in batches:
        x = np.random.default_rng(0).random((b, 3, imgsz, imgsz), dtype=np.float32)
        lat = interleaved_latency_ms({f"{n}@{p}": s for (n, p), s in sessions.items()}, x, warmup, runs)
        for (name, prec) in sessions:
            v, base = lat[f"{name}@{prec}"], lat[f"fp32@{prec}"]["median_ms"]
            rows.append(dict(provider=f"OpenVINO CPU ({prec}: {used[prec]})", batch=b, model=name, median_ms=v["median_ms"],
                             mean_ms=v["mean_ms"], runs=runs, ratio_to_fp32=round(v["median_ms"] / base, 4)))
    return rows, kernels

def main(argv=None):
    from auto_quantize_model.config import PTQConfig
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="yolov10m.yaml")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--providers", default="cuda,cpu")
    ap.add_argument("--group-size", type=int, default=32, help="group size of the group-wise artifact (0: none)")
    ap.add_argument("--a8", action="store_true", help="also W8A8 and W4A8 artifacts, and the kernels each session runs")
    ap.add_argument("--a8-calib", type=int, default=4, help="random images that calibrate the A8 input quantizers")
    ap.add_argument("--act-float", type=int, default=PTQConfig.act_float, help="the integer A8 graphs leave their N costliest activation quantizers float (--act-float, ranked on the --a8-calib images; default: the project's); above 0 the same graphs with none float are timed too")
    ap.add_argument("--openvino", action="store_true", help="also time the artifacts on OpenVINO's CPU plugin (the optional extra)")
    ap.add_argument("--ov-precisions", nargs="+", default=["f32", "default"], help="OpenVINO precisions to time (--openvino)")
    ap.add_argument("--out", default="tmp/benchmarks/latency.json")
    a = ap.parse_args(argv)
    from auto_quantize_model.core import Stopwatch, write_json, package_versions
    from auto_quantize_model.spec import resolve_weights
    from auto_quantize_model.ptq import quantize_model_brevitas_ptq
    from auto_quantize_model.export import export_fp32_onnx, export_brevitas_qcdq_onnx, qcdq_to_int4_qdq, qdq_to_fp16
    from auto_quantize_model.ort import create_ort_session, interleaved_latency_ms, smoke_check
    sw = Stopwatch()
    with sw("load"):
        from auto_quantize_model.load import load_yolov10_detection_model, spread_random_weights_
        from auto_quantize_model.spec import is_model_yaml
        model = load_yolov10_detection_model(resolve_weights(a.weights))
        if is_model_yaml(a.weights): spread_random_weights_(model)  # activations that keep their size through the layers, as trained ones do
    with sw("quantize"): qmodel, _ = quantize_model_brevitas_ptq(model)
    d = Path(tempfile.mkdtemp())
    with sw("export_fp32"): fp = export_fp32_onnx(model, d/"fp32.onnx", a.imgsz)
    with sw("export_quant"): q = export_brevitas_qcdq_onnx(qmodel, d/"w4a16.onnx", a.imgsz)
    with sw("smoke"): smoke_check(fp, q, qmodel, imgsz=a.imgsz, providers=a.providers)
    i4, f16 = qcdq_to_int4_qdq(q, d/"w4a16-int4.onnx"), qdq_to_fp16(q, d/"w4a16-fp16.onnx")
    grouped = []
    if a.group_size:
        qg = export_brevitas_qcdq_onnx(quantize_model_brevitas_ptq(model, PTQConfig(group_size=a.group_size))[0], d/"w4a16-g.onnx", a.imgsz)
        g = f"w4a16_group{a.group_size}"
        grouped = [(f"{g}_default_session", qg, False), (f"{g}_project_session", qg, True),
                   (f"{g}_int4_project_session", qcdq_to_int4_qdq(qg, d/"w4a16-g-int4.onnx"), True)]
    a8 = []
    if a.a8:
        import torch
        from auto_quantize_model.quantize import quantize_model_ptq
        from auto_quantize_model.config import ptq_config_for_mode
        xc = torch.rand(a.a8_calib, 3, a.imgsz, a.imgsz, generator=torch.Generator().manual_seed(0))
        # the default A8 graph with its `--act-float` quantizers left float (ranked as a run ranks them: on random weights
        # and images, so other quantizers than a trained model's), and the graph that quantizes conv inputs only
        variants = [("integer", a.act_float, ""), ("conv-inputs", 0, "")] + ([("integer", 0, "_act_float0")] if a.act_float else [])
        for mode in ("w8a8", "w4a8"):
            for graph, n_float, tag in variants:
                with sw(f"quantize_{mode}_{graph}{tag}"):  # `asym` ranges: the fast estimator (latency does not depend on the values)
                    qa, _, qi = quantize_model_ptq(model, ptq_config_for_mode(mode, algorithm="rtn", bias_correction=False, act_rank_images=a.a8_calib if n_float else 0,
                                                                              act_float=n_float, act_quant="asym", a8_graph=graph, keep_8bit_budget="0"), xc, show_progress=False)
                if qi.get("act_float"): print(f"{mode}: --act-float {n_float} left float: {', '.join(qi['act_float'])}")
                pa = export_brevitas_qcdq_onnx(qa, d/f"{mode}-{graph}{tag}.onnx", a.imgsz)
                a8 += [(f"{mode}_{graph}{tag}_default_session", pa, False)]
                if graph == "conv-inputs": a8 += [(f"{mode}_{graph}_project_session", pa, True)]
    print(f"aqm ptq stages for {a.weights} (s): " + ", ".join(f"{k} {v:.1f}" for k, v in sw.times.items())
          + f"; quantize+export+smoke {sw.total - sw.times['load']:.1f}")
    provs = [p for p in a.providers.split(",")]
    results = []
    for prov in provs:
        sessions, infos = {}, {}
        for name, path, fold in (("fp32", fp, True), ("w4a16_default_session", q, False), ("w4a16_project_session", q, True),
                                 ("w4a16_int4_project_session", i4, True), ("w4a16_fp16_project_session", f16, True), *grouped, *a8):
            s, info = create_ort_session(path, prov, fold_weight_qdq=fold)
            sessions[name], infos[name] = s, info
        used = infos["fp32"]["used"][0]
        if prov == "cuda" and used != "CUDAExecutionProvider":
            print(f"provider cuda: not available ({infos['fp32']['fallback_reason'][:120]}); skipped"); continue
        for b in a.batches:
            x = np.random.default_rng(0).random((b, 3, a.imgsz, a.imgsz), dtype=np.float32)
            lat = interleaved_latency_ms(sessions, x, a.warmup, a.runs)
            base = lat["fp32"]["median_ms"]
            for k, v in lat.items():
                results.append(dict(provider=used, batch=b, model=k, median_ms=v["median_ms"], mean_ms=v["mean_ms"],
                                    runs=a.runs, ratio_to_fp32=round(v["median_ms"] / base, 4)))
    sizes = {k: Path(p).stat().st_size for k, p in (("fp32", fp), ("w4a16_qcdq", q), ("w4a16_int4", i4), ("w4a16_fp16", f16),
                                                    *[(n.replace("_project_session", "").replace("_default_session", ""), p) for n, p, f in grouped if f])}
    ov_kernels = {}
    if a.openvino:
        ov_artifacts = [("fp32", fp), ("w4a16_qcdq", q), ("w4a16_int4", i4), *[(n.replace("_project_session", ""), p) for n, p, f in grouped if "int4" in n],
                        *[(n.replace("_default_session", ""), p) for n, p, f in a8 if not f]]
        ov_rows, ov_kernels = openvino_rows(ov_artifacts, a.ov_precisions, a.batches, a.imgsz, a.warmup, a.runs)
        results += ov_rows
    print(f"\n| provider | batch | model | median ms | ratio to FP32 |\n|---|---|---|---|---|")
    for r in results: print(f"| {r['provider']} | {r['batch']} | {r['model']} | {r['median_ms']:.1f} | {r['ratio_to_fp32']:.3f} |")
    kernels = {n: kernel_counts(p, f) for n, p, f in (("fp32", fp, True), ("w4a16_default_session", q, False),
                                                    ("w4a16_project_session", q, True), *a8)}
    n_quantized = sum(1 for n, m in model.named_modules() if type(m).__name__ == "Conv2d" and not n.endswith("dfl.conv"))
    print(f"\nkernels in ONNX Runtime's optimised CPU graph ({n_quantized} quantized convs):")
    for k, v in kernels.items(): print(f"  {k}: " + ", ".join(f"{n} {c}" for n, c in v.items()) + (f"; QLinearConv {v.get('QLinearConv', 0)} of {n_quantized}" if k.startswith("w") else ""))
    if ov_kernels:
        print("\nOpenVINO CPU: layers by runtime precision (its runtime model; a 1x1 conv on compressed weights runs as FullyConnected, its precision the weights'):")
        for k, v in ov_kernels.items(): print(f"  {k}: " + "; ".join(f"{t} " + ", ".join(f"{p} {c}" for p, c in d.items()) for t, d in v.items()))
    print("\nsizes: " + ", ".join(f"{k} {v/2**20:.1f} MB ({v/sizes['fp32']:.3f}x)" for k, v in sizes.items()))
    write_json(a.out, dict(weights=a.weights, imgsz=a.imgsz, quantized_convs=n_quantized, stage_times_s=sw.times, results=results, sizes_bytes=sizes, kernels_cpu=kernels, kernels_openvino=ov_kernels,
                           versions=package_versions(), cpu_count=os.cpu_count()))
    print(f"wrote {a.out}")

if __name__ == "__main__": main()
