"""Hostile but realistic input and faults, each case as a user would meet it through the installed `aqm`: exit status,
one line on stderr and no traceback, nothing written outside the run (or nothing at all), and `run.json`'s final status.

`BASE` is the smallest real run: the bundled demo, 2 images at 64 px, round to nearest, no calibration, no bootstrap."""
import json, os, resource, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import aqm, aqm_popen, assert_one_line_error, files_under

BASE = ("run", "--weights", "demo", "--data-root", "demo", "--imgsz", 64, "--calib-images", 0, "--algorithm", "rtn",
        "--bootstrap", 0, "--providers", "cpu", "--max-images", 2)

def base(root, *extra): return (*BASE, "--run-root", root, *extra)

@pytest.fixture
def root(tmp_path):
    "An empty run root inside a folder of its own (so writes beside it show too)."
    r = tmp_path/"box"/"runs"; r.mkdir(parents=True); return r

def nothing_written(root): assert files_under(root.parent) == [str(root)], files_under(root.parent)

def broken_annotations(real_coco, tmp_path, change):
    "The bundled val2017 annotations with one change applied, as a file of their own."
    js = json.loads((real_coco/"annotations/instances_val2017.json").read_text()); change(js)
    f = tmp_path/"broken.json"; f.write_text(json.dumps(js)); return f

def val(real_coco, ann=None):
    return ("--images", real_coco/"val2017", "--annotations", ann or real_coco/"annotations/instances_val2017.json")

# 1. run ids are names, never paths (and a refused id leaves no run root behind)
@pytest.mark.parametrize("run_id", ["../x", "/abs/path", "a/b", ".", "..", "x" * 300])
def test_run_id_is_a_name_not_a_path(root, run_id):
    assert_one_line_error(aqm(*base(root/"new", "--run-id", run_id)), "invalid --run-id"); nothing_written(root)

# 2. image paths resolve inside the image folder
@pytest.mark.parametrize("file_name", ["../../elsewhere/x.jpg", "/etc/hostname"])
def test_file_name_outside_the_image_folder(root, tmp_path, real_coco, file_name):
    ann = broken_annotations(real_coco, tmp_path, lambda js: js["images"][0].update(file_name=file_name))
    p = aqm("run", "--weights", "real", *val(real_coco, ann), "--run-root", root)
    assert_one_line_error(p, "name a file outside the image folder"); nothing_written(root)

# 3. `aqm eval --out` files are never overwritten
@pytest.mark.parametrize("taken", ["metrics.json", "predictions.json", "image_ids.txt"])
def test_eval_never_overwrites(tmp_path, real_coco, taken):
    out = tmp_path/"out"; out.mkdir(); (out/taken).write_text("mine"); (tmp_path/"m.onnx").write_bytes(b"x")
    p = aqm("eval", "--onnx", tmp_path/"m.onnx", *val(real_coco), "--out", out)
    assert_one_line_error(p, f"{taken} already exists"); assert (out/taken).read_text() == "mine"

