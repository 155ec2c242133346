"""Accuracy benchmark (run by hand, not collected by pytest): PTQ configurations on the same COCO subset, in one run.

    .venv/bin/python tests/benchmarks/accuracy.py [--weights demo] [--data-root demo] [--max-images 100]
        [--calib-images 64] [--calib-data-root ROOT] [--only NAME ...] [--set w4a16|a8|qat|shift] [--skip NAME ...]
        [--m-time] [--ray [ADDRESS]] [--resamples 400]

Every row is a full `aqm run` (quantize, QCDQ export, ONNX Runtime COCO evaluation of FP32 and quantized on the same
ids, calibration ids disjoint from them); its Δ has the 95 % paired bootstrap interval over the evaluated images
that the run writes (`--bootstrap`, here `--resamples` draws: the range other draws of as many images would give).
Prints a markdown table and writes JSON + markdown (default
tmp/benchmarks/accuracy.*). `--m-time` also times the default configuration on yolov10m.yaml (random weights, 640 px,
calibration images from the same data). `--ray` runs the configurations as Ray tasks side by side (each with this
process's torch thread count, so every row is what it is without Ray).
"""
import argparse, contextlib, json, os, sys, tempfile, time
from pathlib import Path

# name → (mode, PTQConfig options): each row is the `RunSpec` of an `aqm run` with these options
CONFIGS = {
    "published (per-tensor absmax, DFL quantized)": ("w4a16", dict(scales="tensor", weight_quant="absmax", quantize_dfl=True, algorithm="rtn", bias_correction=False)),
    "per-channel absmax RTN": ("w4a16", dict(weight_quant="absmax", algorithm="rtn", bias_correction=False)),
    "per-channel MSE RTN": ("w4a16", dict(weight_quant="mse", algorithm="rtn", bias_correction=False)),
    "per-channel HQO RTN": ("w4a16", dict(weight_quant="hqo", algorithm="rtn", bias_correction=False)),
    "asymmetric per-channel RTN": ("w4a16", dict(weight_quant="asym", algorithm="rtn", bias_correction=False)),
    "MSE RTN + bias correction": ("w4a16", dict(weight_quant="mse", algorithm="rtn", bias_correction=True)),
    "Brevitas GPTQ, act order (MSE scales)": ("w4a16", dict(algorithm="brevitas-gptq", weight_quant="mse", bias_correction=False)),
    "AdaRound (MSE scales)": ("w4a16", dict(algorithm="adaround", weight_quant="mse", bias_correction=False)),
    "GPTQ, symmetric, searched scales": ("w4a16", dict(algorithm="gptq", weight_quant="mse", bias_correction=False)),
    "GPTQ, asymmetric, searched ranges": ("w4a16", dict(algorithm="gptq", weight_quant="asym", bias_correction=False)),
    "GPTQ, asymmetric, columns in order + bias correction": ("w4a16", dict(algorithm="gptq", act_order=False)),
    "GPTQ, asymmetric + bias correction (default)": ("w4a16", dict()),
    "GPTQ, asymmetric, groups of 64 input channels + bias correction": ("w4a16", dict(group_size=64)),
    "GPTQ, asymmetric, groups of 32 input channels + bias correction": ("w4a16", dict(group_size=32)),
    "GPTQ, asymmetric, groups of 16 input channels + bias correction": ("w4a16", dict(group_size=16)),
    "GPTQ, asymmetric, groups of 8 input channels + bias correction": ("w4a16", dict(group_size=8)),
    "preset first8 + groups of 16": ("w4a16", dict(bits_preset="first8", group_size=16)),
    "preset first8 + groups of 8": ("w4a16", dict(bits_preset="first8", group_size=8)),
    "GPTQ, symmetric searched scales, groups of 32": ("w4a16", dict(algorithm="gptq", weight_quant="mse", group_size=32)),
    "asymmetric RTN, groups of 32": ("w4a16", dict(algorithm="rtn", group_size=32, bias_correction=False)),
    "preset first8 (first conv at 8 bits), default otherwise": ("w4a16", dict(bits_preset="first8")),
    "preset first8 + groups of 32": ("w4a16", dict(bits_preset="first8", group_size=32)),
    "preset first-last8 + groups of 32": ("w4a16", dict(bits_preset="first-last8", group_size=32)),
    "preset first-last8 + groups of 16": ("w4a16", dict(bits_preset="first-last8", group_size=16)),
    "preset first-last8 + groups of 8": ("w4a16", dict(bits_preset="first-last8", group_size=8)),
    "groups of 16, best-recovering convs in 5% of the weights at 8 bits": ("w4a16", dict(group_size=16, keep_8bit_share=0.05)),
    "default, best-recovering convs in 5% of the weights at 8 bits": ("w4a16", dict(keep_8bit_share=0.05)),
    "default, best-recovering convs in 10% of the weights at 8 bits": ("w4a16", dict(keep_8bit_share=0.10)),
    "w8a16 (default)": ("w8a16", dict()),
    "w4a8 (default)": ("w4a8", dict()),
    "w8a8 (default)": ("w8a8", dict()),
    "w8a8, inputs: unsigned with zero point, percentile range": ("w8a8", dict(act_quant="asym")),
    "w8a8, inputs: signed, MSE scale": ("w8a8", dict(act_quant="mse")),
    "w8a8, inputs: signed, 99.999th percentile (before --act-quant)": ("w8a8", dict(act_quant="int8")),
    "w4a8, inputs: unsigned with zero point, percentile range": ("w4a8", dict(act_quant="asym")),
    "w4a8, inputs: signed, 99.999th percentile (before --act-quant)": ("w4a8", dict(act_quant="int8")),
    "w4a8, best-recovering convs in 10% of the weights at 8 bits": ("w4a8", dict(keep_8bit_share=0.10)),
    "w4a8, groups of 32 input channels": ("w4a8", dict(group_size=32)),
    "w4a8, groups of 16, first conv and the head's last convs at 8 bits": ("w4a8", dict(group_size=16, bits_preset="first-last8")),
    "w8a8, the costliest conv input left float": ("w8a8", dict(float_inputs=1, a8_graph="conv-inputs")),
    "w8a8, the 3 costliest conv inputs left float": ("w8a8", dict(float_inputs=3, a8_graph="conv-inputs")),
    "pure 4-bit (no 8-bit budget)": ("w4a16", dict(keep_8bit_budget="0")),
    "pure 4-bit + QAT, 150 steps": ("w4a16", dict(keep_8bit_budget="0", qat=True, qat_steps=150)),
    "pure 4-bit + QAT, 300 steps (--qat)": ("w4a16", dict(keep_8bit_budget="0", qat=True)),
    "pure 4-bit + QAT, 600 steps": ("w4a16", dict(keep_8bit_budget="0", qat=True, qat_steps=600)),
    "pure 4-bit + QAT, 300 steps, flips only (no mosaics, no colour jitter)": ("w4a16", dict(keep_8bit_budget="0", qat=True, qat_augment="flips")),
    "default (5% budget) + QAT, 300 steps": ("w4a16", dict(qat=True)),
    "pure 4-bit + QAT on the labels (--qat-loss labels), 300 steps": ("w4a16", dict(keep_8bit_budget="0", qat=True, qat_loss="labels")),
    "w4a8 pure 4-bit + QAT on the labels (--qat-loss labels), 300 steps": ("w4a8", dict(keep_8bit_budget="0", qat=True, qat_loss="labels")),
    "w4a8 pure 4-bit": ("w4a8", dict(keep_8bit_budget="0")),
    "w4a8 pure 4-bit + QAT, 300 steps": ("w4a8", dict(keep_8bit_budget="0", qat=True)),
    "w8a8, ranges as calibrated (--act-range-margin 1)": ("w8a8", dict(act_range_margin=1.0)),
    "w4a8, ranges as calibrated (--act-range-margin 1)": ("w4a8", dict(act_range_margin=1.0)),
    "w8a8, upper ends 1.5x (--act-range-margin 1.5)": ("w8a8", dict(act_range_margin=1.5)),
    "w4a8, upper ends 1.5x (--act-range-margin 1.5)": ("w4a8", dict(act_range_margin=1.5)),
}

