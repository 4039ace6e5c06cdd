"""The top-level vocabulary, used as a new user would: ``import geoalign`` and nothing else."""

from __future__ import annotations

import pydoc
import subprocess
import sys

import pytest

import geoalign
from geoalign.scorers.registry import BUILDERS

PUBLIC = {
    "LABELS", "Match", "ItemError", "AddressPair", "normalize", "parse", "Matcher", "match", "ScorerSpec",
    "GeoalignError", "InputError", "DataFormatError", "ModelLoadError", "MissingExtraError", "__version__",
}  # fmt: skip


def test_dir_and_all_list_the_public_vocabulary() -> None:
    assert set(geoalign.__all__) == PUBLIC
    assert set(dir(geoalign)) >= PUBLIC
    for name in PUBLIC:
        assert getattr(geoalign, name) is not None
    with pytest.raises(AttributeError, match="module 'geoalign' has no attribute 'nope'"):
        geoalign.nope  # noqa: B018


def test_the_names_are_the_real_ones() -> None:
    from geoalign.address.normalize import normalize
    from geoalign.address.parse import parse
    from geoalign.api import Matcher
    from geoalign.errors import GeoalignError, InputError
    from geoalign.types import LABELS, ItemError, Match

    assert geoalign.Matcher is Matcher and geoalign.normalize is normalize and geoalign.parse is parse
    assert geoalign.Match is Match and geoalign.ItemError is ItemError
    assert geoalign.LABELS == LABELS == ("exact_match", "partial_match", "not_match")
    assert issubclass(geoalign.InputError, geoalign.GeoalignError) and geoalign.InputError is InputError
    assert geoalign.GeoalignError is GeoalignError


def test_import_geoalign_stays_light() -> None:
    code = (
        "import sys, geoalign\n"
        "print(sorted(m for m in ('numpy', 'lightgbm', 'torch', 'onnxruntime', 'geoalign.api',"
        " 'geoalign.address.parse') if m in sys.modules))\n"
        "geoalign.LABELS, geoalign.InputError, geoalign.AddressPair\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_user_session() -> None:
    pair = geoalign.AddressPair("浙江省杭州市西湖区文三路369号", "杭州市文三路369号")
    result = geoalign.match(pair.a, pair.b)
    assert isinstance(result, geoalign.Match) and result.label in geoalign.LABELS
    assert geoalign.normalize(" 浙江省杭州市西湖区文三路３６９号 ") == geoalign.normalize(
        "浙江省杭州市西湖区文三路369号"
    )
    assert geoalign.parse("杭州市西湖区文三路369号").get("roadno") is not None
    with pytest.raises(geoalign.InputError):
        geoalign.normalize("")
    results = geoalign.Matcher().score([pair, (None, "文三路")])
    assert isinstance(results[0], geoalign.Match) and isinstance(results[1], geoalign.ItemError)


def test_help_names_the_scorers_options_and_directory_detection() -> None:
    text = pydoc.render_doc(geoalign.Matcher, renderer=pydoc.plaintext)
    for name in BUILDERS:
        assert f"``{name}``" in text
    for option in ("device", "provider", "variant", "threads", "max_tokens", "max_batch", "explain", "rules"):
        assert f"``{option}``" in text
    assert "Matcher(model=DIR)" in text and "export manifest" in text and "ModelScope" in text


def test_repr_says_which_scorer_and_model() -> None:
    matcher = geoalign.Matcher()
    assert repr(matcher) == (
        f"Matcher(scorer='cascade', model='shipped', model_id={matcher.model_id!r}, batch_size=2048)"
    )
