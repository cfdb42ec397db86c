"""The output contract iqa/2: the shipped JSON Schema files are the ones the
settings table and the report code describe, they accept what iqa writes and
refuse what breaks the contract; every output the tests write is validated
(conftest sets IQA_CHECK_CONTRACT=1)."""

from __future__ import annotations

import copy
import io
import json
import os

import jsonschema
import pytest
from click.testing import CliRunner

from iqa_cli.commands import main
from iqa_cli.report.contract import BUILDERS, FILES, SCHEMA_DIR, shipped, validate
from iqa_cli.report.json import JsonlWriter
from iqa_cli.settings import DECLARED

from conftest import distort, smooth_image


def test_shipped_schema_files_are_the_built_ones():
    """`python -m iqa_cli.report.contract` rewrites them after a change of the table."""
    for kind in FILES:
        assert shipped(kind) == json.loads(json.dumps(BUILDERS[kind]())), f"regenerate {SCHEMA_DIR / FILES[kind]}"


def test_every_setting_is_in_the_settings_schema():
    props = shipped("report")["$defs"]["settings"]["properties"]
    for d in DECLARED.values():
        node = props
        *parents, leaf = d.json_key.split(".")
        for p in parents:
            node = node[p]["properties"]
        assert leaf in node, d.name


@pytest.fixture
def documents(tmp_path, png):
    a = smooth_image(40, 48, seed=3)
    ref, dist = png("r/a.png", a), png("d/a.png", distort(a))
    res = CliRunner().invoke(main, ["compare", ref, dist, "--json", "-"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    res = CliRunner().invoke(main, ["batch", str(tmp_path / "r"), str(tmp_path / "d"), "--format", "jsonl"])
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    return doc, lines


def test_real_outputs_are_valid_and_the_schema_can_fail(documents):
    doc, lines = documents
    validate(doc, "report")
    for line in lines:
        validate(line, "jsonl")
    broken = []
    for mutate in (
        lambda d: d.update(schema="iqa/1"),
        lambda d: d["settings"].update(colour="rgb"),  # an unknown setting
        lambda d: d["settings"].update(color="purple"),
        lambda d: d["settings"].pop("tolerance"),
        lambda d: d["pairs"][0].pop("warnings"),
        lambda d: d["pairs"][0]["metrics"].update(ssim="NaN"),  # only "inf", "-inf", "nan"
        lambda d: d["pairs"][0].update(status="size_mismatch"),  # the wire says "error"
        lambda d: d["summary"]["metrics"]["psnr"].update(infinite=0),
    ):
        bad = copy.deepcopy(doc)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            validate(bad, "report")
        broken.append(bad)
    assert len(broken) == 8
    bad_line = dict(lines[1], type="frame")
    with pytest.raises(jsonschema.ValidationError):
        validate(bad_line, "jsonl")


def test_writers_refuse_to_write_a_broken_line():
    assert os.environ.get("IQA_CHECK_CONTRACT") == "1"
    out = io.StringIO()
    with pytest.raises(jsonschema.ValidationError):
        JsonlWriter(out)._line({"schema": "iqa/2", "type": "pair", "reference": "a.png"})
    assert out.getvalue() == ""


def test_the_docs_list_every_setting_with_its_keys_and_flag():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "output.md").read_text(encoding="utf-8")
    for d in DECLARED.values():
        assert f"| `{d.json_key}` | `{d.flag}` | `{d.config_key}` |" in doc, d.name
