"""Time per QAT step (run by hand, not collected by pytest): what `--qat` costs on a given model and input size.

    .venv/bin/python tests/benchmarks/qat_step.py [--weights yolov10m.yaml] [--imgsz 640] [--batch 8] [--steps 3]

The model (random weights for a yaml) is quantized W4A16 by round to nearest (the QAT step does not depend on how PTQ
rounded), its weight quantizers made learnable, and `--steps` optimizer steps of `qat.train_qat_` timed on random
images after one warm-up step. Prints seconds per step and the projection for `--qat`'s default steps, as JSON.
"""
import argparse, json, os, time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="yolov10m.yaml"); ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--batch", type=int, default=8); ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import warnings; warnings.filterwarnings("ignore")
    import torch
    from auto_quantize_model.config import PTQConfig, QAT_STEPS
    from auto_quantize_model.load import load_yolov10_detection_model, spread_random_weights_
    from auto_quantize_model.quantize import quantize_model_ptq
    from auto_quantize_model.qat import train_qat_
    torch.manual_seed(0)
    model = spread_random_weights_(load_yolov10_detection_model(a.weights))
    images = torch.rand(a.batch, 3, a.imgsz, a.imgsz)
    qmodel = quantize_model_ptq(model, PTQConfig(algorithm="rtn", bias_correction=False, keep_8bit_budget="0"), show_progress=False)[0]
    t = time.perf_counter(); train_qat_(qmodel, model, images, steps=1, batch=a.batch, show_progress=False); warm = time.perf_counter() - t
    r = train_qat_(qmodel, model, images, steps=a.steps, batch=a.batch, show_progress=False)
    # train_qat_'s wall time includes the loss over every image before and after: two forward passes of both models
    t = time.perf_counter(); train_qat_(qmodel, model, images, steps=0, batch=a.batch, show_progress=False); fixed = time.perf_counter() - t
    per_step = (r["wall_s"] - fixed) / a.steps
    out = dict(weights=a.weights, imgsz=a.imgsz, batch=a.batch, steps=a.steps, threads=torch.get_num_threads(),
               seconds_per_step=round(per_step, 3), first_call_s=round(warm, 1),
               projected_default_qat_s=round(per_step * QAT_STEPS + fixed, 1), default_steps=QAT_STEPS)
    print(json.dumps(out))

if __name__ == "__main__": main()