# options of the benchmark itself, not of `RunSpec`: levers measured here and not kept in the project
BENCH_ONLY = ("float_inputs", "qat_augment")

@contextlib.contextmanager
def qat_flips_only(on:bool=False):
    "QAT batches in the block are the training images flipped, nothing else (QAT's augmentation before mosaics and colour jitter)."
    import torch
    import auto_quantize_model.qat as qat
    full = qat.augmented_batch
    def flips_only(images, batch, g, labels=None):
        pick = torch.randperm(len(images), generator=g)[:batch]
        return qat.flipped(images[pick], g, None if labels is None else [labels[i] for i in pick.tolist()])
    if on: qat.augmented_batch = flips_only
    try: yield
    finally: qat.augmented_batch = full

@contextlib.contextmanager
def costliest_inputs_float(n:int=0):
    "A8 runs in the block leave float the inputs of the `n` convs whose input quantizer alone costs the most output SQNR (ranked on the first 4 activation calibration images, right after the ranges are set, before bias correction)."
    import auto_quantize_model.quantize as quantize
    from auto_quantize_model.sensitivity import activation_sensitivity
    set_ranges = quantize.calibrate_activations_
    def set_ranges_then_float(qmodel, images, batch=8):
        set_ranges(qmodel, images, batch)
        mods = dict(qmodel.named_modules())
        for r in activation_sensitivity(qmodel, images[:4], batch, show_progress=False)[:n]:
            mods[r["name"]].input_quant.disable_quant = True
        return qmodel
    if n: quantize.calibrate_activations_ = set_ranges_then_float
    try: yield
    finally: quantize.calibrate_activations_ = set_ranges

