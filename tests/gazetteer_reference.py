"""``geoalign.address.gazetteer.resolve`` as it was before the second parser speed round (commit 9d05547):
the reference the fast ``resolve`` is held equal to (``tests/unit/test_chartagger_equivalence.py``).

Frozen on purpose: a copy of the straightforward version (three dictionary reads and a copied code list
per name tried, a walk of the parent chain per path, a fresh ``Span`` and ``Resolution`` per address).
Only the data (``gazetteer._data()``) and the result types are taken from the module under test.
Behaviour changed since, mirrored here the plain way: a repeat of the last name written in full closes
the prefix (``Resolution.repeat_end``: 余杭区余杭区滨河路), and a former name repeated as written is a
repeat too (江干区江干区; session 34).
"""

from __future__ import annotations

from dataclasses import replace

from geoalign.address.gazetteer import (
    _NOT_A_DIVISION_AFTER_SHORT,
    _SEPARATORS,
    _SHORT_LEVELS_AT_START,
    _SHORT_LEVELS_IN_CONTEXT,
    LEVELS,
    Division,
    Level,
    Resolution,
    Span,
    _Data,
    _data,
    _Match,
)


def _path(data: _Data, code: str) -> tuple[Division, ...]:
    out = []
    while code:
        division = data.by_code[code]
        out.append(division)
        code = division.parent_code
    return tuple(reversed(out))


def _ancestors(data: _Data, code: str) -> set[str]:
    return {d.code for d in _path(data, code)[:-1]}


def reference_candidates_at(data: _Data, text: str, pos: int, context: list[str]) -> _Match | None:
    """Longest admin name starting exactly at ``pos`` that continues the hierarchy in ``context``.

    Matching only at the current position (never inside a word) is what keeps 青海西宁 from being read
    as 海西州: after 青海 the next name must start at 西.
    """
    room = len(text) - pos
    for length in data.lengths.get(text[pos : pos + 2], ()):
        if length > room:
            continue
        piece = text[pos : pos + length]
        after = text[pos + length : pos + length + 4]
        codes: list[str] = list(data.full.get(piece, ()))
        short_codes = data.short.get(piece, ())
        if short_codes and not _NOT_A_DIVISION_AFTER_SHORT.match(after):
            # Province and city short names are distinctive (山东, 广州); a county-level short name at
            # the very start is as often a POI (建安楼, 安定门, 桃源居, 凤凰庄), so it counts only after
            # an ancestor has been matched (广州白云, 昆明官渡区).
            allowed = _SHORT_LEVELS_IN_CONTEXT if context else _SHORT_LEVELS_AT_START
            codes += [c for c in short_codes if data.by_code[c].level in allowed]
        codes = reference_continuing(data, codes, context)
        if codes:
            if piece in data.full and piece in data.old and piece not in data.old_is_short:
                codes += reference_continuing(data, list(data.old[piece]), context)  # read both ways
            return _Match(pos, pos + length, list(dict.fromkeys(codes)), old=False)
        old_codes = data.old.get(piece, ())
        if old_codes and (piece not in data.old_is_short or not _NOT_A_DIVISION_AFTER_SHORT.match(after)):
            old_codes = reference_continuing(data, list(old_codes), context)
            if old_codes:
                return _Match(pos, pos + length, list(dict.fromkeys(old_codes)), old=True)
    return None


def reference_continuing(data: _Data, codes: list[str], context: list[str]) -> list[str]:
    if not context:
        return codes
    return [c for c in codes if not _ancestors(data, c).isdisjoint(context)]


