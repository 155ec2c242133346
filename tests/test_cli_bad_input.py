"""Bad input found by trying, through the installed `aqm` entry point: one line `aqm: error: ...`, exit status 2, no
traceback, nothing written; the machine refusing to write (read-only, full disk) is one line too."""
import json, os, resource, shutil, signal
from pathlib import Path
import pytest
from conftest import aqm, assert_one_line_error, files_under

@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    "A float yolov10n graph with a fixed 128x128 input."
    from auto_quantize_model.export import export_fp32_onnx
    from auto_quantize_model.load import load_yolov10_detection_model
    return export_fp32_onnx(load_yolov10_detection_model("yolov10n.yaml"), tmp_path_factory.mktemp("m")/"n128.onnx", 128)

def copy_split(real_coco, dest, split="val2017"):
    "A writable copy of one bundled split: `(images_dir, annotations_json)`."
    shutil.copytree(real_coco/split, dest/split)
    ann = dest/f"instances_{split}.json"; shutil.copyfile(real_coco/"annotations"/f"instances_{split}.json", ann)
    return dest/split, ann

@pytest.mark.parametrize("imgsz,says", [(33, "multiple of 32"), (-32, "multiple of 32"), (0, "multiple of 32"),
                                        (4000, "which takes 128x128 inputs")])
def test_eval_imgsz_the_model_cannot_take(fp32_onnx, tmp_path, imgsz, says):
    p = aqm("eval", "--onnx", fp32_onnx, "--data-root", "real", "--max-images", 2, "--out", tmp_path/"out", "--imgsz", imgsz)
    assert_one_line_error(p, says); assert not (tmp_path/"out").exists()

@pytest.mark.parametrize("imgsz", [33, 0])
def test_ptq_imgsz_the_model_cannot_take(tmp_path, imgsz):
    p = aqm("ptq", "--weights", "yolov10n.yaml", "--imgsz", imgsz, "--run-root", tmp_path/"runs", "--run-id", "a")
    assert_one_line_error(p, "multiple of 32"); assert files_under(tmp_path/"runs") == []

@pytest.mark.parametrize("content", [b"", b"not a jpeg at all"])
def test_unreadable_calibration_image_leaves_no_run(real_coco, tmp_path, content):
    imgs, ann = copy_split(real_coco, tmp_path, "train2017")
    sorted(imgs.iterdir())[3].write_bytes(content)
    args = ("ptq", "--weights", "yolov10n.yaml", "--imgsz", 64, "--calib-image-dir", imgs, "--calib-annotations", ann,
            "--calib-images", 16, "--run-root", tmp_path/"runs", "--run-id", "a")
    assert_one_line_error(aqm(*args), "cannot read image"); assert files_under(tmp_path/"runs") == []
    sorted(imgs.iterdir())[3].write_bytes((real_coco/"train2017"/sorted(imgs.iterdir())[3].name).read_bytes())
    assert aqm(*args, "--calib-images", 0, "--algorithm", "rtn").returncode == 0  # the same run id is free: nothing was left behind

def test_eval_with_unreadable_image_writes_nothing(fp32_onnx, real_coco, tmp_path):
    imgs, ann = copy_split(real_coco, tmp_path)
    sorted(imgs.iterdir())[1].write_bytes(b"")
    p = aqm("eval", "--onnx", fp32_onnx, "--images", imgs, "--annotations", ann, "--max-images", 3, "--out", tmp_path/"out")
    assert_one_line_error(p, "cannot read image"); assert not (tmp_path/"out").exists()

def test_image_entry_without_file_name(fp32_onnx, real_coco, tmp_path):
    js = json.loads((real_coco/"annotations/instances_val2017.json").read_text())
    del js["images"][2]["file_name"]
    (tmp_path/"ann.json").write_text(json.dumps(js))
    p = aqm("eval", "--onnx", fp32_onnx, "--images", real_coco/"val2017", "--annotations", tmp_path/"ann.json",
            "--out", tmp_path/"out")
    assert_one_line_error(p, "lack an integer 'id' or a 'file_name'"); assert not (tmp_path/"out").exists()

def test_read_only_run_root(tmp_path):
    ro = tmp_path/"ro"; ro.mkdir(); ro.chmod(0o555)
    root = ro/"runs" if os.geteuid() != 0 else Path("/proc/1/aqm-runs")  # root ignores permission bits; /proc/1 refuses it
    try:
        p = aqm("ptq", "--weights", "yolov10n.yaml", "--imgsz", 64, "--run-root", root, "--run-id", "a")
    finally: ro.chmod(0o755)
    assert_one_line_error(p, "cannot create the run directory"); assert files_under(ro) == []

def small_file_limit():
    "In the child: files may grow to 300 kB, then writes fail with EFBIG, as on a full disk."
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

def test_full_disk_is_one_line_and_recorded(tmp_path):
    p = aqm("ptq", "--weights", "yolov10n.yaml", "--imgsz", 64, "--run-root", tmp_path, "--run-id", "a",
            preexec_fn=small_file_limit)
    assert_one_line_error(p, "File too large")
    rec = json.loads((tmp_path/"a"/"run.json").read_text())
    assert rec["status"] == "failed" and "File too large" in rec["reason"], rec
    assert not [f for f in files_under(tmp_path) if Path(f).name.startswith(".")]  # no temporary file left

def test_size_mismatch_warns_once_with_the_count(fp32_onnx, real_coco, tmp_path):
    js = json.loads((real_coco/"annotations/instances_val2017.json").read_text())
    first = sorted(js["images"], key=lambda i: i["id"])[:4]
    for im in first[:2]: im["width"] += 10  # as if the file were another photo, or rotated
    (tmp_path/"ann.json").write_text(json.dumps(js))
    p = aqm("eval", "--onnx", fp32_onnx, "--images", real_coco/"val2017", "--annotations", tmp_path/"ann.json",
            "--max-images", 4, "--out", tmp_path/"out", "--providers", "cpu")
    assert p.returncode == 0, p.stderr[-2000:]
    warnings = [l for l in p.stderr.splitlines() if l.startswith("aqm: warning:")]
    assert len(warnings) == 1 and "2 of 4 images" in warnings[0] and str(first[0]["id"]) in warnings[0], p.stderr

@pytest.mark.parametrize("args,says", [(("--qat-steps", 5), "--qat-steps sets the steps of --qat: give --qat too"),
                                       (("--qat", "--group-size", 32), "--qat trains per-channel scales"),
                                       (("--qat", "--scales", "tensor"), "--qat trains per-channel scales"),
                                       (("--qat", "--qat-steps", 0), "--qat-steps"),
                                       (("--qat", "--calib-images", 0), "needs calibration images"),
                                       (("--qat-loss", "labels"), "--qat-loss sets what --qat minimises: give --qat too"),
                                       (("--qat", "--qat-loss", "kl"), "unknown --qat-loss 'kl'")])
def test_qat_options_that_cannot_run(tmp_path, args, says):
    p = aqm("run", "--weights", "demo", "--data-root", "demo", "--imgsz", 64, "--max-images", 2, *args, "--run-root", tmp_path/"runs")
    assert_one_line_error(p, says); assert files_under(tmp_path/"runs") == []

@pytest.mark.parametrize("margin", [0.5, "nan", 17])
def test_act_range_margin_out_of_range(tmp_path, margin):
    p = aqm("run", "--weights", "demo", "--data-root", "demo", "--mode", "w8a8", "--imgsz", 64, "--max-images", 2,
            "--act-range-margin", margin, "--run-root", tmp_path/"runs")
    assert_one_line_error(p, "--act-range-margin"); assert files_under(tmp_path/"runs") == []
