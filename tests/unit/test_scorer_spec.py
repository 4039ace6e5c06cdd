"""``ScorerSpec``: one declaration of the scorer options, read back the same by every command, picklable,
and building the scorer the directory calls for (the Python API behaves like the CLI)."""

from __future__ import annotations

import argparse
import importlib
import pickle
import shutil
from pathlib import Path

import pytest
from tests.servers import require_module

from geoalign.api import Matcher
from geoalign.cli.main import SUBCOMMANDS
from geoalign.errors import InputError
from geoalign.scorers import registry
from geoalign.scorers.spec import SCORING_FIELDS, TABLE_FIELDS, ScorerSpec
from geoalign.scorers.structured import DEFAULT_MODEL_DIR, StructuredScorer

A, B = "杭州市西湖区文三路369号", "西湖区文三路369号"


def _parse(command: str, argv: list[str]) -> argparse.Namespace:
    module = importlib.import_module(SUBCOMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=f"geoalign {command}")
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_spec_pickles_and_equal_specs_compare_equal() -> None:
    spec = ScorerSpec(
        scorer="onnx", model=Path("/m"), provider="cpu", variant="int8", threads=2, max_batch=8, rules=False
    )
    assert spec.model == "/m"  # paths travel as text
    back = pickle.loads(pickle.dumps(spec))
    assert back == spec and back is not spec
    # a pool or a Ray actor gets the bound ``build`` as its factory
    factory = pickle.loads(pickle.dumps(ScorerSpec(scorer="structured", explain=False, rules=False).build))
    scorer = factory()
    assert isinstance(scorer, StructuredScorer) and scorer.explain is False


def test_spec_is_frozen() -> None:
    with pytest.raises(AttributeError):
        ScorerSpec().model = "x"  # type: ignore[misc]


@pytest.mark.parametrize("command", ["match", "score", "eval", "serve", "profile"])
def test_from_args_reads_the_same_options_in_every_scoring_command(command: str) -> None:
    positional = {
        "match": [A, B],
        "score": ["in.tsv", "-o", "out.tsv"],
        "eval": ["--pairs", "p.tsv"],
        "serve": [],
        "profile": ["--pairs", "p.tsv"],
    }[command]
    options = [
        "--scorer", "onnx", "--model", "/m", "--device", "cuda:1", "--provider", "cuda", "--variant", "fp16",
        "--threads", "3", "--max-tokens", "4096", "--max-batch", "16", "--no-rules",
        "--max-chars", "100", "--parse-cache", "5",
    ]  # fmt: skip
    spec = ScorerSpec.from_args(_parse(command, [*positional, *options]))
    assert spec == ScorerSpec(
        scorer="onnx",
        model="/m",
        device="cuda:1",
        provider="cuda",
        variant="fp16",
        threads=3,
        max_tokens=4096,
        max_batch=16,
        rules=False,
        max_chars=100,
        parse_cache=5,
    )
    defaults = ScorerSpec.from_args(_parse(command, positional))
    assert defaults == ScorerSpec()


def test_serve_max_chars_is_the_scorer_option_and_the_server_limit() -> None:
    """One length limit (17.5): ``serve --max-chars`` configures the scorer, and HTTP reports it."""
    from geoalign.cli.serve import build_settings

    args = _parse("serve", ["--max-chars", "100"])
    assert ScorerSpec.from_args(args).max_chars == 100 and build_settings(args).max_chars == 100


@pytest.mark.parametrize("command", ["link", "dedupe"])
def test_table_commands_read_the_cascade_options(command: str) -> None:
    positional = ["l.csv", "r.csv", "--left-col", "a", "--right-col", "a"] if command == "link" else ["t.csv"]
    if command == "dedupe":
        positional += ["--col", "a"]
    args = _parse(
        command,
        [*positional, "--model", "/m", "--cascade-threshold", "0.8", "--structured-model", "/s",
         "--device", "cpu", "--rules", "admin_road", "--no-rules", "--parse-cache", "7"],
    )  # fmt: skip
    assert args.rules == "admin_road"  # blocking rules keep their option
    spec = ScorerSpec.for_tables(args)
    assert spec == ScorerSpec(
        scorer="cascade",
        model="/m",
        device="cpu",
        structured_model="/s",
        cascade_threshold=0.8,
        rules=False,
        parse_cache=7,
    )
    assert ScorerSpec.for_tables(_parse(command, positional)).rules is True


