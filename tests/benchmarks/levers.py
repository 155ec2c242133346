"""Levers benchmark (run by hand, not collected by pytest): published PTQ methods for 4-bit weights (W4A16) from
Brevitas 0.13, each applied to the project's Brevitas model and scored on the same COCO images.

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/levers.py [--weights real] [--data-root real]
        [--max-images 100] [--calib-images 16] [--only NAME ...] [--skip NAME ...] [--resamples 400]
        [--out tmp/benchmarks/levers]

The model, the calibration images and the evaluation ids come from `prepare_run` (as `aqm run`); every row starts from
the project's per-channel 4-bit Brevitas model (asymmetric unless its name says symmetric absmax), applies one lever with
those calibration images, is exported with `export_brevitas_qcdq_onnx` and evaluated with `evaluate_onnx_on_coco` on
the ids the FP32 baseline is evaluated on. Rows: the project's default (`algorithm auto`: GPTQ, asymmetric, bias
correction) and RTN as references; Brevitas GPFQ and Qronos (`gpfq_mode`), MagR (`magr_mode`) before RTN or the
project's GPTQ, Brevitas learned rounding by blocks (`brevitas_examples.common.learned_round`): AdaRound's hard
sigmoid with Adam and a rounding regulariser over the block (BRECQ-style), and the identity parametrisation with
`SignSGD` (AutoRound-style), from symmetric absmax grids and from asymmetric ones ("asym zero point": the zero point is
rounded to nearest, not by the learned rounding); two checks of where the project default's error comes from: its
depthwise convs kept at 8 bits, and its calibration images doubled by their mirror images; and four variants of the
project's GPTQ: Hessians from every input column instead of 32768 sampled, each conv's inputs taken with the convs
before it in its block already quantized, the low and high ends of each channel's range clipped by separately
searched ratios, and input channels scaled AWQ-style by a power of their RMS chosen per conv (this row is scored from
the float graph of its dequantized weights, which a QCDQ graph with a per-input-channel `Mul` would compute). Iterations
are cut for CPU time (`MAGR`, `ROUND_ITERS`).
Each row's Δ vs FP32 and vs the project default has its 95 % paired bootstrap interval over the evaluated images
(`coco.paired_bootstrap_delta`, `--resamples` draws). Writes `<out>.md` and `<out>.json`; a lever that fails is a row with status `failed` and its error.
"""
import argparse, copy, functools, os, tempfile, time, traceback
os.environ.setdefault("TQDM_DISABLE", "1")  # Brevitas' per-layer progress bars
from pathlib import Path
import torch, torch.nn as nn

BATCH = 8  # images per forward batch, as the project's PTQ

def _ptq():
    from auto_quantize_model.config import PTQConfig
    return PTQConfig

def rtn_model(model, cal, weight_quant="asym"):
    "The project's Brevitas model: per-channel 4-bit weights (asymmetric by default), round to nearest, no bias correction."
    from auto_quantize_model.quantize import quantize_model_ptq
    cfg = _ptq()(algorithm="rtn", weight_quant=weight_quant, bias_correction=False)
    return quantize_model_ptq(model, cfg, cal, BATCH, show_progress=False)[0]

def rtn_absmax(model, cal): return rtn_model(model, cal, "absmax")

def project_default(model, cal, **options):
    "The project's default W4A16 PTQ (`algorithm auto` → its GPTQ with asymmetric grids and bias correction), with `options`."
    from auto_quantize_model.quantize import quantize_model_ptq
    return quantize_model_ptq(model, _ptq()(**options), cal, BATCH, show_progress=False)[0]

def gpfq_family_(qmodel, cal, impl=None, act_order=True):
    "Brevitas `gpfq_mode` in place, layer after layer: inputs from the quantized model, targets from the float one."
    from brevitas.graph.gpfq import gpfq_mode, GPFQ
    with torch.no_grad(), gpfq_mode(qmodel, use_quant_activations=False, act_order=act_order,
                                    algorithm_impl=impl or GPFQ) as g:
        for _ in range(g.num_layers):
            for x in cal.split(BATCH): g.model(x)
            g.update()
    return qmodel

