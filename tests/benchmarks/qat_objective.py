"""What QAT minimises (run by hand, not collected by pytest): the distillation loss, Ultralytics' loss on the labels,
or both, at several learning rates, on one PTQ model, the torch model scored.

    OMP_NUM_THREADS=2 .venv/bin/python tests/benchmarks/qat_objective.py [--weights real] [--data-root real]
        [--calib-images 16] [--steps 300] [--variants labels:1e-5 labels:3e-5 distill:3e-4 mix:3e-4:0.01]

The PTQ model is the project's pure 4-bit W4A16 (`--keep-8bit-budget 0`), calibrated on the run's calibration photos
(the data root's train split when it has one); each variant trains a copy of it for `--steps` steps of
`qat.train_qat_` on those photos with their annotations (`coco.calibration_labels`). A variant is `OBJECTIVE:LR`
(`distill` or `labels`, Adam's step for weights and biases) or `mix:LR:W` (the distillation loss plus W times the
labels loss). Printed per variant, as JSON: the loss over the training photos before and after, the QAT wall time and
Δ mAP50-95 (points) of the torch model on the evaluation ids against FP32; the first line gives the PTQ model's Δ.
"""
import argparse, copy, json, os, time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="real"); ap.add_argument("--data-root", default="real")
    ap.add_argument("--calib-images", type=int, default=16); ap.add_argument("--max-images", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--variants", nargs="+", default=["labels:1e-5", "labels:3e-5", "distill:3e-4", "mix:3e-4:0.01"])
    a = ap.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import warnings; warnings.filterwarnings("ignore")
    import torch
    import auto_quantize_model.qat as qat
    from auto_quantize_model.spec import RunSpec
    from auto_quantize_model.run import prepare_run
    from auto_quantize_model.quantize import quantize_model_ptq
    from auto_quantize_model.coco import calibration_labels
    from qat_augment import torch_map  # this folder's scripts, run by path
    spec = RunSpec.build(weights=a.weights, data_root=a.data_root, mode="w4a16", keep_8bit_budget="0", max_images=a.max_images,
                         calib_images=a.calib_images, run_root="tmp/benchmarks/qat-objective", providers="cpu")
    prep = prepare_run(spec, evaluate=True)
    x, labels = prep.calib["x"], calibration_labels(prep.calib, prep.model.names)

    mAP = torch_map(prep)
    fp = mAP(prep.model)
    torch.manual_seed(0)
    ptq = quantize_model_ptq(prep.model, spec.ptq_config(), x, show_progress=False)[0]
    print(json.dumps(dict(fp32=round(fp, 4), ptq_delta_points=round(100 * (mAP(ptq) - fp), 2), training_photos=len(x),
                          boxes=sum(len(l) for l in labels), torch_threads=torch.get_num_threads())), flush=True)
    labels_objective = qat.labels_objective
    for v in a.variants:
        kind, lr, *w = v.split(":")
        q = copy.deepcopy(ptq)
        if kind == "mix":  # the distillation loss plus w times the labels loss, through the labels path of `train_qat_`
            def mixed(qm, w=float(w[0])):
                d, l = qat.distillation_objective(prep.model), labels_objective(qm)
                return lambda m, xb, lb: d(m, xb) + w * l(m, xb, lb)
            qat.labels_objective = mixed
        t = time.perf_counter()
        try: r = qat.train_qat_(q, prep.model, x, a.steps, lr=float(lr), show_progress=False,
                                loss="distill" if kind == "distill" else "labels", labels=labels)
        finally: qat.labels_objective = labels_objective
        print(json.dumps(dict(variant=v, steps=a.steps, loss=[r["loss_before"], r["loss_after"]], qat_s=round(time.perf_counter() - t, 1),
                              delta_points=round(100 * (mAP(q) - fp), 2))), flush=True)

if __name__ == "__main__": main()
