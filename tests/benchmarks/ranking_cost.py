"""Ranking cost benchmark (run by hand, not collected by pytest): seconds of the three one-at-a-time rankings
(`layer_sensitivity`, `quantization_recovery`, `activation_sensitivity`) with the layers before each change replayed
(the project's way) and with a whole forward pass per change, on a model built from a yaml or a checkpoint.

    .venv/bin/python tests/benchmarks/ranking_cost.py [--weights yolov10m.yaml] [--imgsz 640] [--images 4]

A model yaml gets He-normal random weights (`load.spread_random_weights_`, as in latency.py). Random images (the cost depends on the graph and the input size, not on the values). Both ways must give the same
rows to the last digit, or the script stops. Prints one line per ranking with the ratio, and writes JSON (default
tmp/benchmarks/ranking_cost.json).
"""
import argparse, contextlib, os, time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="yolov10m.yaml"); ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--images", type=int, default=4, help="images each ranking runs on")
    ap.add_argument("--out", default="tmp/benchmarks/ranking_cost.json")
    a = ap.parse_args(argv)
    import torch
    from auto_quantize_model import sensitivity
    from auto_quantize_model.core import write_json, package_versions
    from auto_quantize_model.spec import resolve_weights, is_model_yaml
    from auto_quantize_model.load import load_yolov10_detection_model, spread_random_weights_
    from auto_quantize_model.config import PTQConfig, ptq_config_for_mode
    from auto_quantize_model.ptq import conv_bit_plan
    from auto_quantize_model.gptq import gptq_model
    from auto_quantize_model.quantize import quantize_model_ptq
    model = load_yolov10_detection_model(resolve_weights(a.weights))
    if is_model_yaml(a.weights): spread_random_weights_(model)  # activations that keep their size through the layers
    x = torch.rand(a.images, 3, a.imgsz, a.imgsz, generator=torch.Generator().manual_seed(0))
    plan = conv_bit_plan(model, PTQConfig())
    grid, _ = gptq_model(model, x, plan, PTQConfig(algorithm="gptq"), show_progress=False)
    a8, _, _ = quantize_model_ptq(model, ptq_config_for_mode("w8a8", algorithm="rtn", bias_correction=False, act_quant="asym",
                                                               act_rank_images=0, act_float=0), x, show_progress=False)
    rankings = dict(layer_sensitivity=lambda: sensitivity.layer_sensitivity(model, x, plan, PTQConfig(), show_progress=False),
                    quantization_recovery=lambda: sensitivity.quantization_recovery(model, grid, x, plan, show_progress=False),
                    activation_sensitivity=lambda: sensitivity.activation_sensitivity(a8, x, show_progress=False))
    @contextlib.contextmanager
    def whole(model, outputs, start): yield model  # every layer computes: a whole forward pass per change
    out = dict(weights=a.weights, imgsz=a.imgsz, images=a.images, torch_threads=torch.get_num_threads(), rankings={})
    for name, rank in rankings.items():
        t = time.perf_counter(); rows = rank(); replayed = time.perf_counter() - t
        kept, sensitivity.layers_replayed = sensitivity.layers_replayed, whole
        try: t = time.perf_counter(); rows_whole = rank(); full = time.perf_counter() - t
        finally: sensitivity.layers_replayed = kept
        if rows != rows_whole: raise SystemExit(f"{name}: replayed rows differ from whole-pass rows")
        out["rankings"][name] = dict(changes=len(rows), replayed_s=round(replayed, 1), whole_pass_s=round(full, 1),
                                     ratio=round(replayed / full, 3))
        print(f"{name}: {len(rows)} changes on {a.images} images: replayed {replayed:.1f} s, whole passes {full:.1f} s "
              f"({replayed / full:.3f}x), same rows", flush=True)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    write_json(a.out, dict(out, versions=package_versions()))
    print(f"wrote {a.out}")

if __name__ == "__main__": main()