def gpfq(model, cal): return gpfq_family_(rtn_model(model, cal), cal)

def qronos(model, cal):
    "Qronos (Brevitas `Qronos` as `gpfq_mode`'s algorithm, as `brevitas_examples`' `apply_qronos`)."
    from brevitas.graph.qronos import Qronos
    return gpfq_family_(rtn_model(model, cal), cal, functools.partial(Qronos, alpha=1e-6))

MAGR = dict(alpha=1e-3, steps=100)  # rows without an alpha in their name; alpha 0.01 (Brevitas LLM default) removed a
# third of the weights' range and left the float model itself at 23.9 dB output SQNR on YOLOv10n; 200 steps took ~10 min

def magr_float(model, cal, alpha=MAGR["alpha"], steps=MAGR["steps"]):
    "A float copy of `model` whose quantized convs hold MagR weights (Brevitas `magr_mode`, float inputs)."
    from brevitas.graph.magr import magr_mode
    from brevitas.graph.calibrate import quantization_status_manager
    q = rtn_model(model, cal)
    with torch.no_grad(), magr_mode(q, alpha=alpha, num_steps=steps, create_weight_orig=False) as m:
        with quantization_status_manager(q, disable_weight_quant=True):  # covariances of the float model's inputs
            for x in cal.split(BATCH): m.model(x)
        m.update()
    out, qm = copy.deepcopy(model), dict(q.named_modules())
    for n, mod in out.named_modules():
        if type(mod) is nn.Conv2d and hasattr(qm.get(n), "weight_quant"): mod.weight.data = qm[n].weight.data.clone()
    return out

_MAGR = {}  # (id of the float model, alpha) → (MagR float model, seconds it took): the RTN and GPTQ rows share one run

def _magr(model, cal, alpha):
    "`(MagR float model, seconds to add)`: computed on first use, then reused with its time added to the row."
    if (id(model), alpha) in _MAGR: return _MAGR[id(model), alpha]
    t = time.perf_counter(); f = magr_float(model, cal, alpha); _MAGR[id(model), alpha] = (f, time.perf_counter() - t)
    return f, 0.0

def magr_rtn(model, cal, alpha=MAGR["alpha"]): f, s = _magr(model, cal, alpha); return rtn_model(f, cal), s
def magr_gptq(model, cal, alpha=MAGR["alpha"]): f, s = _magr(model, cal, alpha); return project_default(f, cal), s

def round_blocks(qmodel) -> list:
    "Blocks optimised one after the other: the top-level Ultralytics blocks with convs, then the head's branches in use."
    from auto_quantize_model.load import detection_head
    from brevitas.nn.quant_layer import QuantWeightBiasInputOutputLayer as QL
    head = detection_head(qmodel)
    has = lambda m: any(isinstance(x, QL) for x in m.modules())
    one2one = getattr(head, "one2one_cv2", None) is not None and head.end2end
    branches = (head.one2one_cv2, head.one2one_cv3) if one2one else (head.cv2, head.cv3)
    return [b for b in qmodel.model if has(b) and b is not head] + [s for br in branches for s in br if has(s)]

def _block_round_reg(iters):
    "AdaRound's rounding regulariser summed over every learned-round quantizer of a block (BRECQ's block loss term)."
    from brevitas_examples.common.learned_round.learned_round_method import (BlockLoss, LinearTempDecay,
                                                                             return_learned_round_quantizers)
    class BlockRoundReg(BlockLoss):
        def __init__(self, block, weight=0.01, warmup=0.2, **kw):
            self.mods, self.weight, self.start, self.iter = return_learned_round_quantizers(block), weight, iters * warmup, 0
            self.decay = LinearTempDecay(iters, rel_start_decay=warmup, start_b=20, end_b=2)
        def __call__(self, pred, tgt):
            self.iter += 1
            if self.iter < self.start: return pred.new_zeros(())
            b = self.decay(self.iter)
            return self.weight * sum((1 - ((m.learned_round_impl(m.value) - 0.5).abs() * 2).pow(b)).sum() for m in self.mods)
    return BlockRoundReg

