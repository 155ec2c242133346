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

CLI_FLAGS = ("--weights", "demo", "--data-root", "demo", "--weight-quant", "mse", "--keep-8bit-share", "0.1", "--max-images", "12",
             "--calib-images", "4")

@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    "`aqm run` with a few options, as a user types it."
    from conftest import aqm
    root = tmp_path_factory.mktemp("cli")
    p = aqm("run", *CLI_FLAGS, "--providers", "cpu", "--run-root", root, "--run-id", "cli")
    assert p.returncode == 0, p.stderr[-3000:]
    return root/"cli"

@pytest.fixture(scope="module")
def rendered(tmp_path_factory, cli_run):
    "The same run made again by the report, from nothing but the CLI run's `run.json`."
    from auto_quantize_model.spec import RunSpec
    d = tmp_path_factory.mktemp("report")
    out = d/"report.ipynb"
    params = RunSpec.from_json(cli_run/"run.json").changed()
    params.update(run_root=str(d/"runs"), run_id="r1")
    papermill(out, **params)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--no-input", str(out)], check=True,
                   capture_output=True)
    return d, out.with_suffix(".html")

def test_report_reproduces_a_cli_run_from_its_run_json(cli_run, rendered):
    d, _ = rendered
    rep = d/"runs"/"r1"
    a, b = (json.loads((r/"run.json").read_text()) for r in (cli_run, rep))
    assert {k: v for k, v in a["args"].items() if k not in ("run_root", "run_id")} == \
           {k: v for k, v in b["args"].items() if k not in ("run_root", "run_id")}
    assert a["args"]["weight_quant"] == "mse" and a["args"]["keep_8bit_share"] == 0.1 and a["args"]["max_images"] == 12
    assert (cli_run/"image_ids.txt").read_text() == (rep/"image_ids.txt").read_text()
    assert (cli_run/"calib_ids.txt").read_text() == (rep/"calib_ids.txt").read_text()
    for f in ("baseline-fp32-coco/metrics.json", "ptq-w4a16-coco/metrics.json"):
        ma, mb = (json.loads((r/f).read_text()) for r in (cli_run, rep))
        assert (ma["mAP_50_95"], ma["mAP_50"], ma["stats"]) == (mb["mAP_50_95"], mb["mAP_50"], mb["stats"]), f
    ea, eb = (json.loads((r/"ptq_w4a16_export.json").read_text()) for r in (cli_run, rep))
    assert [l["bits"] for l in ea["layers"]] == [l["bits"] for l in eb["layers"]] and 8 in [l["bits"] for l in ea["layers"]]

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
    assert "weight_quant=mse" in html.read_text() and "keep_8bit_share=0.1" in html.read_text()  # the options it ran with

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


def test_report_calibrates_on_one_set_and_evaluates_all_of_another(tmp_path):
    "The bundled real photos: calibration from train2017/ (the root's own split), every val2017/ photo evaluated; QAT shown."
    from auto_quantize_model.real import real_data_root
    out = tmp_path/"real.ipynb"
    papermill(out, mode="w4a16", weights="real", data_root="real", max_images=100_000, calib_images=8, imgsz=128,
              algorithm="rtn", keep_8bit_budget="0", run_root=str(tmp_path/"runs"), run_id="r", providers="cpu",  # cheap: the test is about the data
              qat=True, qat_steps=2)  # and the QAT figure: its loss curve and the Δ before and after
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--no-input", str(out)], check=True,
                   capture_output=True)
    rec = json.loads((tmp_path/"runs/r/run.json").read_text())
    val = json.loads((real_data_root()/"annotations/instances_val2017.json").read_text())
    assert rec["images"] == len(val["images"]) and rec["calibration"]["images"] == 8
    assert rec["calibration"]["source"]["annotations"].endswith("instances_train2017.json")
    html = out.with_suffix(".html").read_text()
    assert "from instances_train2017.json" in html and rec["checkpoint"]["sha256"] in html
    assert "then QAT (2 steps on the calibration images" in html and rec["qat"]["w4a16"]["steps"] == 2
    assert (tmp_path/"runs/r/ptq-w4a16-before-qat-coco/metrics.json").is_file()
