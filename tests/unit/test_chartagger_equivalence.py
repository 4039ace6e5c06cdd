"""The fast tagger paths held equal, bit for bit, to the frozen implementation from before the speed work
(``tests/parser_reference.py``), RapidFuzz style: the shipped model, a few hundred invented addresses
(``tests/parser_addresses.py``; no research data), every domain, batched and one address at a time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.parser_addresses import invented_addresses
from tests.parser_reference import (
    reference_emissions,
    reference_featurize,
    reference_spans_many,
    reference_viterbi_batch,
)

from geoalign.address.chartagger import (
    DOMAINS,
    FastTagger,
    TagModel,
    featurize,
    load_model,
    viterbi_batch,
)
from geoalign.address.parse import DEFAULT_MODEL_DIR


@pytest.fixture(scope="module")
def model() -> TagModel:
    return load_model(DEFAULT_MODEL_DIR / "tagger.npz")


@pytest.fixture(scope="module")
def addresses() -> list[str]:
    return invented_addresses(300, seed=7)


def _chunks(texts: list[str], size: int) -> list[list[str]]:
    return [texts[lo : lo + size] for lo in range(0, len(texts), size)]


@pytest.mark.parametrize("domain", DOMAINS)
def test_shipped_tagger_spans_equal_the_reference(model: TagModel, addresses: list[str], domain: str) -> None:
    tagger = FastTagger(model, domain)
    assert tagger.spans_many(addresses) == reference_spans_many(model, domain, addresses)


@pytest.mark.parametrize("size", [300, 64, 7, 2])
def test_features_and_emissions_equal_the_reference(model: TagModel, addresses: list[str], size: int) -> None:
    for chunk in _chunks(addresses, size):
        fast = featurize(chunk, 2, model.bits, model.lexicon)
        ref = reference_featurize(chunk, 2, model.bits, model.lexicon)
        assert np.array_equal(fast.ids, ref.ids)
        assert np.array_equal(fast.starts, ref.starts)
        assert np.array_equal(fast.raw_index, ref.raw_index)
        # the same float32 sums in the same order: equal bit patterns, not merely equal values
        em = model.emissions(fast.ids)
        assert np.array_equal(em.view(np.int32), reference_emissions(model, ref.ids).view(np.int32))


@pytest.mark.parametrize("domain", DOMAINS)
def test_one_address_per_call_equals_the_reference(
    model: TagModel, addresses: list[str], domain: str
) -> None:
    """The single-address path (the HTTP service, ``analyze``) takes its own shortcuts."""
    tagger = FastTagger(model, domain)
    for text in addresses[:60]:
        assert tagger.spans_many([text]) == reference_spans_many(model, domain, [text])


lengths = st.lists(st.integers(min_value=0, max_value=70), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lengths=lengths, seed=st.integers(0, 2**32 - 1), coarse=st.booleans())
def test_viterbi_equals_the_reference_on_the_shipped_labels(
    model: TagModel, lengths: list[int], seed: int, coarse: bool
) -> None:
    """Random emissions over the shipped model's 49 labels and transitions; coarse values make ties
    frequent (both must break them alike). Batches of many lengths reach every step size the fast
    Viterbi distinguishes (many addresses still active, a few long ones left)."""
    rng = np.random.default_rng(seed)
    n = len(model.labels)
    size = (sum(lengths), n)
    em = (rng.integers(-3, 4, size=size) / 2) if coarse else rng.normal(scale=6, size=size)
    em = em.astype(np.float32)
    trans = (rng.integers(-3, 4, size=(n, n)) / 2).astype(np.float32) if coarse else model.transitions
    allowed, first = model.allowed()
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    fast = viterbi_batch(em, starts, trans, allowed, first)
    assert np.array_equal(fast, reference_viterbi_batch(em, starts, trans, allowed, first))


def test_gazetteer_ancestors_equal_a_walk_up_the_parents() -> None:
    """``resolve`` asks the cached ancestor sets what it used to walk the parent chain for."""
    from geoalign.address import gazetteer

    data = gazetteer._data()
    for code in sorted(data.by_code)[::97]:
        walked, parent = set(), data.by_code[code].parent_code
        while parent:
            walked.add(parent)
            parent = data.by_code[parent].parent_code
        assert data.ancestors(code) == walked


# ---------------------------------------------------------------------------------------------------
# After tagging (second speed round): gazetteer alignment, component rows, the CLI's JSON lines


def _resolve_inputs(addresses: list[str]) -> list[str]:
    """The invented addresses, their admin-free tails, prose around them and a few hard cases: short
    names before a road (北京路), names inside prose, separators, renamed divisions, ambiguous names."""
    extra = [
        "北京路12号", "朝阳区建国路", "吉林船营区", "吉林", "襄樊市樊城区", "江干区",
        "我家的地址是江苏淮安清江浦区", "广东省,深圳市 南山区", "浙江-杭州-西湖区文三路", "青海西宁",
        "海西州德令哈市", "北京朝阳", "北京朝阳市",
        "建安楼", "城区", "上海上海市浦东新区", "广州白云", "昆明官渡区", "地址：四川成都武侯区", "",
        "余杭区余杭区青禾路", "杭州市拱墅区 拱墅区", "兰州市兰州新区", "北京市北京", "杭州市江干区江干区",
        "襄樊市襄樊市樊城区", "杭州市江干区上城区", "郑州市管城区",
    ]  # fmt: skip
    tails = [text[len(text) // 3 :] for text in addresses[:100]]
    return [*addresses, *tails, *extra, *("收货人" + text for text in addresses[:30])]


def test_resolve_equals_the_reference(addresses: list[str]) -> None:
    """``resolve`` (fewer dictionary reads per name tried, answers shared between equal admin prefixes)
    answers exactly what the frozen version did, with and without ``anywhere``, twice (cold and from
    the shared answers)."""
    from tests.gazetteer_reference import reference_resolve

    from geoalign.address import gazetteer

    gazetteer._FINISHED.clear()
    for _ in range(2):
        for text in _resolve_inputs(addresses):
            for anywhere in (False, True):
                assert gazetteer.resolve(text, anywhere=anywhere) == reference_resolve(
                    text, anywhere=anywhere
                )


def test_resolve_shared_answers_are_bounded(monkeypatch: pytest.MonkeyPatch, addresses: list[str]) -> None:
    from tests.gazetteer_reference import reference_resolve

    from geoalign.address import gazetteer

    monkeypatch.setattr(gazetteer, "_FINISHED_MAX", 5)
    gazetteer._FINISHED.clear()
    for text in addresses[:80]:
        assert gazetteer.resolve(text, anywhere=True) == reference_resolve(text, anywhere=True)
        assert len(gazetteer._FINISHED) <= 5


def test_gazetteer_indexes_equal_a_plain_build() -> None:
    """The start-up build of the gazetteer's indexes (collector paused, lists appended in place, lengths
    from sorted pairs) gives the same dictionaries, in the same order, as the plain loop it replaced."""
    from geoalign.address import gazetteer

    data = gazetteer._data()
    full: dict[str, list[str]] = {}
    short: dict[str, list[str]] = {}
    for code, d in data.by_code.items():
        full.setdefault(d.name, []).append(code)
        for alias in gazetteer._aliases(d.name, d.short_name):
            full.setdefault(alias, []).append(code)
        if d.short_name != d.name:
            short.setdefault(d.short_name, []).append(code)
        for extra in gazetteer._EXTRA_SHORT.get(d.name, ()):
            short.setdefault(extra, []).append(code)
            for alias in gazetteer._aliases(d.name, extra):
                full.setdefault(alias, []).append(code)
        for alias in gazetteer._EXTRA_FULL.get(code, ()):
            full.setdefault(alias, []).append(code)
        if d.level == "town" and d.name.endswith("街道"):
            for alias in gazetteer._street_office_names(d.name, d.short_name):
                full.setdefault(alias, []).append(code)
        assert d.short_name == gazetteer.short_name(d.name, d.level)
    assert list(data.full.items()) == list(full.items())
    assert list(data.short.items()) == list(short.items())
    lengths: dict[str, set[int]] = {}
    for n in (*full, *short, *data.old):
        lengths.setdefault(n[:2], set()).add(len(n))
    assert data.lengths == {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()}


def _parse_inputs(addresses: list[str]) -> list[object]:
    return [*addresses, None, 12, "   ", "，。！", "13812345678", "ＡＢＣ大厦Ｂ座１２０１室", "三号楼二单元"]


def test_rows_equal_components(addresses: list[str]) -> None:
    """``parse_many_rows`` (what ``geoalign parse --file`` writes from) holds the fields of
    ``parse_many``'s Components, ItemErrors in the same slots; both equal ``parse`` one by one."""
    from geoalign.address.parse import Parser
    from geoalign.types import Component, Components, ItemError

    parser = Parser()
    inputs = _parse_inputs(addresses)
    rows = parser.parse_many_rows(inputs)
    many = parser.parse_many(inputs)
    assert len(rows) == len(many) == len(inputs)
    for text, row, comp in zip(inputs, rows, many, strict=True):
        if isinstance(comp, ItemError):
            assert row == comp
            continue
        assert isinstance(row, tuple)
        raw, normalized, items = row
        assert comp == Components(raw, normalized, tuple(Component(*item) for item in items))
        assert comp == parser.parse(text)  # type: ignore[arg-type]


