"""scripts/eval_rule_made.py end to end on a few invented addresses: every rewrite that applies is
scored and reported, the frozen fold's strings are left out, and a bad judge name is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts.eval_rule_made import frozen_fold_strings, main

ADDRESSES = [
    "浙江省杭州市西湖区文三路369号3栋2单元501室",
    "江苏省南京市鼓楼区中山北路30号3号楼",
    "广东省深圳市福田区深南中路1002号12层",
    "上海市浦东新区张杨路500号1508室",
]


def test_reports_each_rewrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "addresses.txt"
    corpus.write_text("\n".join(ADDRESSES) + "\n\n", encoding="utf-8")
    assert main([str(corpus), "--n", "4", "--judges", "structured", "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 addresses (seed 5)")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    rewrites = {row.split(" | ")[0].lstrip("| ") for row in rows}
    # these apply to every address above
    assert {"drop_province", "full_width", "noise_phone", "another_road_number"} <= rewrites
    # and the evaluation-only ones, marked as such
    assert {"another_district (evaluation only)", "traditional (evaluation only)"} <= rewrites
    for row in rows:
        share = float(row.split(" | ")[3].split(" ")[0])
        assert 0.0 <= share <= 1.0


def test_frozen_fold_strings_are_left_out(tmp_path: Path) -> None:
    from geoalign.scorers.structured_train import is_test_query

    # invented queries: the first that hashes into the frozen fold, and one that does not
    queries = [f"浙江省杭州市西湖区文三路{n}号" for n in range(1, 200)]
    frozen = next(q for q in queries if is_test_query(q))
    kept = next(q for q in queries if not is_test_query(q))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        f"{frozen}\t杭州市文三路1号\texact_match\n{kept}\t杭州市文三路2号\tnot_match\n", encoding="utf-8"
    )
    assert frozen_fold_strings(str(pairs)) == {frozen, "杭州市文三路1号"}
    corpus = tmp_path / "addresses.txt"
    corpus.write_text(f"{frozen}\n{kept}\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="more than the 1 usable"):  # the frozen query is gone
        main([str(corpus), "--n", "2", "--judges", "structured", "--exclude-ccks", str(pairs)])


def test_unknown_judge_and_too_many_addresses(tmp_path: Path) -> None:
    corpus = tmp_path / "addresses.txt"
    corpus.write_text("\n".join(ADDRESSES), encoding="utf-8")
    with pytest.raises(SystemExit, match="unknown"):
        main([str(corpus), "--n", "2", "--judges", "mgeo"])
    with pytest.raises(SystemExit, match="more than the 4 usable"):
        main([str(corpus), "--n", "9", "--judges", "structured"])