@pytest.mark.parametrize("command", ["link", "dedupe"])
def test_table_commands_judge_as_the_python_api_does(command: str) -> None:
    # the default judge (the shipped neural stage at the band its stack was fitted for), and the
    # embedded matcher alone with --judge structured: the CLI builds what default_scorer builds
    from geoalign.link.settings import default_scorer

    positional = ["l.csv", "r.csv", "--left-col", "a", "--right-col", "a"] if command == "link" else ["t.csv"]
    if command == "dedupe":
        positional += ["--col", "a"]
    by_default = ScorerSpec.for_tables(_parse(command, positional))
    assert by_default == ScorerSpec(scorer="cascade")
    assert by_default.cascade_threshold is None  # the stack's own threshold, not a CLI constant
    built = by_default.build()
    assert built.model_id == default_scorer().model_id
    assert "stack@0.85" in built.model_id
    fast = ScorerSpec.for_tables(_parse(command, [*positional, "--judge", "structured"]))
    assert fast == ScorerSpec(scorer="cascade", cascade_without_model=True)
    assert fast.build().model_id == default_scorer(neural=False).model_id
    with pytest.raises(InputError):
        ScorerSpec.for_tables(_parse(command, [*positional, "--judge", "structured", "--model", "/m"]))
    with pytest.raises(InputError):
        default_scorer("/m", neural=False)


def test_verify_mgeo_declares_only_model_and_device() -> None:
    args = _parse("verify-mgeo", ["/ckpt", "--device", "cpu"])
    spec = ScorerSpec.from_args(args, scorer="torch", variant="fp32", rules=False)
    assert spec == ScorerSpec(scorer="torch", model="/ckpt", device="cpu", variant="fp32", rules=False)
    with pytest.raises(SystemExit):
        _parse("verify-mgeo", ["/ckpt", "--provider", "cpu"])


def test_scorer_choices_come_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    ScorerSpec.add_arguments(parser)
    action = next(a for a in parser._actions if a.dest == "scorer")
    assert tuple(action.choices or ()) == tuple(registry.BUILDERS)
    assert set(SCORING_FIELDS) - set(TABLE_FIELDS) == {"scorer"}


def test_options_are_checked_against_the_scorer() -> None:
    with pytest.raises(InputError, match="--provider does not apply to the 'structured' scorer"):
        ScorerSpec(scorer="structured", provider="cpu").build()
    with pytest.raises(InputError, match="--device, --threads does not apply to the 'structured' scorer"):
        ScorerSpec(scorer="structured", device="cpu", threads=2).build()
    with pytest.raises(InputError, match="--provider does not apply to the 'torch' scorer"):
        ScorerSpec(scorer="torch", provider="cpu").options_for("torch")
    with pytest.raises(InputError, match="--variant for torch is a dtype"):
        ScorerSpec(scorer="torch", variant="int8").options_for("torch")
    with pytest.raises(InputError, match="--threads must be a whole number >= 1, got 0"):
        ScorerSpec(threads=0)
    with pytest.raises(InputError, match=r"--cascade-threshold must be in \(0, 1\], got 1.5"):
        ScorerSpec(cascade_threshold=1.5)
    unknown = "unknown scorer 'nope'; choose one of structured, torch, onnx, cascade"
    with pytest.raises(InputError, match=unknown):
        ScorerSpec(scorer="nope").build()


def test_onnx_device_chooses_the_provider() -> None:
    spec = ScorerSpec(scorer="onnx", device="cuda:2", variant="fp16", threads=1)
    assert spec.options_for("onnx") == {"provider": "cuda", "device_id": 2, "variant": "fp16", "threads": 1}
    assert ScorerSpec(scorer="onnx", device="cpu").options_for("onnx") == {"provider": "cpu"}
    with pytest.raises(InputError, match="--device cuda contradicts --provider cpu"):
        ScorerSpec(scorer="onnx", device="cuda", provider="cpu").options_for("onnx")
    with pytest.raises(InputError, match="--device must be 'cpu' or 'cuda\\[:N\\]', got 'tpu'"):
        ScorerSpec(scorer="onnx", device="tpu").options_for("onnx")


def test_torch_options_map_variant_to_dtype() -> None:
    spec = ScorerSpec(scorer="torch", device="cpu", variant="bf16", compile=True, max_batch=4)
    assert spec.options_for("torch") == {"dtype": "bf16", "device": "cpu", "max_batch": 4, "compile": True}


