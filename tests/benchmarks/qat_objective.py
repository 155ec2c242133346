"""What QAT minimises (run by hand, not collected by pytest): the distillation loss, Ultralytics' loss on the labels,
or both, at several learning rates, on one PTQ model, the torch model scored.

    OMP_NUM_THREADS=2 .venv/bin/python tests/benchmarks/qat_objective.py [--weights real] [--data-root real]
        [--calib-images 16] [--steps 300] [--variants labels:1e-5 labels:3e-5 distill:3e-4 mix:3e-4:0.01]

The PTQ model is the project's pure 4-bit W4A16 (`--keep-8bit-budget 0`), calibrated on the run's calibration photos
(the data root's train split when it has one); each variant trains a copy of it for `--steps` steps of
`qat.train_qat_` on those photos with their annotations (`coco.calibration_labels`). A variant is `OBJECTIVE:LR`
(`distill` or `labels`, Adam's step for weights and biases), `mix:LR:W` (the distillation loss plus W times the labels
loss), `seed:S` (the default stage with batch draws from seed S), `confident:LR` (the distillation loss with the class
outputs compared as probabilities and the box outputs weighted per anchor by the larger top-class probability of
teacher and student: the anchors that can become detections), `scale:LR:S` (the default stage with batches from seed S
and Adam's step LR for the weights' scales and zero points), `blocks:W:S` (the default stage with batches from seed S,
plus W times the mean relative MSE of every block's output before the head), `ema:D:S` (the default stage with batches
from seed S, ending on the moving average of its parameters, decay D per step), `topk:K:S` (the default stage with
batches from seed S, the box and class outputs compared only at each image's K anchors of highest float top-class
score), `local:LR:S` (block-wise reconstruction instead of the default stage: each top-level layer in turn, its
quantized convs trained for `--steps` steps, from the inputs the quantized model gives it, to the output the float
layer gives the float inputs; the head against the float head's raw outputs; on the photos and as many augmented copies,
batches from seed S), `frozen:LR:S` (the default stage with batches from seed S and the weights frozen at their PTQ values: biases
trained at the default step, scales and zero points at Adam's step LR), or `grid:R` (the default stage with Adam's
step of each conv's weights R times that conv's mean grid step instead of one step for all). Printed per variant, as
JSON: the loss over the training photos before and after, the QAT wall time and Δ mAP50-95 (points) of the torch model
on the evaluation ids against FP32; the first line gives the PTQ model's Δ.
"""
import argparse, copy, json, os, time

def feature_mse(student, teacher):
    "The mean relative MSE of the head's input maps, the part of `qat.distillation_loss` every variant below keeps."
    from auto_quantize_model.qat import relative_mse
    return sum(relative_mse(s, t) for s, t in zip(student["feats"], teacher["feats"])) / len(teacher["feats"])

def confident_distillation_loss(student, teacher):
    "`qat.distillation_loss` with class outputs as probabilities and box outputs weighted by the anchors' top-class probability."
    import torch
    feats = feature_mse(student, teacher)
    pt, ps = teacher["scores"].sigmoid(), student["scores"].sigmoid()
    scores = (ps - pt).pow(2).sum() / pt.pow(2).sum().clamp_min(1e-12)
    w = torch.maximum(pt, ps.detach()).amax(1, keepdim=True)  # (B, 1, anchors)
    boxes = (w * (student["boxes"] - teacher["boxes"]).pow(2)).sum() / (w * teacher["boxes"].pow(2)).sum().clamp_min(1e-12)
    return feats + scores + boxes, dict(features=feats.item(), head=(scores + boxes).item())

def topk_distillation_loss(k):
    "`qat.distillation_loss` with the box and class outputs compared only at the `k` anchors of each image where the float model's top-class score is highest."
    from auto_quantize_model.qat import relative_mse
    def loss(student, teacher):
        feats = feature_mse(student, teacher)
        idx = teacher["scores"].amax(1).topk(min(k, teacher["scores"].shape[-1]), dim=1).indices[:, None]  # (B, 1, k)
        pick = lambda t: t.gather(2, idx.expand(-1, t.shape[1], -1))
        head = relative_mse(pick(student["boxes"]), pick(teacher["boxes"])) + relative_mse(pick(student["scores"]), pick(teacher["scores"]))
        return feats + head, dict(features=feats.item(), head=head.item())
    return loss

