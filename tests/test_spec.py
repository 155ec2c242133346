"""One `RunSpec`, three faces: every option is a flag of `aqm run`, a parameter of the report, and a key of `run.json`
that rebuilds the same spec."""
import json
from pathlib import Path
import pytest
from auto_quantize_model.cli import build_parser, spec_from_args
from auto_quantize_model.report import report_spec
from auto_quantize_model.rundir import RunDir
from auto_quantize_model.spec import CHOICES, RunSpec, option_fields

TEMPLATE = Path(__file__).resolve().parents[1]/"reports"/"aqm_report.ipynb"
SPECIAL = dict(imgsz=96, opset=17, providers="cpu", max_images=7, weights_sha256="ab" * 32, calib_images=5, probe_images=3, act_rank_images=2, act_float=2, act_calib_images=3,
               keep_8bit_share=0.25, target_sqnr_db=21.5, keep_8bit_count=2, adaround_iters=7, group_size=64,
               keep_8bit_budget="150kB", ray="10.0.0.5:6379", ray_workers=3, bootstrap=7, run_id="my-run.2", qat_steps=40, act_range_margin=1.5)
WITH = dict(ray_workers=dict(ray="local"), qat_steps=dict(qat=True), qat_loss=dict(qat=True), ov_precision=dict(runtime="openvino"))  # options that need another one given with them

def other_value(o):
    "A valid value of option `o` that is not its default."
    if o.name in SPECIAL: return SPECIAL[o.name]
    if o.name in CHOICES: return next(c for c in CHOICES[o.name] if c != o.default)
    if o.type == "bool": return not o.default
    if o.type == "tuple": return ("model.0.*", "model.2.*")
    if o.type == "str": return f"some/{o.name}"
    raise AssertionError(f"no test value for {o.name} ({o.type})")

def argv_of(o, v):
    "The command-line words that give option `o` the value `v`."
    if o.type == "bool": return [o.flag if v else "--no-" + o.flag[2:]]
    if o.type == "tuple": return [o.flag, *v]
    return [o.flag, str(v)]

def report_parameters():
    "The names the report's parameters cell defines."
    nb = json.loads(TEMPLATE.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    return {l.split("=")[0].strip() for l in "".join(cell["source"]).splitlines() if "=" in l and not l.startswith("#")}

@pytest.mark.parametrize("o", option_fields(), ids=lambda o: o.name)
def test_every_option_is_a_flag_a_report_parameter_and_round_trips_run_json(o, tmp_path):
    v, given = other_value(o), WITH.get(o.name, {})
    assert v != o.default
    fields = {f.name: f for f in option_fields()}
    argv = [w for k, x in given.items() for w in argv_of(fields[k], x)] + argv_of(o, v)
    from_cli = spec_from_args(build_parser().parse_args(["run", *argv]))
    assert o.name in report_parameters(), f"the report has no parameter {o.name}"
    from_report = report_spec({**given, o.name: list(v) if isinstance(v, tuple) else v})
    assert from_cli == from_report == RunSpec.build(**given, **{o.name: v})
    assert from_cli.changed() == {**given, o.name: list(v) if isinstance(v, tuple) else v}
    rd = RunDir(tmp_path/"r").create()
    with rd.record("run", from_cli): pass
    rec = json.loads(rd.run_json.read_text())
    assert rec["args"][o.name] == (list(v) if isinstance(v, tuple) else v)
    assert RunSpec.from_json(rec) == from_cli

def test_help_shows_every_options_doc():
    sub = build_parser()._subparsers._group_actions[0].choices["run"]
    helps, text = {a.dest: a.help.replace("%%", "%") for a in sub._actions}, sub.format_help()  # what `aqm run --help` prints
    for o in option_fields(): assert helps[o.name].startswith(o.doc) and o.flag in text, o.name

def test_report_parameters_are_exactly_the_options_and_compare():
    assert report_parameters() == {o.name for o in option_fields()} | {"compare"}
