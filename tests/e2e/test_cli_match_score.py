"""``geoalign match`` and ``geoalign score`` end to end: formats, bad rows, resume, atomic output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geoalign.cli.main import main
from geoalign.cpus import usable_cpus
from geoalign.io.tables import read_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pairs.tsv"
RESULT_COLUMNS = ["label", "p_exact_match", "p_partial_match", "p_not_match", "error"]
A, B = "江苏省南京市鼓楼区中山北路30号3号楼2单元501室", "中山北路30号5栋2单元501室"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A small model trained by the CLI on the project's own examples (not the shipped one)."""
    out = tmp_path_factory.mktemp("model")
    assert main(["train", "--pairs", str(EXAMPLES), "-o", str(out), "--folds", "0", "--rounds", "5"]) == 0
    return out


def test_match_human_and_json(capsys):
    assert main(["match", A, B]) == 0
    text = capsys.readouterr().out
    assert text.startswith("label: ") and "probabilities:" in text and "[conflict]" in text
    assert main(["match", A, B, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"label", "probabilities", "scorer", "model", "explanation", "timings_ms"}
    # the default judge: structured first, the shipped neural matcher for the uncertain band, the rule layer
    assert data["scorer"] in ("cascade", "cascade+rules")
    assert data["model"].startswith("cascade(structured-")
    assert sum(data["probabilities"].values()) == pytest.approx(1.0)
    houseno = [c for c in data["explanation"]["components"] if c["name"] == "houseno"]
    assert houseno and houseno[0]["status"] == "conflict"


def test_match_says_which_rule_changed_the_answer_and_on_what(capsys):
    assert main(["match", "浙江省嘉兴市学林北路100号星河广场", "浙江省嘉兴市学林南路100号星河广场"]) == 0
    text = capsys.readouterr().out
    assert "学林北路  | 学林南路  [conflict]" in text  # similar names, two roads
    assert "rules: another_road (road 学林北路 | 学林南路)" in text
    assert text.startswith("label: partial_match") or text.startswith("label: not_match")


def test_match_lines_up_the_components_in_a_terminal(capsys):
    """A Chinese character takes two columns of a terminal: the B side starts in one column on every
    component line, numbers and Chinese names alike."""
    from geoalign.cli.match import display_width

    a, b = "杭州市西湖区青禾路18号杭州云杉科技有限公司", "青禾路18号杭州松风科技有限公司"
    assert main(["match", a, b]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " | " in line and "[" in line]
    assert len(lines) >= 4
    assert len({display_width(line.split(" | ")[0]) for line in lines}) == 1, lines


def test_match_bad_input_is_a_clear_error(capsys):
    assert main(["match", "   ", B]) == 2
    assert "empty" in capsys.readouterr().err


def test_match_bad_model_dir_is_a_clear_error(capsys, tmp_path):
    assert main(["match", A, B, "--model", str(tmp_path / "nope")]) == 2
    assert f"model directory {str(tmp_path / 'nope')!r} does not exist" in capsys.readouterr().err
    assert main(["match", A, B, "--scorer", "structured", "--model", str(tmp_path)]) == 1
    assert "model.txt is missing" in capsys.readouterr().err


def test_score_examples_headered_tsv(tmp_path, model_dir):
    out = tmp_path / "out.tsv"
    assert main(["score", str(EXAMPLES), "-o", str(out), "--model", str(model_dir), "--no-progress"]) == 0
    table = read_table(out, header=True)
    assert table.columns == ["a", "b", "expected", *RESULT_COLUMNS]
    rows = [r.values for r in table.rows]
    assert len(rows) == 34
    assert all(r[3] in ("exact_match", "partial_match", "not_match") and r[7] == "" for r in rows)
    assert all(abs(sum(float(x) for x in r[4:7]) - 1) < 1e-4 for r in rows)
    assert not (tmp_path / "out.tsv.partial").exists()


def _bad_rows_file(path: Path) -> None:
    lines = [
        f"{A}\t{B}",
        f"\t{B}",  # empty address a
        f"{A}",  # malformed: one column
        "\x01\x02\t文三路369号",  # only control characters
        f"文三路369号🏠\t文三路369号{chr(0x1F600)}",  # emoji is fine
        f"{'路' * 100_000}\t文三路369号",  # a 100k-character cell
        f"{A}\t{B}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl", ".csv"])
