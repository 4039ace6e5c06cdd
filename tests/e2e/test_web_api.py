"""The web page's own endpoints through the real app (TestClient): label sets saved in the format
``geoalign train`` reads, their download, the parse endpoint, the static page, and their errors."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.servers import require_module

require_module("fastapi", "server")
from fastapi.testclient import TestClient  # noqa: E402
from tests.fake_scorers import RecordingScorer  # noqa: E402

from geoalign.io.labels import read_labelled_pairs  # noqa: E402
from geoalign.server.app import ServerSettings, create_app  # noqa: E402
from geoalign.server.routes_page import STATIC_DIR  # noqa: E402

A1, B1 = "浙江省杭州市西湖区文三路369号3幢2单元501室", "杭州市文三路369号3栋2单元502室"
A2, B2 = "上海市浦东新区张江路88号", "上海浦东张江路88号华虹大厦"
A3, B3 = "北京市海淀区中关村大街27号", "广州市天河区体育西路189号"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(RecordingScorer, ServerSettings(labels_dir=str(tmp_path / "labels"), max_chars=64))
    with TestClient(app) as c:
        yield c


def _labels(*rows: tuple[str, str, Any], set_name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"labels": [{"a": a, "b": b, "label": label} for a, b, label in rows]}
    if set_name is not None:
        body["set"] = set_name
    return body


def test_saved_labels_are_a_file_geoalign_train_reads(client: TestClient, tmp_path: Path) -> None:
    r = client.post(
        "/v1/labels", json=_labels((A1, B1, "partial_match"), (A2, B2, 2), (A3, B3, "0"), set_name="job-1")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    path = tmp_path / "labels" / "job-1.tsv"
    assert body["file"] == "job-1.tsv"  # never an absolute server path
    assert str(tmp_path) not in r.text
    assert (body["saved"], body["total"]) == (3, 3)
    assert body["counts"] == {"exact_match": 1, "partial_match": 1, "not_match": 1}
    # label names in the file, never the CCKS integers the request used
    assert path.read_text(encoding="utf-8").splitlines()[0] == "a\tb\tlabel"
    pairs = read_labelled_pairs(path)
    assert [(p.a, p.b, p.label) for p in pairs] == [
        (A1, B1, "partial_match"),
        (A2, B2, "exact_match"),
        (A3, B3, "not_match"),
    ]


def test_relabelling_a_pair_replaces_its_row(client: TestClient, tmp_path: Path) -> None:
    client.post("/v1/labels", json=_labels((A1, B1, "exact_match"), (A2, B2, "exact_match")))
    r = client.post("/v1/labels", json=_labels((A1, B1, "not_match")))
    assert (r.json()["saved"], r.json()["total"]) == (1, 2)
    pairs = read_labelled_pairs(tmp_path / "labels" / "labels.tsv")
    assert [(p.a, p.label) for p in pairs] == [(A1, "not_match"), (A2, "exact_match")]


def test_tabs_and_line_breaks_cannot_break_the_tsv(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/v1/labels", json=_labels(("文三路\t369号\n3幢", "文三路 369号", "exact_match")))
    assert r.status_code == 200
    pairs = read_labelled_pairs(tmp_path / "labels" / "labels.tsv")
    assert [(p.a, p.b) for p in pairs] == [("文三路 369号 3幢", "文三路 369号")]


def test_download_gives_the_saved_file(client: TestClient, tmp_path: Path) -> None:
    missing = client.get("/v1/labels", params={"set": "nothing-yet"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "no_labels"
    client.post("/v1/labels", json=_labels((A1, B1, "exact_match"), set_name="s1"))
    r = client.get("/v1/labels", params={"set": "s1"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/tab-separated-values")
    assert 'filename="s1.tsv"' in r.headers["content-disposition"]
    assert r.content == (tmp_path / "labels" / "s1.tsv").read_bytes()
    assert r.text == f"a\tb\tlabel\n{A1}\t{B1}\texact_match\n"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (_labels((A1, B1, "same")), 422, "invalid_label"),
        (_labels((A1, B1, 7)), 422, "invalid_label"),
        (_labels((A1, B1, True)), 422, "invalid_request"),
        (_labels((A1, B1, "exact_match"), set_name="../../etc/passwd"), 422, "invalid_set"),
        (_labels((A1, B1, "exact_match"), set_name="a/b"), 422, "invalid_set"),
        (_labels((A1, B1, "exact_match"), set_name=""), 422, "invalid_set"),
        (_labels((" \t ", B1, "exact_match")), 422, "invalid_label"),
        ({"labels": []}, 422, "no_labels"),
        ({"labels": [{"a": A1, "b": B1}]}, 422, "invalid_request"),
        ({"labels": [{"a": A1, "b": B1, "label": "exact_match", "x": 1}]}, 422, "invalid_request"),
    ],
)
def test_bad_labels_are_refused_with_the_error_shape(
    client: TestClient, tmp_path: Path, body: dict[str, Any], status: int, code: str
) -> None:
    r = client.post("/v1/labels", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]
    # nothing written anywhere, inside or outside the labels directory
    assert not (tmp_path / "labels").exists() or not any((tmp_path / "labels").iterdir())


def test_a_hand_broken_labels_file_is_reported_not_overwritten(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "labels" / "labels.tsv"
    path.parent.mkdir()
    broken = f"a\tb\tlabel\n{A1}\t{B1}\tmaybe\n"
    path.write_text(broken, encoding="utf-8")
    r = client.post("/v1/labels", json=_labels((A2, B2, "exact_match")))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "labels_file_unreadable"
    assert "maybe" in r.json()["error"]["message"]
    assert path.read_text(encoding="utf-8") == broken


def test_without_a_labels_dir_labels_are_refused_clearly() -> None:
    with TestClient(create_app(RecordingScorer, ServerSettings())) as c:
        assert c.get("/v1/web/info").json()["labels_enabled"] is False
        for r in (c.post("/v1/labels", json=_labels((A1, B1, "exact_match"))), c.get("/v1/labels")):
            assert r.status_code == 409
            assert r.json()["error"]["code"] == "labels_disabled"
            assert "--labels-dir" in r.json()["error"]["message"]


def test_api_key_guards_labels_and_parse_but_not_the_page(tmp_path: Path) -> None:
    settings = ServerSettings(api_key="s3cret", labels_dir=str(tmp_path))
    with TestClient(create_app(RecordingScorer, settings)) as c:
        assert c.get("/").status_code == 200
        assert c.get("/static/app.js").status_code == 200
        assert c.get("/v1/web/info").json()["auth_required"] is True
        calls = [
            ("post", "/v1/labels", _labels((A1, B1, "exact_match"))),
            ("get", "/v1/labels", None),
            ("post", "/v1/parse", {"addresses": [A1]}),
        ]
        for method, url, body in calls:
            r = c.request(method, url, json=body)
            assert r.status_code == 401, url
            assert r.json()["error"]["code"] == "unauthorized"
        ok = c.post(
            "/v1/labels", json=_labels((A1, B1, "exact_match")), headers={"Authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200
    assert [p.label for p in read_labelled_pairs(tmp_path / "labels.tsv")] == ["exact_match"]


def test_parse_gives_components_with_offsets_and_errors_in_their_slots(client: TestClient) -> None:
    long_text = "文三路" * 30
    r = client.post("/v1/parse", json={"addresses": [A1, "   ", long_text]})
    assert r.status_code == 200
    first, empty, too_long = r.json()["results"]
    assert first["raw"] == A1
    names = [c["name"] for c in first["components"]]
    assert "roadno" in names and "roomno" in names
    for c in first["components"]:
        assert A1[c["start"] : c["end"]] == c["text"]
    room = next(c for c in first["components"] if c["name"] == "roomno")
    assert room["value"] == "501"
    assert empty["error"]["code"] == "invalid_input"
    # One length policy: a long address is parsed on its first max-chars characters and flagged.
    assert "error" not in too_long
    assert too_long["raw"] == long_text
    assert too_long["truncated"] == {"by": "max_chars", "at_char": 64}
    assert all(c["end"] <= 64 for c in too_long["components"])


def test_parse_with_the_accurate_parser(client: TestClient) -> None:
    r = client.post("/v1/parse", json={"addresses": [A1, ""], "model": "neural"})
    assert r.status_code == 200
    first, empty = r.json()["results"]
    assert first["raw"] == A1 and empty["error"]["code"] == "invalid_input"
    assert all(A1[c["start"] : c["end"]] == c["text"] for c in first["components"])
    assert "roomno" in [c["name"] for c in first["components"]]
    unknown = client.post("/v1/parse", json={"addresses": [A1], "model": "bert"})
    assert unknown.status_code == 422


def test_parse_refuses_too_many_addresses(client: TestClient) -> None:
    r = client.post("/v1/parse", json={"addresses": ["文三路369号"] * 101})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_many_addresses"


def test_page_and_assets_are_served_and_nothing_else_from_disk(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    js = client.get("/static/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    for name in ("index.html", "..%2Fweb.py", "../web.py", "nope.js"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 404, name
        assert r.json()["error"]["code"] == "not_found"


def test_page_works_offline_and_names_the_cjk_fonts() -> None:
    """No CDN, no web fonts, no remote script: nothing in the page reaches outside this server."""
    for path in STATIC_DIR.iterdir():
        # an SVG's namespace is a name, not a fetch
        text = path.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), path.name
        assert "@import" not in text and "url(" not in text, path.name
    css = (STATIC_DIR / "app.css").read_text(encoding="utf-8")
    stack = '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif'
    assert stack in css


def test_geoalign_serve_passes_labels_dir(tmp_path: Path) -> None:
    from geoalign.cli import serve

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    # an open server writes nothing to disk unless told to; with a key, the default directory is used
    assert serve.build_settings(parser.parse_args([])).labels_dir is None
    keyed = parser.parse_args(["--api-key", "k3y"])
    assert serve.build_settings(keyed).labels_dir == "geoalign-labels"
    args = parser.parse_args(["--labels-dir", str(tmp_path)])
    assert serve.build_settings(args).labels_dir == str(tmp_path)


def test_geoalign_train_trains_on_a_saved_label_set(client: TestClient, tmp_path: Path) -> None:
    """The loop the page exists for: labels from a review feed `geoalign train` as they are."""
    places = [
        ("杭州市西湖区文三路369号", "杭州文三路369号", "杭州市西湖区文三路371号", "杭州市上城区解放路12号"),
        (
            "上海市浦东新区张江路88号",
            "上海浦东张江路88号",
            "上海市浦东新区张江路90号",
            "上海市徐汇区漕溪北路1号",
        ),
        (
            "北京市海淀区中关村大街27号",
            "北京海淀中关村大街27号",
            "北京市海淀区中关村大街59号",
            "北京市朝阳区建国路93号",
        ),
        (
            "广州市天河区体育西路189号",
            "广州天河体育西路189号",
            "广州市天河区体育西路191号",
            "广州市越秀区北京路8号",
        ),
    ]
    rows = []
    for query, exact, partial, other in places:
        for k in range(4):
            suffix = f"{k + 1}号门" if k else ""
            rows += [(query + suffix, exact, "exact_match"), (query + suffix, partial, "partial_match")]
            rows += [(query + suffix, other, "not_match")]
    saved = client.post("/v1/labels", json=_labels(*rows, set_name="review")).json()
    assert saved["total"] == len(rows) == 48
    path = str(tmp_path / "labels" / saved["file"])
    cmd = [sys.executable, "-m", "geoalign", "train", "--pairs", path, "-o", str(tmp_path / "m")]
    cmd += ["--folds", "0", "--rounds", "10"]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "48 labelled pairs" in done.stdout + done.stderr


def test_record_ids_are_kept_beside_the_labels(client: TestClient, tmp_path: Path) -> None:
    body = {"set": "ids", "labels": [{"a": A1, "b": B1, "label": 2, "a_id": "L-7", "b_id": 42}]}
    assert client.post("/v1/labels", json=body).status_code == 200
    # relabelled without ids: the ids stay; a pair without ids gets empty cells
    client.post("/v1/labels", json=_labels((A1, B1, "not_match"), (A2, B2, 1), set_name="ids"))
    text = (tmp_path / "labels" / "ids.tsv").read_text(encoding="utf-8")
    assert text == f"a\tb\tlabel\ta_id\tb_id\n{A1}\t{B1}\tnot_match\tL-7\t42\n{A2}\t{B2}\tpartial_match\t\t\n"
    assert [(p.a, p.label) for p in read_labelled_pairs(tmp_path / "labels" / "ids.tsv")] == [
        (A1, "not_match"),
        (A2, "partial_match"),
    ]


def test_a_set_with_no_labels_yet_can_be_asked_for_as_an_empty_file(client: TestClient) -> None:
    r = client.get("/v1/labels", params={"set": "fresh", "if_missing": "empty"})
    assert (r.status_code, r.text) == (200, "a\tb\tlabel\n")
    assert client.get("/v1/labels", params={"set": "fresh"}).status_code == 404


def test_the_page_scripts_and_favicon_are_served(client: TestClient) -> None:
    page = client.get("/").text
    assert '<script src="/static/i18n.js"' in page and 'rel="icon" href="/favicon.ico"' in page
    assert client.get("/static/i18n.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/favicon.ico").headers["content-type"] == "image/svg+xml"
