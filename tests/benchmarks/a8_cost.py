"""A8 cost benchmark (run by hand, not collected by pytest): seconds to set the conv input ranges per `--act-quant`, and
to rank the input quantizers (`--act-rank-images`), on a model built from a yaml or a checkpoint.

    .venv/bin/python tests/benchmarks/a8_cost.py [--weights yolov10m.yaml] [--imgsz 640] [--images 4]
        [--act-quants asym-mse asym] [--rank-images 4]

Random images (the cost depends on the graph and the input size, not on the values); weights rounded to nearest at
8 bits. Prints one line per measurement and writes JSON (default tmp/benchmarks/a8_cost.json).
"""
import argparse, os, time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="yolov10m.yaml"); ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--images", type=int, default=4, help="images that calibrate the input quantizers")
    ap.add_argument("--act-quants", nargs="+", default=["asym-mse", "asym"])
    ap.add_argument("--rank-images", type=int, default=4, help="images of the input ranking (0: not timed)")
    ap.add_argument("--out", default="tmp/benchmarks/a8_cost.json")
    a = ap.parse_args(argv)
    import torch
    from auto_quantize_model.core import write_json, package_versions
    from auto_quantize_model.spec import resolve_weights
    from auto_quantize_model.load import load_yolov10_detection_model
    from auto_quantize_model.config import ptq_config_for_mode
    from auto_quantize_model.ptq import quantize_model_brevitas_ptq
    from auto_quantize_model.ptq import calibrate_activations_
    from auto_quantize_model.sensitivity import activation_sensitivity
    model = load_yolov10_detection_model(resolve_weights(a.weights))
    x = torch.rand(max(a.images, a.rank_images), 3, a.imgsz, a.imgsz, generator=torch.Generator().manual_seed(0))
    out = dict(weights=a.weights, imgsz=a.imgsz, images=a.images, torch_threads=torch.get_num_threads(), seconds={})
    t = time.perf_counter()
    with torch.no_grad(): model(x[:1])
    out["seconds"]["float_forward_1_image"] = round(time.perf_counter() - t, 2)
    for k, aq in enumerate(a.act_quants):
        q, _ = quantize_model_brevitas_ptq(model, ptq_config_for_mode("w8a8", algorithm="rtn", bias_correction=False, act_quant=aq))
        t = time.perf_counter(); calibrate_activations_(q, x[:a.images]); s = time.perf_counter() - t
        out["seconds"][f"calibrate_{aq}"] = round(s, 1)
        print(f"{aq}: input ranges from {a.images} images in {s:.1f} s ({s / a.images:.1f} s per image)", flush=True)
        if k == 0 and a.rank_images:
            t = time.perf_counter(); rows = activation_sensitivity(q, x[:a.rank_images], show_progress=False); s = time.perf_counter() - t
            out["seconds"]["rank_inputs"], out["input_quantizers"] = round(s, 1), len(rows)
            print(f"ranking {len(rows)} input quantizers on {a.rank_images} images: {s:.1f} s", flush=True)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    write_json(a.out, dict(out, versions=package_versions()))
    print(f"wrote {a.out}")

if __name__ == "__main__": main()