def grid_step_parameters(qat_parameters, ratio, Adam):
    "`(qat_parameters, Adam)` replacements: Adam's step for each conv's weights is `ratio` times that conv's mean grid step."
    import torch
    steps = {}
    def parameters(qmodel, names):
        wb, sz = qat_parameters(qmodel, names)
        mods = dict(qmodel.named_modules())
        with torch.no_grad(): steps.update({id(mods[n].weight): mods[n].quant_weight().scale.mean().item() for n in names})
        return wb, sz
    class GridStepAdam(Adam):
        def __init__(self, groups, **kw):
            wb, rest = groups[0], groups[1:]
            super().__init__([dict(params=[p], lr=ratio * steps[id(p)] if id(p) in steps else wb["lr"]) for p in wb["params"]] + rest, **kw)
    return parameters, GridStepAdam

def averaged_adam(Adam, decay, steps):
    "An `Adam` that keeps an exponential moving average of its parameters (weight `decay` per step) and loads it after its `steps`-th step."
    import torch
    class AveragedAdam(Adam):
        def __init__(self, groups, **kw):
            super().__init__(groups, **kw)
            self.done, self.shadow = 0, [p.detach().clone() for g in self.param_groups for p in g["params"]]
        @torch.no_grad()
        def step(self, *a, **kw):
            out = super().step(*a, **kw); self.done += 1
            ps = [p for g in self.param_groups for p in g["params"]]
            for s, p in zip(self.shadow, ps): s.mul_(decay).add_(p, alpha=1 - decay)
            if self.done == steps:
                for s, p in zip(self.shadow, ps): p.copy_(s)
            return out
    return AveragedAdam

def block_distillation_objective(qat, weight):
    "A `qat.distillation_objective` replacement: the head's distillation loss plus `weight` times the mean relative MSE of every block's output before the head."
    import torch
    def objective(model):
        def outputs(m, x):
            blocks, got = list(m.model)[:-1], []
            hooks = [b.register_forward_hook(lambda mod, i, o: got.append(o)) for b in blocks]
            try: out = qat.head_outputs(m, x)
            finally:
                for h in hooks: h.remove()
            return out, [g for g in got if torch.is_tensor(g)]
        def loss(qmodel, x, labels=None):
            with torch.no_grad(): t, tb = outputs(model, x)
            s, sb = outputs(qmodel, x)
            blocks = sum(qat.relative_mse(a, b) for a, b in zip(sb, tb)) / max(len(tb), 1)
            return qat.distillation_loss(s, t)[0] + weight * blocks
        return loss
    return objective

def layer_inputs_outputs(m, x):
    "Each top-level layer's input (a tensor, or the list a concat or the head takes) and output, `m` run on `x` without gradients."
    import torch
    ins, outs = {}, {}
    hooks = [l.register_forward_pre_hook(lambda mod, a, i=i: ins.__setitem__(i, a[0])) for i, l in enumerate(m.model)]
    hooks += [l.register_forward_hook(lambda mod, a, o, i=i: outs.__setitem__(i, o)) for i, l in enumerate(m.model)]
    try:
        with torch.no_grad(): m(x)
    finally:
        for h in hooks: h.remove()
    return ins, outs

def raw_head(model, out):
    "The raw `feats`, `boxes`, `scores` of the evaluated head from the head layer's own output."
    preds = out[1] if isinstance(out, (tuple, list)) else out
    return preds if "feats" in preds else preds[getattr(model, "aqm_head", "one2one")]

