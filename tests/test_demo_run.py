"""`aqm run` on the bundled demo, and an independent check of the evaluation against Ultralytics' own `model.val()`.

Both evaluate the same image ids with the one-to-one (NMS-free) head, at the checkpoint's training size (320),
letterboxed squares (`rect=False`), batch 1, score threshold 0.001, at most 300 detections per image.
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
    assert d["same_providers"]
    print(f"demo run: {seconds:.0f} s, FP32 mAP50-95 {fp['mAP_50_95']:.4f}, W4A16 {q['mAP_50_95']:.4f}")

def test_fp32_map_agrees_with_ultralytics_val(demo_run, tmp_path):
    from ultralytics import YOLO
    from auto_quantize_model.demo import coco_to_yolo_labels, demo_data_root, demo_weights_path, DEMO_CATEGORIES
    run, _, _ = demo_run
    ids = {int(i) for i in (run/"image_ids.txt").read_text().split()}
    coco_to_yolo_labels(demo_data_root(), tmp_path, "val")
    ann = json.loads((demo_data_root()/"annotations/instances_val2017.json").read_text())
    files = [str((tmp_path/"images/val2017"/im["file_name"]).resolve()) for im in ann["images"] if im["id"] in ids]
    (tmp_path/"subset.txt").write_text("\n".join(sorted(files)) + "\n")
    names = "".join(f"  {i}: {c['name']}\n" for i, c in enumerate(sorted(DEMO_CATEGORIES, key=lambda c: c["id"])))
    (tmp_path/"data.yaml").write_text(f"path: {tmp_path}\ntrain: subset.txt\nval: subset.txt\nnames:\n{names}")
    m = YOLO(str(demo_weights_path()))
    res = m.val(data=str(tmp_path/"data.yaml"), imgsz=320, batch=1, conf=0.001, rect=False, max_det=300, plots=False,
                device="cpu", half=False, verbose=False, project=str(tmp_path/"val"), workers=0)
    ours = json.loads((run/"baseline-fp32-coco/metrics.json").read_text())["mAP_50_95"]
    print(f"mAP50-95: project (pycocotools, FP32 ONNX) {ours:.4f}, ultralytics val (torch) {res.box.map:.4f}")
    assert abs(ours - res.box.map) <= 0.02, (ours, res.box.map)