def test_score_bad_rows_are_error_rows_never_dropped(tmp_path, model_dir, suffix):
    source = tmp_path / "in.tsv"
    _bad_rows_file(source)
    out = tmp_path / f"out{suffix}"
    args = [
        "score",
        str(source),
        "-o",
        str(out),
        "--model",
        str(model_dir),
        "--no-progress",
        "--batch-size",
        "2",
    ]
    assert main(args) == 0
    table = read_table(out, header=True)
    assert table.columns == ["a", "b", *RESULT_COLUMNS]
    rows = [dict(zip(table.columns, r.values, strict=True)) for r in table.rows]
    assert len(rows) == 7
    # JSONL nests the error object; the other formats hold its JSON text (issue 17)
    errors = [
        (r["error"] if suffix == ".jsonl" else json.loads(r["error"])) if r["error"] else None for r in rows
    ]
    assert [e["code"] if e else None for e in errors] == [
        None,
        "empty",
        "malformed_row",
        "empty",
        None,
        None,
        None,
    ]
    assert "line 3" in errors[2]["message"] and "line 2" in errors[1]["message"]
    assert rows[1]["label"] in ("", None) and rows[0]["label"] in (
        "exact_match",
        "partial_match",
        "not_match",
    )


def test_score_jsonl_non_string_and_missing(tmp_path, model_dir):
    source = tmp_path / "in.jsonl"
    records = [{"id": 1, "q": A, "c": B}, {"id": 2, "q": None, "c": B}, {"id": 3, "q": A, "c": 42}]
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["score", str(source), "-o", str(out), "--a", "q", "--b", "c", "--model", str(model_dir)]
    assert main([*args, "--no-progress"]) == 0
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [g["id"] for g in got] == [1, 2, 3]
    assert got[0]["error"] is None and got[0]["label"]
    assert got[1]["error"]["code"] == "missing"  # a nested object in JSONL (issue 17)
    assert got[2]["error"]["code"] == "not_a_string"


def test_score_parquet_and_xlsx(tmp_path, model_dir):
    pytest.importorskip("pyarrow")
    pytest.importorskip("openpyxl")
    out = tmp_path / "out.parquet"
    base = ["--model", str(model_dir), "--no-progress"]
    assert main(["score", str(EXAMPLES), "-o", str(out), *base]) == 0
    xlsx = tmp_path / "out.xlsx"
    assert main(["score", str(out), "-o", str(xlsx), "--a", "a", "--b", "b", *base]) == 0
    table = read_table(xlsx)
    assert table.columns[:3] == ["a", "b", "expected"] and table.columns[3] == "input_label"
    assert len(list(table.rows)) == 34


