"""Scale-out benchmark (run by hand, not collected by pytest): COCO evaluation of one ONNX model in this process and on
a local Ray runtime with 1 and 2 workers, on the same ids, measured in one run; Ray's fixed costs; and a projection of
val2017 (5,000 images) for one model and for `--mode all` on N nodes of this machine's size.

    .venv/bin/python tests/benchmarks/scale.py [--weights yolov10m.yaml] [--imgsz 640] [--data-root real] [--images 24]
        [--quantize]

`--quantize` also times one default W4A16 quantization (GPTQ on 16 calibration photos) of the model, the cost of one
mode's Ray task. Prints markdown tables and writes JSON (default tmp/benchmarks/scale.json). The projection is arithmetic
on the measured costs, not a measurement: it assumes every node reads the images as fast as this one and that shards
spread evenly.
"""
import argparse, math, os, tempfile, time
from pathlib import Path

VAL2017 = 5000
MODELS_OF_MODE_ALL = 5  # FP32 and the four quantized modes

def timed(fn):
    "`(result, seconds)` of `fn()`."
    t = time.perf_counter(); r = fn()
    return r, time.perf_counter() - t

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="yolov10m.yaml")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--data-root", default="real")
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--quantize", action="store_true", help="also time one default W4A16 quantization (a mode's task)")
    ap.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--out", default="tmp/benchmarks/scale.json")
    a = ap.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from auto_quantize_model.core import write_json, package_versions
    from auto_quantize_model.spec import resolve_weights, resolve_data_root
    from auto_quantize_model.load import load_yolov10_detection_model
    from auto_quantize_model.export import export_fp32_onnx
    from auto_quantize_model.data import prepare_coco
    from auto_quantize_model.coco import category_id_map, onnx_eval_settings, predict_in_process
    from auto_quantize_model.cluster import RayPredictor, ray_engine, run_tasks

    model = load_yolov10_detection_model(resolve_weights(a.weights))
    onnx = export_fp32_onnx(model, Path(tempfile.mkdtemp())/"fp32.onnx", a.imgsz)
    data = prepare_coco(resolve_data_root(a.data_root), max_images=a.images)
    st = onnx_eval_settings(onnx); cat_map, _ = category_id_map(st["names"], data["coco"])
    files, n = data["files"], len(data["files"])
    args = (onnx, files, cat_map, st["imgsz"], st["head"], "cpu")
    cpus = os.cpu_count()

    (local, t_local) = timed(lambda: predict_in_process(*args, desc="local"))
    busy = lambda times, workers: sum(map(sum, zip(*times.values()))) / workers  # seconds of image work per worker
    rows = [dict(where="this process (ONNX Runtime's default threads)", workers=1, threads_per_worker=cpus, wall_s=t_local,
                 steady_s=busy(local[1], 1))]
    fixed = {}
    t0 = time.perf_counter()
    with ray_engine("local") as eng0:
        fixed["ray_start_s"] = time.perf_counter() - t0
        _, fixed["empty_task_s"] = timed(lambda: run_tasks({"empty": (lambda: 0, ())}, show=False))
        same = True
        for workers in (1, 2):
            eng = type(eng0)(**{**eng0.__dict__, "workers": workers, "threads": cpus // workers})
            _, t_one = timed(lambda: RayPredictor(eng, show=False)(onnx, {k: files[k] for k in list(files)[:1]}, cat_map,
                                                                  st["imgsz"], st["head"], "cpu"))
            (res, t) = timed(lambda: RayPredictor(eng, show=False)(*args, desc="ray"))
            same &= res[0] == local[0]
            rows.append(dict(where=f"Ray, {workers} worker(s)", workers=workers, threads_per_worker=eng.threads, wall_s=t,
                             steady_s=busy(res[1], workers), first_image_with_worker_start_s=t_one))
    ray1 = next(r for r in rows if r["workers"] == 1 and r["where"].startswith("Ray"))
    for r in rows:
        r["s_per_image"] = r["steady_s"] / n  # wall seconds per image once the workers run, all of them busy
        r["vs_ray_1_worker"] = r["steady_s"] / ray1["steady_s"]
        r["wall_vs_ray_1_worker"] = r["wall_s"] / ray1["wall_s"]
    quantize_s = None
    if a.quantize:
        from auto_quantize_model.config import ptq_config_for_mode
        from auto_quantize_model.quantize import quantize_model_ptq
        from auto_quantize_model.data import prepare_calib_source, calibration_batch
        from auto_quantize_model.data import image_files
        cal = prepare_calib_source(resolve_data_root(a.data_root))
        x = calibration_batch(image_files(cal["coco"], sorted(cal["coco"].getImgIds())[:16], cal["images_dir"]), a.imgsz)
        _, quantize_s = timed(lambda: quantize_model_ptq(model, ptq_config_for_mode("w4a16"), x, show_progress=False))

    best = min((r for r in rows if r["where"].startswith("Ray")), key=lambda r: r["steady_s"])
    per_image_node = best["s_per_image"]  # seconds per image on one node of this size, all its workers busy
    start = fixed["ray_start_s"] + best["first_image_with_worker_start_s"]
    proj = []
    for nodes in a.nodes:
        one = VAL2017 * per_image_node / nodes + start
        all_modes = MODELS_OF_MODE_ALL * (VAL2017 * per_image_node / nodes + best["first_image_with_worker_start_s"]) + \
            fixed["ray_start_s"] + (math.ceil(4 / max(1, nodes)) * quantize_s if quantize_s else 0)
        proj.append(dict(nodes=nodes, cpus=nodes * cpus, one_model_min=one / 60, mode_all_min=all_modes / 60))
    out = dict(weights=a.weights, imgsz=a.imgsz, images=n, cpus=cpus, predictions_identical_to_local=same, rows=rows,
               fixed_costs_s=fixed, quantize_one_mode_s=quantize_s, projection_val2017=proj, versions=package_versions())
    write_json(a.out, out)
    print(f"{a.weights} at {a.imgsz}, {n} images of {a.data_root}, {cpus} CPUs; predictions identical to local: {same}\n")
    print("| where | workers x threads | wall s (with worker start) | images' own time per worker s | s/image | "
          "vs Ray 1 worker (images' time) | vs Ray 1 worker (wall) |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['where']} | {r['workers']} x {r['threads_per_worker']} | {r['wall_s']:.2f} | {r['steady_s']:.2f} | "
              f"{r['s_per_image']:.3f} | {r['vs_ray_1_worker']:.3f} | {r['wall_vs_ray_1_worker']:.3f} |")
    print(f"\nfixed costs: Ray start {fixed['ray_start_s']:.1f} s, empty task {fixed['empty_task_s']:.3f} s, first image "
          f"with worker start {best['first_image_with_worker_start_s']:.1f} s"
          + (f"; one default W4A16 quantization {quantize_s:.1f} s" if quantize_s else ""))
    print(f"\nprojection (arithmetic on the costs above, not measured): val2017, nodes of {cpus} CPUs like this one")
    print("| nodes | CPUs | one model (min) | --mode all (min) |\n|---|---|---|---|")
    for p in proj: print(f"| {p['nodes']} | {p['cpus']} | {p['one_model_min']:.1f} | {p['mode_all_min']:.1f} |")
    print(f"\nwrote {a.out}")

if __name__ == "__main__": main()
