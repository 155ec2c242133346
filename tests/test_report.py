"The papermill report end to end on the bundled demo: it runs, its HTML shows the run's numbers, it re-renders."
import json, re, subprocess, sys, time
from html.parser import HTMLParser
from pathlib import Path
import pytest
from auto_quantize_model.report import fmt

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO/"reports"/"aqm_report.ipynb"

def papermill(out, **params):
    import papermill as pm
    return pm.execute_notebook(str(TEMPLATE), str(out), parameters=params, kernel_name="python3", progress_bar=False,
                               cwd=str(Path(out).parent))

class Tables(HTMLParser):
    "Cells of every table by its id, and the number of images."
    def __init__(self):
        super().__init__(); self.tables, self.cur, self.cell, self.images = {}, None, None, 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"): self.cur = self.tables.setdefault(a["id"], [])
        elif tag == "tr" and self.cur is not None: self.cur.append([])
        elif tag in ("td", "th") and self.cur is not None: self.cell = ""
        elif tag == "img" and (a.get("src") or "").startswith("data:image/png"): self.images += 1
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None: self.cur[-1].append(self.cell.strip()); self.cell = None
        elif tag == "table": self.cur = None
    def handle_data(self, data):
        if self.cell is not None: self.cell += data

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    out = d/"report.ipynb"
    papermill(out, mode="w4a16", weights="demo", data_root="demo", max_images=12, run_root=str(d/"runs"), run_id="r1",
              providers="cpu")
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--no-input", str(out)], check=True,
                   capture_output=True)
    return d, out.with_suffix(".html")

def test_html_shows_the_metrics_of_the_run(rendered):
    d, html = rendered
    p = Tables(); p.feed(html.read_text())
    run = d/"runs"/"r1"
    fp = json.loads((run/"baseline-fp32-coco"/"metrics.json").read_text())
    q = json.loads((run/"ptq-w4a16-coco"/"metrics.json").read_text())
    rows = {r[0]: r[1:] for r in p.tables["metrics-w4a16"][1:]}
    assert rows["mAP_50_95"][:2] == [fmt(fp["mAP_50_95"]), fmt(q["mAP_50_95"])]
    assert rows["mAP_50"][:2] == [fmt(fp["mAP_50"]), fmt(q["mAP_50"])]
    assert rows["mAP_50_95"][2] == fmt(q["mAP_50_95"] - fp["mAP_50_95"])
    assert fp["mAP_50_95"] > 0.2  # the demo detector really detects
    assert p.images >= 4
    assert "DEMO" in html.read_text()

def test_rerender_existing_run_recomputes_nothing(rendered):
    d, _ = rendered
    run = d/"runs"/"r1"
    before = {str(f): f.stat().st_mtime_ns for f in run.rglob("*") if f.is_file()}
    t = time.perf_counter()
    papermill(d/"again.ipynb", mode="w4a16", weights="demo", data_root="demo", run_root=str(d/"runs"), run_id="r1")
    assert {str(f): f.stat().st_mtime_ns for f in run.rglob("*") if f.is_file()} == before
    nb = json.loads((d/"again.ipynb").read_text())
    assert any("nothing recomputed" in json.dumps(c.get("outputs", [])) for c in nb["cells"])

def test_unknown_mode_fails_in_first_cell(tmp_path):
    import papermill as pm
    with pytest.raises(pm.PapermillExecutionError) as e:
        papermill(tmp_path/"bad.ipynb", mode="w4x9", run_root=str(tmp_path/"runs"))
    assert "unknown --mode 'w4x9'" in str(e.value)
    nb = json.loads((tmp_path/"bad.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    tags = [c["metadata"].get("tags", []) for c in code]
    first_real = next(i for i, t in enumerate(tags) if "parameters" not in t and "injected-parameters" not in t)
    assert failed == [first_real]
    assert not (tmp_path/"runs").exists()


def test_mode_all_compares_every_mode_against_one_baseline(tmp_path):
    out = tmp_path/"all.ipynb"
    papermill(out, mode="all", weights="demo", data_root="demo", max_images=8, run_root=str(tmp_path/"runs"), run_id="a",
              providers="cpu")
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--no-input", str(out)], check=True,
                   capture_output=True)
    p = Tables(); p.feed(out.with_suffix(".html").read_text())
    run = tmp_path/"runs"/"a"
    rows = {r[0]: r for r in p.tables["modes"][1:]}
    assert sorted(rows) == sorted(["w4a16", "w8a16", "w4a8", "w8a8"])
    fps = set()
    for md, r in rows.items():
        d = json.loads((run/f"deltas_{md}.json").read_text())
        assert r[1] == fmt(d["quant"]["mAP_50_95"]) and r[2] == f"{100 * d['delta_mAP_50_95']:+.2f}"
        fps.add(d["fp32"]["mAP_50_95"])
        assert f"metrics-{md}" in p.tables
    assert len(fps) == 1  # one FP32 baseline for all
    assert len(list((run/"onnx").glob("*-qcdq-ptq.onnx"))) == 4 and len(list(run.glob("baseline-fp32-coco"))) == 1

def test_report_calibrates_on_one_set_and_evaluates_all_of_another(tmp_path):
    "The bundled real photos: calibration from train2017/ (the root's own split), every val2017/ photo evaluated."
    from auto_quantize_model.real import real_data_root
    out = tmp_path/"real.ipynb"
    papermill(out, mode="w4a16", weights="real", data_root="real", max_images=100_000, calib_images=8, imgsz=128,
              run_root=str(tmp_path/"runs"), run_id="r", providers="cpu")
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--no-input", str(out)], check=True,
                   capture_output=True)
    rec = json.loads((tmp_path/"runs/r/run.json").read_text())
    val = json.loads((real_data_root()/"annotations/instances_val2017.json").read_text())
    assert rec["images"] == len(val["images"]) and rec["calibration"]["images"] == 8
    assert rec["calibration"]["source"]["annotations"].endswith("instances_train2017.json")
    html = out.with_suffix(".html").read_text()
    assert "from instances_train2017.json" in html and rec["checkpoint"]["sha256"] in html