# 4. default run ids never collide
def test_two_runs_started_in_the_same_second_both_run(root):
    procs = [aqm_popen(*base(root)) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    runs = sorted(p.name for p in root.iterdir())
    assert len(runs) == 2 and all(json.loads((root/r/"run.json").read_text())["status"] == "done" for r in runs), runs

# 5. signals are obeyed during evaluation too, even inside pycocotools (whose bare `except` swallows exceptions)
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_evaluation_stops_the_run(root, sig, code):
    p = aqm_popen(*base(root, "--run-id", "s", "--max-images", 20, "--bootstrap", 20_000))
    started = time.time()
    while not (root/"s/ptq-w4a16-coco/metrics.json").exists():  # the bootstrap's accumulate loop runs next
        assert p.poll() is None and time.time() - started < 600, p.stderr.read()[-2000:] if p.poll() is not None else "timeout"
        time.sleep(0.2)
    time.sleep(1.0); p.send_signal(sig); t = time.time()
    _, err = p.communicate(timeout=60)
    assert p.returncode == code and time.time() - t < 5, (p.returncode, time.time() - t, err[-2000:])
    assert err.strip().splitlines()[-1] == f"aqm: terminated ({sig.name})" and "Traceback" not in err, err[-2000:]
    rec = json.loads((root/"s/run.json").read_text())
    assert (rec["status"], rec["reason"]) == ("failed", f"terminated by {sig.name}")
    assert not [f for f in files_under(root) if Path(f).name.startswith(".")]  # no temporary file left

def test_timeout_stops_the_run_within_5_s(root):
    p = subprocess.run(["timeout", "-s", "TERM", "25", str(Path(sys.executable).parent/"aqm"),
                        *map(str, base(root, "--run-id", "t", "--max-images", 20, "--bootstrap", 20_000))],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 124, p.stderr[-2000:]  # timeout's own status once its child ended on the signal
    rec = json.loads((root/"t/run.json").read_text())
    assert (rec["status"], rec["reason"]) == ("failed", "terminated by SIGTERM") and not [f for f in files_under(root) if Path(f).name.startswith(".")]

# 6. a full disk: one line, and `run.json` says failed
def small_tmpfs(path, size="64k") -> bool:
    "Mount a tmpfs of `size` at `path` (True), or say this machine does not allow it (False)."
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode == 0

def file_size_limit():
    "In the child: files may grow to 64 kB, then writes fail (EFBIG), as on a full disk."
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (65_536, 65_536))

def test_full_disk_records_failed(tmp_path):
    disk = tmp_path/"disk"
    mounted = small_tmpfs(disk)  # a real full disk where mounting is allowed; else the same fault by a file size limit
    try:
        p = aqm(*base(disk, "--run-id", "f"), preexec_fn=None if mounted else file_size_limit)
        assert_one_line_error(p, "No space left on device" if mounted else "File too large")
        rec = json.loads((disk/"f/run.json").read_text())
        assert rec["status"] == "failed" and ("No space left" in rec["reason"] or "File too large" in rec["reason"]), rec
        assert not [f for f in files_under(disk) if Path(f).name.startswith(".")]
    finally:
        if mounted: subprocess.run(["umount", str(disk)], check=True)

# 7, 8, 13: every number has a finite, sane range; checked before any work starts
@pytest.mark.parametrize("flag, value, says", [
    ("--bootstrap", 10**9, "--bootstrap must be between 0 and"), ("--opset", 7, "--opset must be between 13 and 20"),
    ("--opset", 11, "--opset must be between 13 and 20"), ("--opset", 0, "--opset must be between"), ("--opset", 99, "--opset must be between"),
    ("--target-sqnr-db", "nan", "--target-sqnr-db must be between"), ("--target-sqnr-db", "inf", "must be between"),
    ("--target-sqnr-db", "-inf", "must be between"), ("--adaround-iters", -1, "--adaround-iters must be between 1 and"),
    ("--max-images", 0, "--max-images must be between 1 and"), ("--imgsz", 33, "multiple of 32"), ("--mode", "w4x9", "unknown --mode"),
    ("--scales", "row", "unknown --scales"), ("--keep-8bit-share", 1.5, "--keep-8bit-share must be between 0.0 and 1.0"),
    ("--calib-images", -3, "--calib-images must be between 0 and"), ("--group-size", 99999, "--group-size must be between 0 and 4096")])
def test_bad_numbers_and_choices(root, flag, value, says):
    assert_one_line_error(aqm(*base(root, f"{flag}={value}")), says); nothing_written(root)  # "=" so -inf reads as a value

# 9. `aqm sensitivity` without calibration images
def test_sensitivity_without_calibration_images(root):
    p = aqm("sensitivity", "--weights", "demo", "--data-root", "demo", "--calib-images", 0, "--run-root", root)
    assert_one_line_error(p, "--calib-images must be at least 1"); nothing_written(root)

# 10. an ONNX that is not a detector
def test_eval_of_an_onnx_that_is_not_a_detector(tmp_path, real_coco):
    import onnx
    from onnx import helper, TensorProto
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    onnx.save(helper.make_model(g), tmp_path/"relu.onnx")
    p = aqm("eval", "--onnx", tmp_path/"relu.onnx", *val(real_coco), "--out", tmp_path/"out")
    assert_one_line_error(p, "is not a YOLO detector graph"); assert not (tmp_path/"out").exists()

# 11, 13: annotations pycocotools would trip on, or score wrongly
@pytest.mark.parametrize("what, change, says", [
    ("bbox not numbers", lambda js: js["annotations"][0].update(bbox=["a", "b", 1, 2]), "no valid 'bbox'"),
    ("no bbox", lambda js: js["annotations"][0].pop("bbox"), "no valid 'bbox'"),
    ("no area", lambda js: js["annotations"][0].pop("area"), "no valid 'area'"),
    ("duplicate image id", lambda js: js["images"].append(dict(js["images"][0])), "image ids appear more than once"),
    ("unknown category", lambda js: js["annotations"][0].update(category_id=99999), "category id the file has no category for")])
def test_annotations_that_would_fail_late(root, tmp_path, real_coco, what, change, says):
    ann = broken_annotations(real_coco, tmp_path, change)
    assert_one_line_error(aqm("run", "--weights", "real", *val(real_coco, ann), "--run-root", root), says); nothing_written(root)

# 12, 13: errors that need the model, still found before anything is written
def test_model_classes_that_do_not_map(root, tmp_path, real_coco):
    def three(js):
        js["categories"] = js["categories"][:3]; keep = {c["id"] for c in js["categories"]}
        js["annotations"] = [a for a in js["annotations"] if a["category_id"] in keep]
    ann = broken_annotations(real_coco, tmp_path, three)
    p = aqm("run", "--weights", "yolov8n.yaml", "--head", "one2many", *val(real_coco, ann), "--imgsz", 64, "--max-images", 4,
            "--calib-images", 4, "--run-root", root)
    assert_one_line_error(p, "cannot map the model's 80 classes"); nothing_written(root)

@pytest.mark.parametrize("flag", ["--skip", "--keep-8bit"])
def test_patterns_that_match_no_conv(root, flag):
    assert_one_line_error(aqm(*base(root, flag, "model.99.*")), f"{flag} pattern 'model.99.*' matches no conv"); nothing_written(root)

@pytest.mark.parametrize("content, says", [(None, "smoke image not found"), (b"not an image", "cannot read image")])
def test_bad_smoke_image(root, tmp_path, content, says):
    img = tmp_path/"smoke.jpg"
    if content is not None: img.write_bytes(content)
    assert_one_line_error(aqm(*base(root, "--smoke-image", img)), says); nothing_written(root)

# 14. the artifact knows its calibration, wherever it sits
@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory, real_coco):
    "A W4A16 run of the bundled real model, calibrated on 4 of its val2017 photos, 4 others evaluated."
    root = tmp_path_factory.mktemp("cal")
    p = aqm("run", "--weights", "real", *val(real_coco), "--max-images", 4, "--calib-images", 4, "--imgsz", 64, "--bootstrap", 0,
            "--algorithm", "rtn", "--keep-8bit-budget", 0, "--providers", "cpu", "--run-root", root, "--run-id", "c")
    assert p.returncode == 0, p.stderr[-2000:]
    return root/"c"