def test_table_cascade_without_a_model_is_structured_plus_accounting(tmp_path: Path) -> None:
    scorer = ScorerSpec(scorer="cascade", cascade_without_model=True, cascade_threshold=0.7).build()
    assert scorer.name == "cascade" and scorer.neural is None and scorer.threshold == 0.7  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="--device configures the neural stage: give --model DIR too"):
        ScorerSpec(scorer="cascade", cascade_without_model=True, device="cpu").build()
    # asked for by name without --model, its neural stage is geoalign's shipped matcher (+ its stack)
    shipped = ScorerSpec(scorer="cascade", rules=False).build()
    assert shipped.neural.name == "onnx" and shipped.stack is not None  # type: ignore[attr-defined]
    assert shipped.threshold == shipped.stack.meta["threshold"]  # type: ignore[attr-defined]
    # the one length limit and the parse cache reach the structured stage (and the rule layer)
    table = ScorerSpec(scorer="cascade", cascade_without_model=True, max_chars=10, parse_cache=3).build()
    assert table.structured.featurizer.max_chars == 10 and table.max_chars == 10  # type: ignore[attr-defined]
    assert table.structured.featurizer.cache.size == 3  # type: ignore[attr-defined]
    shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "s")
    with pytest.raises(InputError, match="is a structured model; the cascade needs a neural one"):
        ScorerSpec(scorer="cascade", model=str(tmp_path / "s")).build()


def test_explain_off_reaches_the_structured_scorer() -> None:
    assert ScorerSpec(explain=False).build().explain is False  # type: ignore[attr-defined]
    assert ScorerSpec().build().explain is True  # type: ignore[attr-defined]


def test_rules_hook_wraps_only_when_the_rule_layer_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    from geoalign.scorers.rules import RuleScorer

    plain = ScorerSpec(scorer="structured", rules=False).build()
    assert isinstance(plain, StructuredScorer)
    wrapped = ScorerSpec().wrap(plain)
    assert isinstance(wrapped, RuleScorer) and wrapped.inner is plain
    assert ScorerSpec(rules=False).wrap(plain) is plain
    built = ScorerSpec(scorer="structured").build()
    assert isinstance(built, RuleScorer) and isinstance(built.inner, StructuredScorer)


# ------------------------------------------------------------------------------ the Python API


def test_matcher_model_dir_with_a_structured_model(tmp_path: Path) -> None:
    model = tmp_path / "my-structured"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    matcher = Matcher(model=model)
    assert matcher.scorer.name == "structured" and matcher.model_id == Matcher(scorer="structured").model_id
    assert repr(matcher) == (
        f"Matcher(scorer='structured', model={str(model)!r}, model_id={matcher.model_id!r}, batch_size=2048)"
    )
    assert repr(Matcher(batch_size=7)).startswith("Matcher(scorer='cascade', model='shipped', model_id=")


def test_matcher_missing_dir_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match=f"model directory {str(missing)!r} does not exist"):
        Matcher(model=missing)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="is a file; a model is a directory"):
        Matcher(model=tmp_path / "file")


def test_matcher_options_and_spec() -> None:
    with pytest.raises(InputError, match=r"unknown Matcher option\(s\) \['devic'\]"):
        Matcher(devic="cpu")
    spec = ScorerSpec(explain=False)
    matcher = Matcher(spec)
    # explanations off: no components; only the names of rules that fired, which also changed the label
    assert matcher.spec is spec and matcher.match(A, B).explanation == {"rules": ["admin_omitted"]}
    assert Matcher(ScorerSpec(explain=False, rules=False)).match(A, B).explanation is None
    with pytest.raises(InputError, match="give options inside the ScorerSpec"):
        Matcher(spec, threads=2)


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from tests.fixtures_mgeo import write_modelscope_dir

    return write_modelscope_dir(tmp_path_factory.mktemp("spec") / "mgeo")


@pytest.mark.torch
def test_matcher_model_dir_with_a_torch_checkpoint(checkpoint_dir: Path) -> None:
    matcher = Matcher(model=checkpoint_dir, device="cpu", variant="fp32", threads=1, rules=False)
    assert matcher.scorer.name == "torch" and matcher.model_id.startswith("sha256:")
    result = matcher.match(A, B)
    assert result.scorer == "torch" and sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InputError, match="--provider does not apply to the 'torch' scorer"):
        Matcher(model=checkpoint_dir, provider="cpu")
    stray = "--provider does not apply to the cascade's torch stage"
    with pytest.raises(InputError, match=stray):
        ScorerSpec(scorer="cascade", model=str(checkpoint_dir), provider="cpu").build()
    cascade = ScorerSpec(scorer="cascade", model=str(checkpoint_dir), variant="fp32", cascade_threshold=0.5)
    assert cascade.options_for("cascade") == {"dtype": "fp32", "threshold": 0.5}
    assert cascade.build().neural.name == "torch"  # type: ignore[attr-defined]