def reference_skip_separators(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SEPARATORS:
        pos += 1
    return pos


def reference_resolve(text: str, *, anywhere: bool = False) -> Resolution:
    """Find the admin names an address starts with and complete the hierarchy.

    With ``anywhere``, an address inside prose is found too (我家的地址是江苏淮安清江浦区...): when
    nothing matches at the start, the first later position where a chain of at least two admin names
    begins is used (one name alone in running text is too often an ordinary word to trust).

    Names are matched left to right, each starting where the previous one ended (separators skipped),
    longest first, and each must lie under the previous one (any number of levels down: 北京望京街道 is
    fine). A name that fits nowhere under the previous one ends the prefix. When a name has several
    readings they are all kept and narrowed by what follows (吉林 + 船营区 → 吉林市); what remains at
    the end is the answer, ambiguous if more than one (朝阳区 alone: 北京 or 长春).
    """
    data = _data()
    matches, repeat_end = reference_chain(data, text, reference_skip_separators(text, 0))
    if not matches and anywhere:
        for start in range(1, len(text) - 1):
            if text[start : start + 2] in data.lengths:
                matches, repeat_end = reference_chain(data, text, start)
                if len(matches) >= 2:
                    break
                matches = []
    if not matches:
        return Resolution()
    found = reference_finish(data, text, matches)
    return replace(found, repeat_end=repeat_end) if repeat_end > found.end else found


def reference_chain(data: _Data, text: str, pos: int) -> tuple[list[_Match], int]:
    """Admin names matched left to right from ``pos``, each under the previous one, and the end of a
    repeat written in full that closes them (0 if none)."""
    matches: list[_Match] = []
    context: list[str] = []
    repeat_end = 0
    while pos < len(text):
        match = reference_candidates_at(data, text, pos, context)
        if match is None:
            # the division just matched, named again (上海市上海市浦东新区): skipped, the chain goes on
            again = reference_candidates_at(data, text, pos, []) if matches else None
            if again is None or not set(again.codes) & set(matches[-1].codes):
                break
            last = matches[-1]
            if (again.old or last.old) and text[again.start : again.end] != text[last.start : last.end]:
                break
            written = text[again.start : again.end]
            full = (again.old and written not in data.old_is_short) or any(
                data.by_code[c].name == written for c in again.codes
            )
            repeat_end = again.end if full else 0
            pos = reference_skip_separators(text, again.end)
            continue
        matches.append(match)
        context = match.codes
        repeat_end = 0
        pos = reference_skip_separators(text, match.end)
    return matches, repeat_end


def reference_finish(data: _Data, text: str, matches: list[_Match]) -> Resolution:
    final = matches[-1].codes
    # 吉林 alone reads as 吉林省 or 吉林市; the city lies under the province, so the province is the answer.
    if len(final) > 1:
        final = [c for c in final if not any(other in _ancestors(data, c) for other in final if other != c)]
    paths = [_path(data, c) for c in final]
    on_paths = {d.code for p in paths for d in p}
    spans = []
    renames: list[tuple[str, Division]] = []
    for m in matches:
        kept = [c for c in m.codes if c in on_paths]
        levels = {data.by_code[c].level for c in kept}
        piece = text[m.start : m.end]
        spans.append(
            Span(
                m.start,
                m.end,
                piece,
                next(iter(levels)) if len(levels) == 1 else None,
                kept[0] if len(kept) == 1 else None,
                m.old,
            )
        )
        if m.old:
            renames.extend((piece, data.by_code[c]) for c in kept)
    by_level: dict[Level, str | None] = {level: None for level in LEVELS}
    if len(paths) == 1:
        by_level.update((d.level, d.name) for d in paths[0])
    else:  # a level is filled only where every remaining reading agrees on its name
        for level in LEVELS:
            names = {next((d.name for d in p if d.level == level), None) for p in paths}
            by_level[level] = names.pop() if len(names) == 1 else None
    return Resolution(
        spans=tuple(spans),
        prov=by_level["prov"],
        city=by_level["city"],
        district=by_level["district"],
        town=by_level["town"],
        code=final[0] if len(final) == 1 else None,
        ambiguous=len(final) > 1,
        candidates=tuple(paths) if len(final) > 1 else (),
        renamed=tuple(renames),
    )
