"""`aqm run` on the bundled demo, and an independent check of the evaluation against Ultralytics' own `model.val()`.

Both evaluate the same image ids at the checkpoint's training size (320), batch 1, score threshold 0.001, at most
300 detections per image, with the same head: the one-to-one head (`aqm run --head one2one`, Ultralytics `nms=False`)
and the one-to-many head with NMS (`aqm run --head one2many`, Ultralytics' default for this checkpoint, IoU 0.7).
The project uses pycocotools; Ultralytics its own AP code, and rectangular batches (it forces `rect` in validation).
"""
import json, time
from pathlib import Path
import pytest
from conftest import aqm

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    t = time.perf_counter()
    p = aqm("run", "--weights", "demo", "--data-root", "demo", "--mode", "w4a16", "--run-root", root, "--run-id", "d",
            "--providers", "cpu")
    assert p.returncode == 0, p.stderr[-3000:]
    return root/"d", time.perf_counter() - t, p.stdout

def test_demo_run_writes_everything(demo_run):
    run, seconds, out = demo_run
    for f in ("baseline-fp32-coco/metrics.json", "ptq-w4a16-coco/metrics.json", "image_ids.txt", "deltas_w4a16.json",
              "ptq_w4a16_export.json", "ptq_w4a16_smoke.json", "run.json"):
        assert (run/f).is_file(), f
    ids = (run/"image_ids.txt").read_text().split()
    fp = json.loads((run/"baseline-fp32-coco/metrics.json").read_text())
    q = json.loads((run/"ptq-w4a16-coco/metrics.json").read_text())
    assert fp["images"] == q["images"] == len(ids) == 100
    assert fp["mAP_50_95"] >= 0.5, fp["mAP_50_95"]
    d = json.loads((run/"deltas_w4a16.json").read_text())
    assert abs(d["delta_mAP_50_95"] - (q["mAP_50_95"] - fp["mAP_50_95"])) < 1e-12
    assert d["same_providers"] and "before_qat" not in d  # no --qat: no model before QAT, exported or scored
    assert [p.name for p in sorted((run/"onnx").iterdir())] == ["yolov10-demo-fp32.onnx", "yolov10-demo-w4a16-qcdq-ptq.onnx"]
    print(f"demo run: {seconds:.0f} s, FP32 mAP50-95 {fp['mAP_50_95']:.4f}, W4A16 {q['mAP_50_95']:.4f}")

@pytest.fixture(scope="module")
def ultralytics_subset(demo_run, tmp_path_factory):
    "A YOLO-format data yaml listing exactly the run's image ids."
    from auto_quantize_model.demo import coco_to_yolo_labels, demo_data_root, DEMO_CATEGORIES
    run, d = demo_run[0], tmp_path_factory.mktemp("yolo")
    ids = {int(i) for i in (run/"image_ids.txt").read_text().split()}
    coco_to_yolo_labels(demo_data_root(), d, "val")
    ann = json.loads((demo_data_root()/"annotations/instances_val2017.json").read_text())
    files = [str((d/"images/val2017"/im["file_name"]).resolve()) for im in ann["images"] if im["id"] in ids]
    (d/"subset.txt").write_text("\n".join(sorted(files)) + "\n")
    names = "".join(f"  {i}: {c['name']}\n" for i, c in enumerate(sorted(DEMO_CATEGORIES, key=lambda c: c["id"])))
    (d/"data.yaml").write_text(f"path: {d}\ntrain: subset.txt\nval: subset.txt\nnames:\n{names}")
    return d

def ultralytics_map(data_dir, nms):
    from ultralytics import YOLO
    from auto_quantize_model.demo import demo_weights_path
    res = YOLO(str(demo_weights_path())).val(data=str(data_dir/"data.yaml"), imgsz=320, batch=1, conf=0.001, iou=0.7,
                                             max_det=300, nms=nms, plots=False, device="cpu", half=False, verbose=False,
                                             project=str(data_dir/f"val-{nms}"), workers=0)
    return float(res.box.map)

def test_one2one_map_agrees_with_ultralytics_val(demo_run, ultralytics_subset):
    ours = json.loads((demo_run[0]/"baseline-fp32-coco/metrics.json").read_text())["mAP_50_95"]
    theirs = ultralytics_map(ultralytics_subset, nms=False)
    print(f"one2one mAP50-95: project (pycocotools, FP32 ONNX) {ours:.4f}, ultralytics val nms=False {theirs:.4f}")
    assert abs(ours - theirs) <= 0.02, (ours, theirs)

def test_one2many_map_agrees_with_ultralytics_val(demo_run, ultralytics_subset, tmp_path):
    p = aqm("run", "--weights", "demo", "--data-root", "demo", "--head", "one2many", "--run-root", tmp_path, "--run-id", "m",
            "--providers", "cpu", "--calib-images", 0, "--bootstrap", 0)  # only the FP32 baseline is compared
    assert p.returncode == 0, p.stderr[-3000:]
    ours = json.loads((tmp_path/"m/baseline-fp32-coco/metrics.json").read_text())["mAP_50_95"]
    theirs = ultralytics_map(ultralytics_subset, nms=None)
    print(f"one2many+NMS mAP50-95: project {ours:.4f}, ultralytics val (default NMS) {theirs:.4f}")
    assert abs(ours - theirs) <= 0.02, (ours, theirs)

def test_eval_on_ray_survives_a_killed_worker_and_gives_the_same_results(demo_run, tmp_path):
    """`aqm eval --ray` of the run's quantized model on its 100 ids, sharded over two Ray workers, one of which is killed
    (SIGKILL) as soon as it exists: Ray restarts it and retries its shard, and the predictions and metrics are exactly
    those of the run's own (local) evaluation."""
    import os, signal
    from conftest import aqm_popen, descendants
    run = demo_run[0]
    out = tmp_path/"ray-eval"
    p = aqm_popen("eval", "--onnx", run/"onnx/yolov10-demo-w4a16-qcdq-ptq.onnx", "--data-root", "demo", "--max-images", 100,
                  "--providers", "cpu", "--ray", "--ray-workers", 2, "--out", out)
    killed, t0 = None, time.monotonic()
    while killed is None and p.poll() is None and time.monotonic() - t0 < 300:
        workers = [pid for pid, cmd in descendants(p.pid) if cmd.startswith("ray::EvalWorker")]
        if workers: os.kill(workers[0], signal.SIGKILL); killed = workers[0]
        else: time.sleep(0.05)
    stdout, stderr = p.communicate(timeout=600)
    assert killed is not None, "no Ray evaluation worker was seen"
    assert p.returncode == 0, stderr[-3000:]
    assert (out/"predictions.json").read_bytes() == (run/"ptq-w4a16-coco/predictions.json").read_bytes()
    ray_m, local_m = (json.loads(f.read_text()) for f in (out/"metrics.json", run/"ptq-w4a16-coco/metrics.json"))
    for k in ("mAP_50_95", "mAP_50", "stats", "per_class_AP", "detections", "images"): assert ray_m[k] == local_m[k], k
    assert local_m["ran_on"]["engine"] == "local"
    assert (ray_m["ran_on"]["engine"], ray_m["ran_on"]["workers"], ray_m["ran_on"]["restarted_workers"]) == ("ray", 2, 1)