def test_score_resumes_from_partial_output(tmp_path, model_dir):
    source = tmp_path / "in.tsv"
    _bad_rows_file(source)
    out = tmp_path / "out.tsv"
    args = [
        "score",
        str(source),
        "-o",
        str(out),
        "--model",
        str(model_dir),
        "--no-progress",
        "--batch-size",
        "2",
    ]
    assert main(args) == 0
    full = out.read_text(encoding="utf-8").splitlines()
    # Simulate a job killed after two chunks: the partial file holds 4 rows, one of them marked, and
    # half of a fifth row. The rerun must keep those rows as they are and finish the rest.
    out.unlink()
    assert main([*args, "-o", str(tmp_path / "scratch.tsv")]) == 0  # (same job elsewhere, for comparison)
    partial = out.with_name(out.name + ".partial")
    from geoalign.io.resume import PartialOutput, input_fingerprint
    from geoalign.scorers.spec import ScorerSpec

    scorer = ScorerSpec(model=str(model_dir), explain=False).build()  # what `score --model DIR` builds
    assert scorer.model_id.endswith("+rules/v26")  # the rule layer is part of the job's identity
    fingerprint = input_fingerprint(
        source,
        a=0,
        b=1,
        header=False,
        format="tsv",
        encoding="utf-8-sig",  # the text encoding is part of the job (issue 17)
        scorer=scorer.name,
        model=scorer.model_id,
    )
    writer = PartialOutput(out, fingerprint, ["a", "b", *RESULT_COLUMNS])
    writer.start(resume=False)
    first_rows = [line.split("\t") for line in full[1:5]]
    first_rows[0][2] = "MARKED"
    writer.append(first_rows)
    with open(partial, "a", encoding="utf-8") as handle:
        handle.write('["half a row')
    proc = subprocess.run(
        [sys.executable, "-m", "geoalign", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "resuming after 4 rows" in proc.stderr
    resumed = out.read_text(encoding="utf-8").splitlines()
    assert len(resumed) == len(full)
    assert resumed[1].split("\t")[2] == "MARKED"
    assert resumed[5:] == full[5:]
    assert not partial.exists()


def test_score_changed_input_does_not_resume(tmp_path, model_dir, capsys):
    source = tmp_path / "in.tsv"
    _bad_rows_file(source)
    out = tmp_path / "out.tsv"
    partial = out.with_name(out.name + ".partial")
    partial.write_text('{"geoalign_partial": 1, "fingerprint": {}, "columns": []}\n["x"]\n', encoding="utf-8")
    args = ["score", str(source), "-o", str(out), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 0
    assert "starting over" in capsys.readouterr().err
    assert len(out.read_text(encoding="utf-8").splitlines()) == 8


def test_score_missing_input_and_unknown_column(tmp_path, capsys, model_dir):
    assert main(["score", str(tmp_path / "nope.tsv"), "-o", str(tmp_path / "o.tsv")]) == 2
    assert "not found" in capsys.readouterr().err
    out = tmp_path / "o.tsv"
    assert main(["score", str(EXAMPLES), "-o", str(out), "--a", "nope", "--model", str(model_dir)]) == 2
    assert "no column" in capsys.readouterr().err
    assert not out.exists()


def _score_subprocess(out: Path, seed: str, *extra: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    cmd = [sys.executable, "-m", "geoalign", "score", str(EXAMPLES), "-o", str(out), "--no-progress", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("scorer", [(), ("--scorer", "structured")], ids=["default-judge", "structured"])
def test_score_is_deterministic_across_processes_and_workers(tmp_path, scorer):
    """Same input, same bytes out: whatever the hash seed (set order), the number of workers and the batch
    size. For the default judge this holds because its neural stage computes in fp32 (an int8 graph
    quantizes activations per batch, so its answers moved with the batching: see the model card)."""
    one = _score_subprocess(tmp_path / "1.tsv", "1", *scorer)
    assert _score_subprocess(tmp_path / "2.tsv", "2", *scorer) == one
    workers = ("--workers", "2", "--batch-size", "5")
    assert _score_subprocess(tmp_path / "3.tsv", "3", *scorer, *workers) == one


def test_score_with_workers_cuts_big_chunks_and_keeps_every_row_in_order(tmp_path):
    """A chunk big enough to be cut into pieces for the workers (``score._pieces``) comes back whole and
    in input order, bad rows included, the same bytes as one process writes."""
    lines = EXAMPLES.read_text(encoding="utf-8").splitlines()
    header, pairs = lines[0], lines[1:]
    rows = [f"{a}{i}号楼\t{b}" for i in range(40) for a, b in (p.split("\t")[:2] for p in pairs)]
    rows[5] = "\t杭州市西湖区文三路369号"  # an empty address: an error row, kept in place
    source = tmp_path / "big.tsv"
    source.write_text("\n".join(["a\tb", *rows]) + "\n", encoding="utf-8")
    assert header.startswith("a\tb") and len(rows) > 4 * 256
    outs = []
    for workers in ("1", "2", "0"):  # 0: one per usable CPU, as parse --file and link read it
        out = tmp_path / f"w{workers}.tsv"
        cmd = [sys.executable, "-m", "geoalign", "score", str(source), "-o", str(out), "--no-progress"]
        cmd += ["--scorer", "structured", "--workers", workers, "--batch-size", str(len(rows))]
        proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", check=False)
        assert proc.returncode == 0, proc.stderr
        processes = {"1": 1, "2": 2, "0": usable_cpus()}[workers]
        said = f"{processes} worker processes" if processes > 1 else "worker processes"
        assert (said in proc.stderr) == (processes > 1), proc.stderr
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[1] == outs[0] == outs[2]
    written = outs[0].splitlines()
    assert len(written) == len(rows) + 1
    assert '"code": "empty"' in written[6] and '"code"' not in written[5] + written[7]
    assert written[7].startswith(rows[6].split("\t")[0])


def test_score_without_workers_uses_every_cpu_for_a_big_file_only(tmp_path):
    """Left out, --workers is one per usable CPU from AUTO_WORKERS_MIN_BYTES of input up (a worker's
    model start-up pays back from a few thousand rows), one below; the output is the same bytes."""
    from geoalign.cli.score import AUTO_WORKERS_MIN_BYTES

    lines = EXAMPLES.read_text(encoding="utf-8").splitlines()
    pairs = [p.split("\t")[:2] for p in lines[1:]]
    note = "备注" * 100  # a wide third column: a big file of few rows
    rows = [f"{a}\t{b}\t{note}" for a, b in pairs]
    small, big = tmp_path / "small.tsv", tmp_path / "big.tsv"
    small.write_text("\n".join(["a\tb\tnote", *rows]) + "\n", encoding="utf-8")
    copies = AUTO_WORKERS_MIN_BYTES // small.stat().st_size + 1
    big.write_text("\n".join(["a\tb\tnote", *rows * copies]) + "\n", encoding="utf-8")
    assert small.stat().st_size < AUTO_WORKERS_MIN_BYTES <= big.stat().st_size
    said = {}
    for source in (small, big):
        out = tmp_path / f"{source.stem}-out.tsv"
        cmd = [sys.executable, "-m", "geoalign", "score", str(source), "-o", str(out), "--no-progress"]
        proc = subprocess.run([*cmd, "--scorer", "structured"], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        said[source.stem] = proc.stderr
        assert len(out.read_text(encoding="utf-8").splitlines()) == len(source.read_text().splitlines())
    assert "worker processes" not in said["small"]
    cpus = usable_cpus()
    assert (f"{cpus} worker processes" in said["big"]) == (cpus > 1), said["big"]
    big_out = (tmp_path / "big-out.tsv").read_text(encoding="utf-8").splitlines()
    small_out = (tmp_path / "small-out.tsv").read_text(encoding="utf-8").splitlines()
    assert big_out[1 : len(rows) + 1] == small_out[1:]


def test_score_with_workers_reports_a_bad_model_as_one_worker_does(tmp_path):
    """With --workers the parent builds no scorer: a worker's failed build must still be the same clear
    error (exit 2 and the message), not a broken pool."""
    answers = []
    for workers in ("1", "2"):
        cmd = [sys.executable, "-m", "geoalign", "score", str(EXAMPLES), "-o", str(tmp_path / "o.tsv")]
        cmd += ["--no-progress", "--scorer", "structured", "--model", str(tmp_path), "--workers", workers]
        proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", check=False)
        answers.append((proc.returncode, proc.stderr.strip().splitlines()[-1]))
    assert answers[0] == answers[1]
    assert answers[0][0] != 0 and "not a structured model directory" in answers[0][1]


def test_score_scores_a_long_address_on_its_first_max_chars_and_says_so(tmp_path, model_dir, capsys):
    """One length policy (17.5): ``--max-chars N`` cuts, never refuses or drops; the output has no
    explanation column, so the run's summary counts the cut addresses."""
    long = A + "东部软件园" * 10
    src, out = tmp_path / "in.tsv", tmp_path / "out.tsv"
    src.write_text(f"a\tb\n{long}\t{B}\n{long[:30]}\t{B}\n{A}\t{B}\n", encoding="utf-8")
    argv = ["score", str(src), "-o", str(out), "--model", str(model_dir), "--max-chars", "30"]
    argv.append("--no-progress")
    assert main(argv) == 0
    rows = [r.values for r in read_table(out, header=True).rows]
    assert len(rows) == 3 and all(r[6] == "" for r in rows)
    assert rows[0][2:] == rows[1][2:]  # the long one was scored on its first 30 characters
    err = capsys.readouterr().err
    assert "1 addresses longer than --max-chars 30 were scored on their first 30 characters" in err
