"Bad input to `aqm`: exit status 2, one line naming the problem, no traceback, nothing written."
import json
from pathlib import Path
import pytest, torch
from conftest import aqm, assert_one_line_error, files_under

@pytest.fixture
def root(tmp_path):
    r = tmp_path/"runs"; r.mkdir(); return r

def test_missing_weights(root):
    p = aqm("ptq", "--weights", root/"missing.pt", "--run-root", root, "--run-id", "a")
    assert_one_line_error(p, "weights file not found", "missing.pt"); assert files_under(root) == []

def test_not_a_checkpoint(root, tmp_path):
    (tmp_path/"notes.pt").write_text("these are not weights")
    p = aqm("ptq", "--weights", tmp_path/"notes.pt", "--run-root", root, "--run-id", "a")
    assert_one_line_error(p, "not a readable Ultralytics checkpoint"); assert files_under(root) == []

def test_checkpoint_that_is_not_a_detector(root, tmp_path):
    from ultralytics.nn.tasks import ClassificationModel
    torch.save({"model": ClassificationModel("yolov8n-cls.yaml", verbose=False)}, tmp_path/"cls.pt")
    p = aqm("ptq", "--weights", tmp_path/"cls.pt", "--run-root", root, "--run-id", "a")
    assert_one_line_error(p, "is not an Ultralytics detection model"); assert files_under(root) == []

def test_unknown_mode(root):
    p = aqm("ptq", "--weights", "yolov10n.yaml", "--mode", "w4x9", "--run-root", root, "--run-id", "a")
    assert_one_line_error(p, "unknown --mode 'w4x9'"); assert files_under(root) == []

def test_existing_run_id_is_left_untouched(root):
    (root/"taken").mkdir(); (root/"taken"/"keep.txt").write_text("mine")
    before = {f: Path(f).stat().st_mtime_ns for f in files_under(root)}
    p = aqm("ptq", "--weights", "yolov10n.yaml", "--run-root", root, "--run-id", "taken")
    assert_one_line_error(p, "already exists")
    assert {f: Path(f).stat().st_mtime_ns for f in files_under(root)} == before

def test_unknown_flag_is_one_line(root):
    p = aqm("ptq", "--weights", "yolov10n.yaml", "--bits", "3")
    assert_one_line_error(p, "unrecognized arguments: --bits 3")

# COCO inputs of `aqm run` and `aqm eval`

def run_args(root, *data):
    return ("run", "--weights", "yolov10n.yaml", "--imgsz", "256", "--run-root", root, "--run-id", "r", *data)

def test_missing_images_dir(root, real_coco):
    p = aqm(*run_args(root, "--images", root/"nope", "--annotations", real_coco/"annotations/instances_val2017.json"))
    assert_one_line_error(p, "images directory not found"); assert files_under(root) == []

def test_missing_annotation_file(root, real_coco):
    p = aqm(*run_args(root, "--images", real_coco/"val2017", "--annotations", root/"none.json"))
    assert_one_line_error(p, "annotation file not found"); assert files_under(root) == []

def test_malformed_annotation_json(root, tmp_path, real_coco):
    (tmp_path/"bad.json").write_text('{"images": [')
    p = aqm(*run_args(root, "--images", real_coco/"val2017", "--annotations", tmp_path/"bad.json"))
    assert_one_line_error(p, "not valid JSON"); assert files_under(root) == []

def test_id_not_in_annotations(root, tmp_path, real_coco):
    (tmp_path/"ids.txt").write_text("42\n")
    p = aqm(*run_args(root, "--images", real_coco/"val2017", "--annotations",
                      real_coco/"annotations/instances_val2017.json", "--image-ids-list", tmp_path/"ids.txt"))
    assert_one_line_error(p, "not in the annotation file", "[42]"); assert files_under(root) == []

def test_missing_image_file(root, tmp_path, real_coco):
    imgs = tmp_path/"imgs"; imgs.mkdir()
    ann = json.loads((real_coco/"annotations/instances_val2017.json").read_text())
    first = sorted(ann["images"], key=lambda i: i["id"])[:3]
    for im in first[:2]: (imgs/im["file_name"]).write_bytes((real_coco/"val2017"/im["file_name"]).read_bytes())
    p = aqm(*run_args(root, "--images", imgs, "--annotations", real_coco/"annotations/instances_val2017.json",
                      "--max-images", "3"))
    assert_one_line_error(p, "1 image file(s) of the subset are missing", first[2]["file_name"]); assert files_under(root) == []

def test_empty_subset(root, tmp_path, real_coco):
    (tmp_path/"ids.txt").write_text("# nothing here\n")
    p = aqm(*run_args(root, "--images", real_coco/"val2017", "--annotations",
                      real_coco/"annotations/instances_val2017.json", "--image-ids-list", tmp_path/"ids.txt"))
    assert_one_line_error(p, "subset is empty"); assert files_under(root) == []

def test_eval_refuses_to_overwrite(tmp_path, real_coco):
    out = tmp_path/"out"; out.mkdir(); (out/"metrics.json").write_text("{}")
    (tmp_path/"m.onnx").write_bytes(b"x")
    p = aqm("eval", "--onnx", tmp_path/"m.onnx", "--images", real_coco/"val2017",
            "--annotations", real_coco/"annotations/instances_val2017.json", "--out", out)
    assert_one_line_error(p, "already exists"); assert (out/"metrics.json").read_text() == "{}"