def test_moved_onnx_and_copied_annotations_refuse_calibration_ids(calibrated_run, real_coco, tmp_path):
    moved = tmp_path/"elsewhere"; moved.mkdir()
    shutil.copy(calibrated_run/"onnx/yolov10n-real-w4a16-qcdq-ptq.onnx", moved/"model.onnx")
    shutil.copy(real_coco/"annotations/instances_val2017.json", moved/"copy.json")
    cal = (calibrated_run/"calib_ids.txt").read_text().split()
    (tmp_path/"ids.txt").write_text(f"{cal[0]}\n")
    p = aqm("eval", "--onnx", moved/"model.onnx", *val(real_coco, moved/"copy.json"), "--image-ids-list", tmp_path/"ids.txt",
            "--out", tmp_path/"out", "--providers", "cpu")
    assert_one_line_error(p, "1 of the 1 ids to evaluate calibrated this model"); assert not (tmp_path/"out").exists()

# 15-17: the report fails like the CLI
@pytest.mark.parametrize("params, says", [
    (("no_such_param", "5"), "unknown report parameter(s): no_such_param"), (("mode", "w4x9"), "unknown --mode 'w4x9'"),
    (("max_images", "abc"), "--max-images must be a number"), (("weights", "/nonexistent.pt"), "weights file not found")])
def test_report_errors_are_one_line(tmp_path, params, says):
    p = aqm("report", "-p", *params, "--out", tmp_path/"out")
    assert_one_line_error(p, says)
    for nb in (tmp_path/"out").glob("*.ipynb"):  # where the notebook ran: the error is its one line, no traceback
        outs = [o for c in json.loads(nb.read_text())["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert [o["traceback"] for o in outs] == [[f"aqm: error: {outs[0]['evalue']}"]], outs

def test_report_refuses_a_run_recorded_with_other_options(calibrated_run, tmp_path):
    p = aqm("report", "-p", "weights", "real", "-p", "run_root", calibrated_run.parent, "-p", "run_id", calibrated_run.name,
            "-p", "imgsz", 96, "-p", "group_size", 8, "--out", tmp_path/"out")
    assert_one_line_error(p, "was made with other options", "imgsz (given 96, recorded 64)", "group_size (given 8, recorded 0)")

# the classes that passed before: bad files, images and id lists, read-only roots
def test_missing_and_unreadable_files(root, tmp_path, real_coco):
    (tmp_path/"junk.pt").write_text("not weights")
    assert_one_line_error(aqm(*base(root, "--weights", tmp_path/"none.pt")), "weights file not found")
    assert_one_line_error(aqm(*base(root, "--weights", tmp_path/"junk.pt")), "not a readable Ultralytics checkpoint")
    (tmp_path/"ids.txt").write_text("12x\n")
    assert_one_line_error(aqm("run", "--weights", "real", *val(real_coco), "--image-ids-list", tmp_path/"ids.txt", "--run-root", root),
                          "not an image id")
    nothing_written(root)

def test_unreadable_evaluation_image(root, tmp_path, real_coco):
    imgs = tmp_path/"imgs"; shutil.copytree(real_coco/"val2017", imgs)
    first = sorted(json.loads((real_coco/"annotations/instances_val2017.json").read_text())["images"], key=lambda i: i["id"])[0]
    (imgs/first["file_name"]).write_bytes(b"")
    p = aqm("run", "--weights", "real", "--images", imgs, "--annotations", real_coco/"annotations/instances_val2017.json",
            "--max-images", 3, "--calib-images", 0, "--run-root", root)
    assert_one_line_error(p, "cannot read image"); nothing_written(root)

def test_read_only_run_root(tmp_path):
    ro = Path("/proc/1/aqm-runs") if os.geteuid() == 0 else tmp_path/"ro"/"runs"  # root ignores permission bits; /proc/1 refuses it
    if os.geteuid() != 0: ro.parent.mkdir(); ro.parent.chmod(0o555)
    assert_one_line_error(aqm(*base(ro, "--run-id", "a")), "cannot create the run directory")
