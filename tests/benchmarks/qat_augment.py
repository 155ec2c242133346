"""QAT augmentations (run by hand, not collected by pytest): which batches make a few training photos go further.

    .venv/bin/python tests/benchmarks/qat_augment.py --unseen-data-root ROOT [--weights real] [--data-root real]
        [--variants flips mosaic color mosaic+color mosaic+scale+color default] [--steps 300] [--unseen-images 32] [--map]

Each variant: the run's pure 4-bit W4A16 PTQ model (`--keep-8bit-budget 0`, the data root's calibration photos, as
`aqm ptq` picks them), then `qat.train_qat_` for `--steps` steps with that variant's batches: flips always; `mosaic`
makes the whole batch 2 x 2 mosaics with probability one half (`qat.mosaics`); `color` jitters contrast, brightness and
channel gains (`qat.color_jittered`); `scale` rescales the batch 0.5 to 1.5 times (grey padding or a crop);
`default` is `qat.augmented_batch` itself. Printed per variant, as JSON: the distillation loss and output SQNR on
`--unseen-images` photos of `--unseen-data-root` (a COCO root the model never saw) before and after QAT, the loss on
the training photos, and with `--map` the Δ mAP50-95 of the torch model on the data root's evaluation photos (all of
them for a root with a train split).
"""
import argparse, json, os, time

PAD = 114 / 255  # the letterbox grey

class TorchSession:
    "A torch model answering like an ONNX Runtime session, for `coco.predict_images`."
    def __init__(self, m): self.m = m.eval()
    def get_inputs(self): return [type("I", (), dict(name="images", type="tensor(float)"))()]
    def run(self, _, feed):
        import torch
        with torch.no_grad(): y = self.m(torch.from_numpy(feed["images"]))
        return [(y[0] if isinstance(y, (tuple, list)) else y).numpy()]

def torch_map(prep):
    "`mAP(model)`: mAP50-95 of a torch model of the prepared run on its evaluation ids (pycocotools, the run's letterbox)."
    from auto_quantize_model.coco import category_id_map, coco_metrics, predict_images
    coco, files = prep.eval_data["coco"], prep.eval_data["files"]
    cat_map, _ = category_id_map({int(k): str(v) for k, v in dict(prep.model.names).items()}, coco)
    return lambda m: coco_metrics(coco, predict_images(TorchSession(m), files, cat_map, prep.imgsz, show=False)[0], list(files))["mAP_50_95"]

def scale_jittered(x, g, lo=0.5, hi=1.5):
    "The batch rescaled by one random factor in [lo, hi]: padded with grey at a random place when smaller, cropped when larger."
    import torch, torch.nn.functional as F
    n, c, h, w = x.shape
    s = float(lo + (hi - lo) * torch.rand(1, generator=g))
    nh, nw = max(8, int(h * s)), max(8, int(w * s))
    r = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
    y0, x0 = (int(torch.randint(0, abs(a - b) + 1, (1,), generator=g)) for a, b in ((h, nh), (w, nw)))
    if s >= 1: return r[..., y0:y0 + h, x0:x0 + w].contiguous()
    out = torch.full_like(x, PAD); out[..., y0:y0 + nh, x0:x0 + nw] = r
    return out

def variant_batch(variant:str):
    "A `qat.augmented_batch` replacement for one variant."
    import torch
    import auto_quantize_model.qat as qat
    if variant == "default": return qat.augmented_batch
    def batch_fn(images, batch, g, labels=None):
        if labels is not None: raise ValueError("the augmentation variants are measured on distillation only")
        x, _ = qat.flipped(images[torch.randperm(len(images), generator=g)[:batch]], g)
        if "mosaic" in variant and torch.rand(1, generator=g).item() < 0.5: x, _ = qat.mosaics(images, len(x), g)
        if "scale" in variant: x = scale_jittered(x, g)
        if "color" in variant: x = qat.color_jittered(x, g)
        return x, None
    return batch_fn

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="real"); ap.add_argument("--data-root", default="real")
    ap.add_argument("--unseen-data-root", required=True, help="a COCO root whose photos the model never saw (the loss there tells fitting from learning)")
    ap.add_argument("--unseen-images", type=int, default=32); ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--variants", nargs="+", default=["flips", "mosaic", "color", "mosaic+color", "mosaic+scale+color", "default"])
    ap.add_argument("--max-images", type=int, default=100_000); ap.add_argument("--map", action="store_true")
    a = ap.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import warnings; warnings.filterwarnings("ignore")
    import copy, torch
    import auto_quantize_model.qat as qat
    from auto_quantize_model.spec import RunSpec
    from auto_quantize_model.run import prepare_run
    from auto_quantize_model.quantize import quantize_model_ptq
    from auto_quantize_model.data import prepare_calib_source, calibration_batch, image_files
    from auto_quantize_model.sensitivity import output_sqnr_db
    spec = RunSpec.build(weights=a.weights, data_root=a.data_root, mode="w4a16", keep_8bit_budget="0", max_images=a.max_images,
                         run_root="tmp/benchmarks/qat-augment", providers="cpu")
    prep = prepare_run(spec, evaluate=True)
    x = prep.calib["x"]
    src = prepare_calib_source(a.unseen_data_root)
    unseen = calibration_batch(image_files(src["coco"], sorted(src["coco"].getImgIds())[:a.unseen_images], src["images_dir"]), prep.imgsz)

    mAP = torch_map(prep)
    fp = mAP(prep.model) if a.map else None
    torch.manual_seed(0)
    ptq = quantize_model_ptq(prep.model, spec.ptq_config(), x, show_progress=False)[0]
    before = dict(unseen_loss=round(qat.mean_distillation_loss(ptq, prep.model, unseen), 5), unseen_sqnr_db=round(output_sqnr_db(prep.model, ptq, unseen), 2))
    print(json.dumps(dict(ptq=before, training_photos=len(x), unseen_photos=len(unseen),
                          **({"ptq_delta_points": round(100 * (mAP(ptq) - fp), 2)} if a.map else {}))), flush=True)
    full = qat.augmented_batch
    for v in a.variants:
        q = copy.deepcopy(ptq)
        qat.augmented_batch = variant_batch(v)
        try: t = time.perf_counter(); r = qat.train_qat_(q, prep.model, x, a.steps, show_progress=False); wall = time.perf_counter() - t
        finally: qat.augmented_batch = full
        row = dict(variant=v, steps=a.steps, training_loss=[r["loss_before"], r["loss_after"]],
                   unseen_loss=round(qat.mean_distillation_loss(q, prep.model, unseen), 5), unseen_sqnr_db=round(output_sqnr_db(prep.model, q, unseen), 2),
                   qat_s=round(wall, 1), **({"delta_points": round(100 * (mAP(q) - fp), 2)} if a.map else {}))
        print(json.dumps(row), flush=True)

if __name__ == "__main__": main()