@pytest.mark.torch
def test_matcher_model_dir_with_an_onnx_export(checkpoint_dir: Path, tmp_path: Path) -> None:
    require_module("onnx", "export")
    require_module("onnxruntime", "onnx")
    from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint
    from geoalign.scorers.manifest import read_manifest

    out = tmp_path / "export"
    export_checkpoint(checkpoint_dir, out, ExportOptions(int8=True), echo=lambda line: None)
    matcher = Matcher(model=out, device="cpu", variant="fp32", rules=False)
    assert matcher.scorer.name == "onnx"
    assert matcher.model_id == read_manifest(out).variants["fp32"].model_id
    assert matcher.match(A, B).scorer == "onnx"
    assert registry.detect_backend(out) == "onnx" and registry.detect_backend(checkpoint_dir) == "torch"
    cascade = ScorerSpec(scorer="cascade", model=str(out), device="cpu", variant="fp32")
    assert cascade.options_for("cascade") == {"provider": "cpu", "variant": "fp32"}
    with pytest.raises(InputError, match="--compile does not apply to the cascade's onnx stage"):
        ScorerSpec(scorer="cascade", model=str(out), compile=True).build()


def test_serve_with_a_missing_model_dir_fails_before_binding(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    require_module("fastapi", "server")
    require_module("uvicorn", "server")
    from geoalign.cli.main import main

    missing = tmp_path / "nope"
    assert main(["serve", "--model", str(missing), "--device", "cpu", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"geoalign serve: error: model directory {str(missing)!r} does not exist" in err


def test_max_chars_and_parse_cache_reach_every_stage_that_uses_them() -> None:
    """17.5 / 17.17: one ``--max-chars`` for every scorer (both cascade stages and the rule layer), one
    ``--parse-cache`` for whatever parses; where nothing would use them they are refused."""
    shipped = ScorerSpec(scorer="cascade", max_chars=30, parse_cache=11).build()
    assert shipped.max_chars == 30  # type: ignore[attr-defined]  # the rule layer
    assert shipped.structured.featurizer.max_chars == 30  # type: ignore[attr-defined]
    assert shipped.structured.featurizer.cache.size == 11  # type: ignore[attr-defined]
    assert shipped.neural.max_chars == 30  # type: ignore[attr-defined]
    structured = ScorerSpec(scorer="structured", max_chars=12, parse_cache=0).build()
    assert structured.featurizer.max_chars == 12 and structured.featurizer.cache.size == 0  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="--parse-cache must be a whole number >= 0"):
        ScorerSpec(parse_cache=-1)
    with pytest.raises(InputError, match="--max-chars must be a whole number >= 1"):
        ScorerSpec(max_chars=0)
    with pytest.raises(InputError, match="--parse-cache does not apply to the 'onnx' scorer without"):
        ScorerSpec(scorer="onnx", model="/m", parse_cache=5, rules=False).options_for("onnx")
    assert "cache_size" not in ScorerSpec(scorer="onnx", parse_cache=5).options_for("onnx")


def test_every_command_judges_with_the_default_judge_by_default() -> None:
    # one default judge for the whole product (issue 14): a command-line default must not change it
    # (link's --cascade-threshold once overrode the band the shipped stack was fitted for)
    positional = {
        "match": ["a", "b"],
        "score": ["in.tsv", "-o", "out.tsv"],
        "eval": ["--pairs", "pairs.tsv"],
        "serve": [],
        "link": ["l.csv", "r.csv", "--left-col", "a", "--right-col", "a", "-o", "out.csv"],
        "dedupe": ["t.csv", "--col", "a", "-o", "out.csv"],
    }
    specs = {
        command: ScorerSpec.for_tables(args) if command in ("link", "dedupe") else ScorerSpec.from_args(args)
        for command, args in ((c, _parse(c, argv)) for c, argv in positional.items())
    }
    built: dict[ScorerSpec, str] = {}
    ids = {
        command: built.setdefault(spec, built.get(spec) or spec.build().model_id)
        for command, spec in specs.items()
    }
    assert set(ids.values()) == {Matcher().model_id}, ids