def _without_accelerate():
    "Stand-ins for the `accelerate` device helpers `brevitas_examples`' learned-round trainer imports, when it is absent."
    import importlib.util, sys, types
    if "accelerate" in sys.modules or importlib.util.find_spec("accelerate"): return
    ops = types.ModuleType("accelerate.utils.operations"); ops.send_to_device = lambda t, *a, **k: t  # CPU: stays put
    acc = types.ModuleType("brevitas_examples.common.accelerate_utils.accelerate")
    acc.offload_model = acc.remove_hooks = lambda model, *a, **k: model
    sys.modules.update({"accelerate": types.ModuleType("accelerate"), "accelerate.utils": types.ModuleType("accelerate.utils"),
                        "accelerate.utils.operations": ops, acc.__name__: acc})

def _block_cache():
    "A learned-round `Cache` of one block's single-tensor inputs and outputs, one entry per image."
    from brevitas_examples.common.learned_round.learned_round_utils import Cache
    class BlockCache(Cache):
        def __init__(self): self.reset_cache()
        def reset_cache(self): self.inputs, self.outputs = [], []
        def store_inputs(self, args, kwargs): self.inputs += list(args[0].detach().split(1))
        def store_output(self, output): self.outputs += list(output.detach().split(1))
        def __len__(self): return len(self.inputs)
        def __getitem__(self, i): return self.inputs[i], self.outputs[i]
        def collate_fn(self, batch): i, o = zip(*batch); return torch.cat(i), torch.cat(o)
    return BlockCache()

def round_zero_points_to_nearest_(qmodel):
    "Round asymmetric zero points to nearest with their own integer quantizer (Brevitas shares the learned-round one)."
    from brevitas.core.function_wrapper import RoundSte
    for m in qmodel.modules():
        ssz = getattr(getattr(getattr(m, "tensor_quant", None), "zero_point_impl", None), "scale_shift_zero_point", None)
        if ssz is not None and getattr(ssz, "int_quant", None) is m.tensor_quant.int_quant:
            ssz.int_quant = copy.deepcopy(m.tensor_quant.int_quant); ssz.int_quant.float_to_int_impl = RoundSte()

def learned_round_(qmodel, cal, param="hard_sigmoid", optimizer="Adam", lr=1e-2, iters=200, batch=4):
    "Brevitas learned rounding, block after block, with `LearnedRoundTrainer`'s cache filling, data loader and training loop."
    _without_accelerate()
    from brevitas.inject.enum import LearnedRoundImplType
    from brevitas_examples.common.learned_round.learned_round_args import (LossArgs, LRSchedulerArgs, OptimizerArgs,
                                                                           TrainerConfig, TrainingArgs)
    from brevitas_examples.common.learned_round.learned_round_method import insert_learned_round_quantizers
    from brevitas_examples.common.learned_round.learned_round_trainer import LearnedRoundTrainer, block_optimization_cm
    sign = optimizer == "SignSGD"  # AutoRound: identity offsets in [-0.5, 0.5], sign steps, linear decay, best iterate
    sched = LRSchedulerArgs("LinearLR", {"start_factor": 1.0, "end_factor": 0.0}) if sign else None
    losses = [LossArgs("mse", {"reduction": "none", "dim": 1})] + ([] if sign else [LossArgs(_block_round_reg(iters))])
    args = TrainingArgs([OptimizerArgs("learned_round", optimizer, lr, {}, sched)], batch_size=batch, iters=iters,
                        losses_args=losses, use_best_model=sign, use_amp=False)
    trainer, cache, data = LearnedRoundTrainer(TrainerConfig(args)), _block_cache(), list(cal.split(BATCH))
    for p in qmodel.parameters(): p.requires_grad_(False)
    insert_learned_round_quantizers(qmodel, LearnedRoundImplType(param.upper()))
    round_zero_points_to_nearest_(qmodel)
    for block in round_blocks(qmodel):
        cache.reset_cache()  # quantized inputs (blocks before already rounded), float outputs
        trainer._populate_cache(cache, qmodel, lambda m, x: m(x), block, data, capture_quant_input=True,
                                capture_quant_output=False)
        with block_optimization_cm(block, trainer._get_all_target_parameters(block)):
            trainer._training_loop(block, lambda b, x: b(x), trainer._instantiate_block_dataloader(cache),
                                   trainer._instantiate_losses(block))
    return qmodel.eval()