def test_component_values_are_remembered_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A component's value comes from a bounded memo: the same as computing it, whatever the element."""
    from geoalign.address import parse as parse_module
    from geoalign.address.normalize import width

    monkeypatch.setattr(parse_module, "_VALUES_MAX", 3)
    parse_module._VALUES.clear()
    pieces = ["三号楼", "969号", "Ｂ座", "0501室", "顶楼", "文三路", "ＡＢＣ大厦", "三号楼", "11F", "B1层"]
    for _ in range(2):
        for piece in pieces:
            for name in ("houseno", "poi", "roomno", "road", "floorno"):
                expected = (
                    parse_module.floor_value(piece)
                    if name == "floorno"
                    else parse_module.numeric_value(piece)
                    if name in parse_module.NUMERIC_ELEMENTS
                    else width(piece)
                )
                assert parse_module._value(name, piece) == expected
                assert len(parse_module._VALUES) <= 3


def test_cli_json_lines_equal_json_dumps(addresses: list[str]) -> None:
    """The CLI writes each line from rows directly; character for character what json.dumps wrote
    from ``Components.to_dict`` (quotes, backslashes, control characters, non-BMP text included)."""
    import json

    from geoalign.address.parse import Parser
    from geoalign.cli.parse import components_json
    from geoalign.types import ItemError

    odd = ['路"1"号', "路\\2号", "路\u00033号", "𠀀路4号", "大厦\u2028五楼", "Ｔ１栋"]
    parser = Parser()
    inputs = [*addresses, *odd, *_parse_inputs(addresses)[len(addresses) :]]
    for row, comp in zip(parser.parse_many_rows(inputs), parser.parse_many(inputs), strict=True):
        if isinstance(comp, ItemError):
            continue
        assert isinstance(row, tuple)
        assert components_json(*row) == json.dumps(comp.to_dict(), ensure_ascii=False) + "\n"
    rows = [("poi", 'a"b\\c\x01\u2028𠀀', 0, 7, "v\n")]
    expected = {
        "raw": "x\ty",
        "normalized": "",
        "components": [dict(zip(("name", "text", "start", "end", "value"), rows[0], strict=True))],
    }
    assert components_json("x\ty", "", rows) == json.dumps(expected, ensure_ascii=False) + "\n"
