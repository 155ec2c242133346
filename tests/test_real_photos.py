"""Real photos, judged by the field's tools: the network input the project builds is byte-identical to what
Ultralytics' own validator feeds the model, and the project's COCO numbers equal pycocotools on Ultralytics' own
predictions. Run on the bundled real COCO photos and the bundled real-photo YOLOv10n, so a fresh clone can run it."""
import json, os
from pathlib import Path
import numpy as np
import pytest, torch
from ultralytics import YOLO
from ultralytics.models.yolo.detect import DetectionValidator
from auto_quantize_model.coco import category_id_map, coco_metrics, evaluate_onnx_on_coco
from auto_quantize_model.data import image_files, load_coco
from auto_quantize_model.export import export_fp32_onnx
from auto_quantize_model.load import load_yolov10_detection_model
from auto_quantize_model.data import letterbox_image, read_image_bgr
from auto_quantize_model.real import real_data_root, real_weights_path, write_real_yolo_dataset

ROOT = real_data_root()
ANN = ROOT/"annotations/instances_val2017.json"
HEAD_NMS = {"one2one": False, "one2many": None}  # Ultralytics' `nms` argument that selects each head

def ultralytics_val(data_yaml, imgsz, head, validator=DetectionValidator, project=None, save_json=False):
    "Ultralytics' own validation of the real-photo model, as for a fixed-shape exported model (rect=False, batch 1)."
    model = YOLO(str(real_weights_path()))
    return model, model.val(data=str(data_yaml), imgsz=imgsz, batch=1, rect=False, workers=0, device="cpu", plots=False,
                            nms=HEAD_NMS[head], validator=validator, project=str(project), name="val", exist_ok=True,
                            verbose=False, save_json=save_json)

@pytest.fixture(scope="module")
def varied_photos(tmp_path_factory):
    "Eight real photos of different sizes and aspect ratios (portrait, landscape, small), as a YOLO dataset."
    coco = load_coco(ANN)
    ims = sorted(coco.imgs.values(), key=lambda i: (i["width"] / i["height"], i["width"] * i["height"], i["id"]))
    pick = {i["id"] for i in ims[:: max(1, len(ims) // 8)][:8]}
    src = tmp_path_factory.mktemp("varied")
    (src/"val2017").mkdir(); (src/"annotations").mkdir()
    js = json.loads(ANN.read_text())
    js["images"] = [i for i in js["images"] if i["id"] in pick]
    js["annotations"] = [a for a in js["annotations"] if a["image_id"] in pick]
    for i in js["images"]: (src/"val2017"/i["file_name"]).write_bytes((ROOT/"val2017"/i["file_name"]).read_bytes())
    (src/"annotations/instances_val2017.json").write_text(json.dumps(js))
    shapes = {(i["width"], i["height"]) for i in js["images"]}
    assert any(w < h for w, h in shapes) and any(w > h for w, h in shapes) and len(shapes) >= 4, shapes
    return write_real_yolo_dataset(tmp_path_factory.mktemp("yolo-varied"), src, splits=("val",))

@pytest.mark.parametrize("imgsz", [256, 320, 640, 1280])
def test_network_input_is_byte_identical_to_ultralytics_validator(varied_photos, imgsz, tmp_path):
    seen = []
    class Capturing(DetectionValidator):
        def preprocess(self, batch):
            batch = super().preprocess(batch)
            seen.append((batch["im_file"][0], batch["img"].clone()))
            return batch
    ultralytics_val(varied_photos, imgsz, "one2one", Capturing, tmp_path)
    assert len(seen) == 8
    for path, theirs in seen:
        ours, meta = letterbox_image(read_image_bgr(path), imgsz)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype, (path, ours.shape, theirs.shape)
        assert np.array_equal(ours, theirs.numpy()), f"{Path(path).name} at {imgsz}: max diff {np.abs(ours - theirs.numpy()).max()}"

@pytest.fixture(scope="module")
def val_dataset(tmp_path_factory):
    "Every bundled evaluation photo as a YOLO dataset."
    return write_real_yolo_dataset(tmp_path_factory.mktemp("yolo-real"), splits=("val",))

def ultralytics_predictions(data_yaml, imgsz, head, project):
    "Ultralytics' own predictions (its validator's COCO JSON) and its mAP50-95."
    kept = {}
    class KeepJson(DetectionValidator):
        def finalize_metrics(self):
            super().finalize_metrics(); kept["jdict"] = list(self.jdict)
        def eval_json(self, stats): return stats  # scored with pycocotools below (Ultralytics would fetch faster-coco-eval)
    model, metrics = ultralytics_val(data_yaml, imgsz, head, KeepJson, project, save_json=True)
    return model, kept["jdict"], float(metrics.box.map)

@pytest.mark.parametrize("head", ["one2one", "one2many"])
@pytest.mark.parametrize("imgsz", [256, 320])  # COCO photos are 640 px or less: both sizes resize every one
def test_project_map_equals_pycocotools_on_ultralytics_predictions(val_dataset, head, imgsz, tmp_path):
    coco = load_coco(ANN)
    ids = sorted(coco.getImgIds())
    model, jdict, val_map = ultralytics_predictions(val_dataset, imgsz, head, tmp_path/"u")
    cat_map, _ = category_id_map(model.names, coco)  # Ultralytics writes class index + 1 for a custom dataset
    theirs = [dict(p, category_id=cat_map[p["category_id"] - 1]) for p in jdict]
    assert {p["image_id"] for p in theirs} <= set(ids)
    ref = coco_metrics(coco, theirs, ids)["mAP_50_95"]
    onnx = export_fp32_onnx(load_yolov10_detection_model(real_weights_path(), head), tmp_path/"m.onnx", imgsz)
    ours = evaluate_onnx_on_coco(onnx, coco, image_files(coco, ids, ROOT/"val2017"), None, imgsz, head, "cpu")["mAP_50_95"]
    print(f"{head} {imgsz}: project {ours:.4f}, pycocotools on Ultralytics' predictions {ref:.4f}, Ultralytics val {val_map:.4f}")
    assert ref > 0.05, ref  # a model that finds things: equality of zeros would prove nothing
    assert abs(ours - ref) <= 1e-4, (ours, ref)  # the same predictions to print precision: a resize drift moves it by 0.016
    assert abs(ours - val_map) <= 0.02, (ours, val_map)