ROUND_ITERS = 50  # steps per block (Brevitas' examples: 200-1000); 10 steps took ~6 s per block on 2 busy CPU cores
def brecq(model, cal, iters=ROUND_ITERS, base=rtn_absmax):
    return learned_round_(base(model, cal), cal, "hard_sigmoid", "Adam", 1e-2, iters)

def autoround(model, cal, iters=ROUND_ITERS, base=rtn_absmax):
    return learned_round_(base(model, cal), cal, "identity", "SignSGD", 1.0 / iters, iters)

def depthwise_8bit(model, cal):
    "The project's default with every depthwise conv (groups > 1: 9 or 49 weights per channel, 1 to 2 % of weights) at 8 bits."
    dw = tuple(n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.groups > 1)
    return project_default(model, cal, keep_8bit=dw)

def flipped_calibration(model, cal):
    "The project's default calibrated on twice the images: each calibration image and its mirror image."
    return project_default(model, torch.cat([cal, cal.flip(-1)]))

def gptq_grid_model(model, cal, **options):
    "The project's default GPTQ (`gptq_model`: asymmetric, act order, bias correction) with `options`, as a Brevitas model."
    from auto_quantize_model.gptq import gptq_model
    from auto_quantize_model.grid import rounding_mismatches
    from auto_quantize_model.ptq import conv_bit_plan, quantize_model_brevitas_ptq
    cfg = _ptq()(algorithm="gptq"); plan = conv_bit_plan(model, cfg)
    baked = gptq_model(model, cal, plan, cfg, True, BATCH, show_progress=False, **options)[0]
    qmodel = quantize_model_brevitas_ptq(baked, cfg, plan)[0]
    if bad := rounding_mismatches(baked, qmodel, plan): raise RuntimeError(f"{bad} weights left the GPTQ grid in Brevitas")
    return qmodel

CLIP_RATIOS = (1.0, 0.9, 0.8, 0.7, 0.6)  # fractions of a channel's negative and of its positive range, searched apart

def gptq_search_clipping_apart(W, H, bits, asym=False, ratios=None, act_order=True, damp=0.01, cols=None, fallback=None):
    "`gptq_scale_search` whose asymmetric candidates clip each row's low and high ends by separate ratios (25 pairs)."
    import itertools
    from auto_quantize_model import gptq
    if not asym or cols is not None and len(cols) > 1: return fallback(W, H, bits, asym, ratios, act_order, damp, cols)
    g, o, d = W.shape
    lo_r, hi_r = (torch.tensor(r, dtype=torch.float64) for r in zip(*itertools.product(CLIP_RATIOS, CLIP_RATIOS)))
    K, cols = len(lo_r), gptq.scale_groups(d)
    Wk = W.double().repeat(1, K, 1)
    lo = Wk.amin(-1).clamp(max=0) * lo_r.repeat_interleave(o)
    s = ((Wk.amax(-1).clamp(min=0) * hi_r.repeat_interleave(o) - lo) / (2 ** int(bits) - 1)).clamp_min(1e-12)
    s, z = s[..., None], torch.round(-lo / s)[..., None]
    Q = gptq.gptq_grid(Wk, H, s, bits, z, act_order, damp, cols=cols) - z
    D = Wk - Q * s
    err = ((D @ H.double()) * D).sum(-1).reshape(g, K, o)
    best = err.argmin(1, keepdim=True)
    pick = lambda t: torch.gather(t.reshape(g, K, o, -1), 1, best[..., None].expand(g, 1, o, t.shape[-1])).squeeze(1)
    return pick(Q).float(), pick(s).float(), torch.gather(err, 1, best).squeeze(1)