# the rows of the A8 table (`--set a8`)
A8_SET = ("w8a8", "w4a8")

# the rows of the calibration-shift table (`--set shift`, with `--calib-data-root` photos the model never saw)
SHIFT_SET = ("w8a8 (default)", "w4a8 (default)", "ranges as calibrated")

# the rows of the QAT table (`--set qat`)
QAT_SET = ("pure 4-bit", "default (5% budget) + QAT")

# the rows of the W4A16 accuracy tables in README.md (`--set w4a16`)
W4A16_SET = ("published", "asymmetric per-channel RTN", "(default)", "groups of", "preset", "in 10% of", "w8a16")

def stored_bits_per_weight(layers:list) -> float:
    "Bits per quantized weight including its scales (float32) and zero points (8 bits, asymmetric weights)."
    n = bits = 0
    for r in (r for r in layers if r["bits"]):
        group = int(str(r["granularity"]).replace("per_group", "") or 0) if str(r["granularity"]).startswith("per_group") else 0
        scales = r["n_weights"] // group if group else r["out_channels"] if r["granularity"] == "per_channel" else 1
        n += r["n_weights"]; bits += r["bits"] * r["n_weights"] + scales * (32 + (8 if r["weight_quant"] == "asym" else 0))
    return round(bits / max(n, 1), 2)