def blockwise_reconstruction_(qmodel, model, images, steps, lr, seed=0, batch=8, scale_lr=1e-6):
    "BRECQ-style: every top-level layer in turn trained on the quantized model's inputs to give the float layer's output on the float inputs."
    import torch, auto_quantize_model.qat as qat
    from auto_quantize_model.load import detection_head
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([images, qat.augmented_batch(images, len(images), g)[0]])
    names = qat.learnable_weight_quants_(qmodel)
    head = detection_head(model); qhead = detection_head(qmodel)
    ex, qex = head.export, qhead.export
    head.export = qhead.export = False
    try:
        _, fout = layer_inputs_outputs(model, x)
        def pick(t, idx):
            if isinstance(t, dict): return {k: pick(v, idx) for k, v in t.items()}
            return [pick(v, idx) for v in t] if isinstance(t, (list, tuple)) else t[idx]
        before = after = 0.0
        for i, layer in enumerate(qmodel.model):
            block = [n for n in names if n.startswith(f"model.{i}.")]
            if not block: continue
            qin = layer_inputs_outputs(qmodel, x)[0][i]
            last = i == len(qmodel.model) - 1
            target = raw_head(model, fout[i]) if last else fout[i]
            loss = (lambda s, t: qat.distillation_loss(raw_head(qmodel, s), t)[0]) if last else qat.relative_mse
            wb, sz = qat.qat_parameters(qmodel, block)
            opt = torch.optim.Adam([dict(params=wb, lr=lr), dict(params=sz, lr=scale_lr)])
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
            with torch.no_grad(): b0 = loss(layer(qin), target).item()
            for _ in range(steps):
                idx = torch.randperm(len(x), generator=g)[:batch]
                value = loss(layer(pick(qin, idx)), pick(target, idx))
                opt.zero_grad(set_to_none=True); value.backward(); opt.step(); sched.step()
            with torch.no_grad(): b1 = loss(layer(qin), target).item()
            before += b0; after += b1
    finally:
        head.export, qhead.export = ex, qex
        for p in qmodel.parameters(): p.requires_grad_(False)
    from auto_quantize_model.ptq import cache_weight_quant_metadata
    cache_weight_quant_metadata(qmodel)
    return dict(loss_before=round(before, 6), loss_after=round(after, 6))

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
    labels_objective, distillation_loss, qat_parameters, Adam = qat.labels_objective, qat.distillation_loss, qat.qat_parameters, torch.optim.Adam
    distillation_objective = qat.distillation_objective
    for v in a.variants:
        kind, lr, *w = v.split(":")
        q, train = copy.deepcopy(ptq), dict(lr=float(lr), loss="distill" if kind in ("distill", "confident") else "labels")
        seed = int(w[0]) if w else 0  # the S of `KIND:X:S`
        if kind == "scale":  # the default stage, batches from seed w[0], Adam's step lr for the weights' scales and zero points
            train = dict(loss="distill", scale_lr=float(lr), seed=seed)
        if kind == "blocks":  # the default stage, batches from seed w[0], every block's output distilled too (weight lr)
            train = dict(loss="distill", seed=seed); qat.distillation_objective = block_distillation_objective(qat, float(lr))
        if kind == "frozen":  # the default stage, batches from seed w[0], weights frozen: biases, scales and zero points (Adam's step lr) trained
            train = dict(loss="distill", scale_lr=float(lr), seed=seed)
            def biases_scales(qmodel, names, f=qat_parameters):
                wb, sz = f(qmodel, names)
                mods = dict(qmodel.named_modules()); weights = {id(mods[n].weight) for n in names}
                for p in wb:
                    if id(p) in weights: p.requires_grad_(False)
                return [p for p in wb if id(p) not in weights], sz
            qat.qat_parameters = biases_scales
        if kind in ("seed", "grid", "ema"): train = dict(loss="distill", **({"seed": int(lr)} if kind == "seed" else {}))
        if kind == "ema":  # the default stage, batches from seed w[0], ending on the moving average of its parameters (decay lr)
            train["seed"] = seed; torch.optim.Adam = averaged_adam(Adam, float(lr), a.steps)
        if kind == "confident": qat.distillation_loss = confident_distillation_loss
        if kind == "topk":  # the default stage, batches from seed w[0], box and class outputs compared at the float model's top lr anchors only
            train = dict(loss="distill", seed=seed); qat.distillation_loss = topk_distillation_loss(int(lr))
        if kind == "grid":  # one Adam step size per conv's weights, R times its mean grid step (biases keep the default step)
            qat.qat_parameters, torch.optim.Adam = grid_step_parameters(qat_parameters, float(lr), Adam)
        if kind == "mix":  # the distillation loss plus w times the labels loss, through the labels path of `train_qat_`
            def mixed(qm, w=float(w[0])):
                d, l = qat.distillation_objective(prep.model), labels_objective(qm)
                return lambda m, xb, lb: d(m, xb) + w * l(m, xb, lb)
            qat.labels_objective = mixed
        t = time.perf_counter()
        try: r = (blockwise_reconstruction_(q, prep.model, x, a.steps, float(lr), seed) if kind == "local"  # instead of the end-to-end stage
                  else qat.train_qat_(q, prep.model, x, a.steps, show_progress=False, labels=labels, **train))
        finally: qat.labels_objective, qat.distillation_loss, qat.qat_parameters, torch.optim.Adam, qat.distillation_objective = labels_objective, distillation_loss, qat_parameters, Adam, distillation_objective
        print(json.dumps(dict(variant=v, steps=a.steps, loss=[r["loss_before"], r["loss_after"]], qat_s=round(time.perf_counter() - t, 1),
                              delta_points=round(100 * (mAP(q) - fp), 2))), flush=True)

if __name__ == "__main__": main()