def clipping_apart(model, cal):
    "The project's default with each channel's low and high range ends clipped by separately searched ratios."
    from unittest import mock
    from auto_quantize_model import gptq
    search = functools.partial(gptq_search_clipping_apart, fallback=gptq.gptq_scale_search)  # the project's search otherwise
    with mock.patch.object(gptq, "gptq_scale_search", search): return gptq_grid_model(model, cal)

AWQ_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)  # exponents of the input channels' RMS tried as their scales, per conv

def awq_gptq_conv_(conv, H, mean, bits=4, scales="channel", weight_quant="asym", act_order=True, bias_correction=True,
                   group_size=0):
    "GPTQ of `conv` after its input channels are scaled by `rms ** alpha` (AWQ-style), the alpha of least output error."
    from auto_quantize_model import gptq
    assert (scales, weight_quant, group_size) == ("channel", "asym", 0), "the project default's per-channel grids only"
    w, g = conv.weight.detach(), conv.groups
    W, H = w.reshape(g, w.shape[0] // g, -1).double(), H.double()
    k, d = w[0, 0].numel(), W.shape[-1]
    rms = torch.diagonal(H, dim1=1, dim2=2).clamp_min(0).sqrt().reshape(g, d // k, k).mean(-1).clamp_min(1e-6)
    best = None
    for a in AWQ_ALPHAS:
        b = rms.pow(a); b = (b / b.log().mean(-1, keepdim=True).exp()).repeat_interleave(k, -1)[:, None, :]
        Qi, s, _ = gptq.gptq_scale_search(W * b, H / b.transpose(1, 2) / b, bits, True, act_order=act_order)
        Q = Qi.double() * s.double() / b
        err = (((W - Q) @ H) * (W - Q)).sum().item()
        if best is None or err < best[0]: best = (err, Q)
    Q = best[1]
    if bias_correction and conv.bias is not None: conv.bias.data += ((W - Q) @ mean.double()[..., None]).reshape(-1).to(w.dtype)
    conv.weight.data = Q.reshape(w.shape).to(w.dtype)
    return {}

def awq_scaled_inputs(model, cal):
    """The project's default GPTQ on input channels scaled AWQ-style: returns the float model of its dequantized
    weights (a QCDQ graph would need a per-input-channel `Mul` after `DequantizeLinear`; it computes the same)."""
    from unittest import mock
    from auto_quantize_model import gptq
    from auto_quantize_model.ptq import conv_bit_plan
    cfg = _ptq()(algorithm="gptq"); plan = conv_bit_plan(model, cfg)
    with mock.patch.object(gptq, "gptq_conv_", awq_gptq_conv_):
        baked = gptq.gptq_model(model, cal, plan, cfg, True, BATCH, show_progress=False)[0]
    baked.scored_as_float_graph = True  # `run_lever` exports it with `export_fp32_onnx`
    return baked

LEVERS = {
    "RTN asym (reference)": rtn_model,
    "RTN absmax, symmetric (reference for learned round)": rtn_absmax,
    "project default: GPTQ asym + bias correction (reference)": project_default,
    "GPFQ (gpfq_mode, act order)": gpfq,
    "Qronos (gpfq_mode + Qronos, act order)": qronos,
    "MagR + RTN asym": magr_rtn,
    "MagR + project default GPTQ": magr_gptq,
    "MagR (alpha 1e-4) + RTN asym": functools.partial(magr_rtn, alpha=1e-4),
    "MagR (alpha 1e-4) + project default GPTQ": functools.partial(magr_gptq, alpha=1e-4),
    "learned round by blocks, hard sigmoid + Adam (BRECQ-style)": brecq,
    "learned round by blocks, identity + SignSGD (AutoRound-style)": autoround,
    "asym zero point: learned round by blocks, hard sigmoid + Adam (BRECQ-style)": functools.partial(brecq, base=rtn_model),
    "asym zero point: learned round by blocks, identity + SignSGD (AutoRound-style)": functools.partial(autoround, base=rtn_model),
    "project default, depthwise convs at 8 bits": depthwise_8bit,
    "project default, calibration doubled by mirror images": flipped_calibration,
    "project default, Hessians from every input column (not 32768 sampled)": functools.partial(gptq_grid_model, max_columns=10**9),
    "project default, each conv's inputs from the block's convs before it quantized": functools.partial(gptq_grid_model, sequential=True),
    "project default, low and high range ends clipped by separate ratios": clipping_apart,
    "project default on input channels scaled AWQ-style (alpha searched per conv)": awq_scaled_inputs,
}

def evaluate(prep, onnx_path, out_dir):
    "COCO metrics of one ONNX model on the run's evaluation ids (ONNX Runtime CPU)."
    from auto_quantize_model.coco import evaluate_onnx_on_coco
    d = prep.eval_data
    return evaluate_onnx_on_coco(onnx_path, d["coco"], d["files"], out_dir, prep.imgsz, prep.spec.head, "cpu")

def run_lever(name, fn, prep, cal, probe, work, fp):
    "One row: quantize with the lever (timed), calibration output SQNR, QCDQ export, COCO evaluation; or the error."
    from auto_quantize_model.sensitivity import output_sqnr_db
    from auto_quantize_model.export import export_brevitas_qcdq_onnx, export_fp32_onnx
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())[:50]
    row = dict(name=name, status="failed")
    try:
        torch.manual_seed(0); t = time.perf_counter()
        qmodel = fn(prep.model, cal)
        qmodel, extra = qmodel if isinstance(qmodel, tuple) else (qmodel, 0.0)  # extra: shared work done earlier
        row["quantize_s"] = round(time.perf_counter() - t + extra, 1)
        row["calib_output_sqnr_db"] = round(output_sqnr_db(prep.model, qmodel, probe, BATCH), 3)
        path = (export_fp32_onnx(qmodel, work/slug/"model-float.onnx", prep.imgsz) if getattr(qmodel, "scored_as_float_graph", 0)
                else export_brevitas_qcdq_onnx(qmodel, work/slug/"model-qcdq.onnx", prep.imgsz))
        m = evaluate(prep, path, work/slug)
        row.update(status="ok", mAP_50_95=m["mAP_50_95"], mAP_50=m["mAP_50"],
                   delta_points=round(100 * (m["mAP_50_95"] - fp["mAP_50_95"]), 2), predictions=str(work/slug/"predictions.json"))
    except Exception as e:
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        traceback.print_exc()
    return row

def delta_interval_points(coco, ids, reference, other, resamples) -> list:
    "`[Δ, low, high]` in points: Δ mAP50-95 (other − reference) between two predictions files on `ids`, with its 95 % paired bootstrap interval."
    from auto_quantize_model.coco import paired_bootstrap_delta
    from auto_quantize_model.core import read_json
    b = paired_bootstrap_delta(coco, read_json(reference), read_json(other), ids, resamples, show_progress=False)
    return [round(100 * b[k], 2) for k in ("delta", "low", "high")]

def interval_points(prep, reference, other, resamples) -> list:
    "The 95 % paired bootstrap interval of Δ mAP50-95 (points) between two predictions files on the run's ids."
    return delta_interval_points(prep.eval_data["coco"], prep.eval_data["ids"], reference, other, resamples)[1:]

def add_intervals(rows, prep, fp_predictions, resamples):
    "Each row's interval of Δ vs FP32 and vs the project default's row (the same image draws for every row)."
    ref = next((r for r in rows if r["name"].startswith("project default") and r["status"] == "ok"), None)
    for r in rows:
        if r["status"] != "ok": continue
        r["delta_interval_points"] = interval_points(prep, fp_predictions, r["predictions"], resamples)
        if ref: r["vs_default_interval_points"] = interval_points(prep, ref["predictions"], r["predictions"], resamples)

def _iv(r, k): return f"[{r[k][0]:+.2f}, {r[k][1]:+.2f}]" if k in r else ""

def markdown(res) -> str:
    "The result table, with each row's difference to the project's default."
    ref = next((r for r in res["rows"] if r["name"].startswith("project default") and r["status"] == "ok"), None)
    md = [f"FP32 mAP50-95 {res['fp32']['mAP_50_95']:.4f} on {res['images']} images ({res['weights']}, {res['imgsz']} px), "
          f"{res['calib_images']} calibration images\n",
          f"Intervals: 95 % paired bootstrap over the evaluated images ({res.get('resamples')} draws).\n",
          "| lever | status | mAP50-95 | Δ vs FP32 (points) | interval | Δ vs project default (points) | interval | calib output SQNR (dB) | quantize time (s) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        if r["status"] != "ok":
            md.append(f"| {r['name']} | failed: {r.get('error', '')} | | | | | | | {r.get('quantize_s', '')} |"); continue
        vs = f"{100 * (r['mAP_50_95'] - ref['mAP_50_95']):+.2f}" if ref else ""
        md.append(f"| {r['name']} | ok | {r['mAP_50_95']:.4f} | {r['delta_points']:+.2f} | {_iv(r, 'delta_interval_points')} | "
                  f"{vs} | {_iv(r, 'vs_default_interval_points')} | "
                  f"{r['calib_output_sqnr_db']} | {r['quantize_s']:.1f} |")
    return "\n".join(md) + "\n"

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="real"); ap.add_argument("--data-root", default="real")
    ap.add_argument("--max-images", type=int, default=100); ap.add_argument("--calib-images", type=int, default=16)
    ap.add_argument("--only", nargs="*", default=None, help="substrings of the lever names to run")
    ap.add_argument("--skip", nargs="*", default=[], help="substrings of the lever names to leave out")
    ap.add_argument("--resamples", type=int, default=400, help="bootstrap draws of each interval (0: none)")
    ap.add_argument("--out", default="tmp/benchmarks/levers")
    a = ap.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import warnings; warnings.filterwarnings("ignore")
    from auto_quantize_model.core import package_versions, write_json
    from auto_quantize_model.export import export_fp32_onnx
    from auto_quantize_model.run import prepare_run
    from auto_quantize_model.spec import RunSpec
    work = Path(tempfile.mkdtemp(prefix="aqm-levers-"))
    spec = RunSpec.build(weights=a.weights, data_root=a.data_root, max_images=a.max_images, calib_images=a.calib_images,
                         providers="cpu", run_root=work, run_id="levers")
    prep = prepare_run(spec, evaluate=True)
    cal = prep.calib["x"]; probe = cal[:_ptq()().probe_images]
    fp = evaluate(prep, export_fp32_onnx(prep.model, work/"fp32"/"model.onnx", prep.imgsz), work/"fp32")
    print(f"FP32: mAP50-95 {fp['mAP_50_95']:.4f} on {len(prep.eval_data['ids'])} images, {len(cal)} calibration images",
          flush=True)
    rows = []
    for name, fn in LEVERS.items():
        if (a.only and not any(s in name for s in a.only)) or any(s in name for s in a.skip): continue
        rows.append(run_lever(name, fn, prep, cal, probe, work, fp))
        r = rows[-1]
        print(f"{name}: " + (f"mAP50-95 {r['mAP_50_95']:.4f} ({r['delta_points']:+.2f} points), SQNR "
                             f"{r['calib_output_sqnr_db']} dB, {r['quantize_s']} s" if r["status"] == "ok"
                             else f"failed: {r['error']}"), flush=True)
    if a.resamples: add_intervals(rows, prep, work/"fp32"/"predictions.json", a.resamples)
    res = dict(resamples=a.resamples, weights=a.weights, data_root=a.data_root, imgsz=prep.imgsz, images=len(prep.eval_data["ids"]),
               calib_images=len(cal), fp32=dict(mAP_50_95=fp["mAP_50_95"], mAP_50=fp["mAP_50"]), rows=rows,
               versions=package_versions())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(Path(a.out + ".json"), res); Path(a.out + ".md").write_text(markdown(res))
    print(markdown(res))

if __name__ == "__main__": main()