def measure(name:str, mode:str, cfg:dict, data:dict, root, run_id:str, resamples:int=0) -> dict:
    "One configuration as a full `aqm run` on the benchmark's data: its row of the table."
    from auto_quantize_model.run import run_full
    from auto_quantize_model.spec import RunSpec
    t = time.perf_counter()
    opts = {k: v for k, v in cfg.items() if k not in BENCH_ONLY}
    spec = RunSpec.build(mode=mode, run_root=root, run_id=run_id, providers="cpu", bootstrap=resamples, **data, **opts)
    with costliest_inputs_float(cfg.get("float_inputs", 0)), qat_flips_only(cfg.get("qat_augment") == "flips"):
        r = run_full(spec, log=lambda *x: None, show_progress=False).modes[mode]
    d, ex = r.deltas, r.export
    share8 = ex["bit_widths"].get("8", {}).get("weight_share", 0.0)
    return dict(name=name, mode=mode, config=cfg, fp32=d["fp32"]["mAP_50_95"], quant=d["quant"]["mAP_50_95"], images=d["images"],
                delta_points=round(100 * d["delta_mAP_50_95"], 2), quantize_s=r.wall_times_s["quantize"], qat_s=r.wall_times_s.get("qat"),
                weight_share_8bit=share8, calib_output_sqnr_db=(ex["ptq"].get("qat") or ex["ptq"]).get("calib_output_sqnr_db"),
                stored_bits_per_weight=stored_bits_per_weight(ex["layers"]),
                QuantizeLinear=ex["quant"]["QuantizeLinear"], run_s=round(time.perf_counter() - t, 1),
                **({"delta_interval_points": [round(100 * iv["low"], 2), round(100 * iv["high"], 2)]}
                   if (iv := d.get("delta_mAP_50_95_interval")) else {}),
                **({"before_qat_delta_points": round(100 * d["before_qat"]["delta_mAP_50_95"], 2),
                    "qat_gain_points": round(100 * d["qat_gain_mAP_50_95"]["delta"], 2),
                    "qat_gain_interval_points": [round(100 * g["low"], 2), round(100 * g["high"], 2)] if (g := d["qat_gain_mAP_50_95"].get("interval")) else None}
                   if "before_qat" in d else {}))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="demo"); ap.add_argument("--data-root", default="demo")
    ap.add_argument("--max-images", type=int, default=100); ap.add_argument("--calib-images", type=int, default=64)
    ap.add_argument("--calib-data-root", default=None, help="calibrate on another COCO root (photos the model never saw: calibration shift)")
    ap.add_argument("--only", nargs="*", default=None, help="substrings of the configuration names to run")
    ap.add_argument("--set", choices=["w4a16", "a8", "qat", "shift"], help="the rows of the W4A16, A8, QAT or calibration-shift tables (instead of --only)")
    ap.add_argument("--skip", nargs="*", default=[], help="substrings of the configuration names to leave out (HQO: ~7 s per conv)")
    ap.add_argument("--m-time", action="store_true"); ap.add_argument("--out", default="tmp/benchmarks/accuracy")
    ap.add_argument("--resamples", type=int, default=400, help="bootstrap draws of each row's interval of Δ (0: none)")
    ap.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                    help="run the configurations as Ray tasks (alone: a local runtime; or a cluster address)")
    a = ap.parse_args(argv)
    if a.set == "w4a16": a.only = list(W4A16_SET) + (a.only or []); a.skip = a.skip + ["w8a8", "w4a8", "HQO", "5%"]
    if a.set == "a8": a.only = list(A8_SET) + (a.only or []); a.skip = a.skip + ["pure 4-bit"]
    if a.set == "qat": a.only = list(QAT_SET) + (a.only or [])
    if a.set == "shift": a.only = list(SHIFT_SET) + (a.only or [])
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import warnings; warnings.filterwarnings("ignore")
    from auto_quantize_model.run import run_full, run_ptq
    from auto_quantize_model.spec import RunSpec
    from auto_quantize_model.core import write_json, package_versions
    root = Path(tempfile.mkdtemp(prefix="aqm-acc-")); rows, failed = [], []
    todo = {name: (i, mode, cfg) for i, (name, (mode, cfg)) in enumerate(CONFIGS.items())
            if not ((a.only and not any(s in name for s in a.only)) or any(s in name for s in a.skip))}
    data = dict(weights=a.weights, data_root=a.data_root, max_images=a.max_images, calib_images=a.calib_images,
                **({"calib_data_root": a.calib_data_root} if a.calib_data_root else {}))
    def report(name, row=None, error=None):
        if error is not None:  # one failing configuration is a row, not the end of the benchmark
            print(f"{name}: failed: {error[:300]}", flush=True)
            failed.append(dict(name=name, mode=todo[name][1], config=todo[name][2], error=error[:500])); return
        rows.append(row)
        print(f"{name}: mAP50-95 {row['quant']:.4f} (FP32 {row['fp32']:.4f}, {row['delta_points']:+.2f} points), "
              f"quantize {row['quantize_s']:.1f} s, 8-bit weights {100*row['weight_share_8bit']:.1f}%", flush=True)
    if a.ray:  # every configuration a Ray task, with this process's torch threads (the same numbers as without Ray)
        import torch
        from auto_quantize_model.cluster import call_with_torch_threads, ray_engine, run_tasks
        with ray_engine(a.ray) as eng:
            threads = torch.get_num_threads()
            done, bad = run_tasks({n: (call_with_torch_threads, (threads, measure, n, mode, cfg, data, root, f"r{i}", a.resamples))
                                   for n, (i, mode, cfg) in todo.items()}, num_cpus=min(threads, eng.node_cpus), desc="configurations")
        for n in todo:
            if n in done: report(n, done[n])
            else: report(n, error=bad[n])
    else:
        for n, (i, mode, cfg) in todo.items():
            try: report(n, measure(n, mode, cfg, data, root, f"r{i}", a.resamples))
            except Exception as e: report(n, error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    out = dict(resamples=a.resamples, weights=a.weights, data_root=a.data_root, calib_data_root=a.calib_data_root, max_images=a.max_images, calib_images=a.calib_images, rows=rows, failed=failed,
               versions=package_versions())
    if a.m_time:
        t = time.perf_counter()
        r = run_ptq(RunSpec.build(weights="yolov10m.yaml", run_root=root, run_id="m", imgsz=640, providers="cpu",
                                  data_root=a.data_root, calib_images=a.calib_images), log=lambda *x: None).modes["w4a16"]
        out["yolov10m_default"] = dict(wall_times_s=r.wall_times_s, total_s=round(time.perf_counter() - t, 1))
        print(f"yolov10m.yaml, default configuration, 640 px, {a.calib_images} calibration images: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in r.wall_times_s.items()), flush=True)
    md = ["| configuration | mode | mAP50-95 | Δ vs FP32 (points) | 95 % interval | 8-bit weight share | stored bits per weight | output SQNR (dB) | quantize time (s) | QAT time (s) | QAT gain (points) [95 %] |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    if rows: md.insert(0, f"FP32 mAP50-95: {rows[0]['fp32']:.4f} ({rows[0]['images']} images); intervals: paired bootstrap "
                          f"over those images, {a.resamples} draws\n")
    iv = lambda r: "[{:+.2f}, {:+.2f}]".format(*r["delta_interval_points"]) if "delta_interval_points" in r else ""
    gain = lambda r: (f"{r['qat_gain_points']:+.2f}" + (" [{:+.2f}, {:+.2f}]".format(*r["qat_gain_interval_points"]) if r.get("qat_gain_interval_points") else "")
                      if "qat_gain_points" in r else "")
    md += [f"| {r['name']} | {r['mode']} | {r['quant']:.4f} | {r['delta_points']:+.2f} | {iv(r)} | {100*r['weight_share_8bit']:.1f}% | "
           f"{r['stored_bits_per_weight']} | {r['calib_output_sqnr_db']} | {r['quantize_s']:.1f} | {r['qat_s'] or ''} | {gain(r)} |" for r in rows]
    md += [f"| {r['name']} | {r['mode']} | failed: {r['error'][:200]} | | | | | | | | |" for r in failed]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(Path(a.out + ".json"), out); Path(a.out + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))

if __name__ == "__main__": main()
