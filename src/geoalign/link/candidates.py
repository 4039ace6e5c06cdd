"""Records, their blocking keys, candidate generation and the same-place decision for candidate pairs.

The pieces between a table row and a scored candidate pair, independent of files:

* ``Record`` — one table row: id, address, carried columns, and (after ``RecordAnalyzer``) its parsed
  view and blocking keys. The parse is ``address.analyze`` through the embedded matcher's view cache
  where the scorer has one (whose LRU the scorer then hits), so each distinct address is normalized and
  parsed once for blocking *and* scoring.
* ``SamePlaceJudge`` — scores candidate pairs in both directions and applies the contracts' "same place":
  exact_match a→b (probability >= threshold), then b→a for those only, not not_match both ways, and no
  conflict between the two records as ``geoalign.address.conflicts`` defines it (the rule layer's list:
  admin divisions, road name, and the hard numbers road number, building, unit, floor, room). Two
  records with the same normalized text are the same place without asking the model (the cascade's
  exact stage). CCKS-style exact_match alone is one-directional (a shop vs its road can be exact) and
  would chain a whole street into one cluster.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rapidfuzz import fuzz

from geoalign.address.analyze import TYPED_OF, AddressView, ViewCache
from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean
from geoalign.address.conflicts import HARD_NUMBERS, Conflict, conflicts
from geoalign.address.detail import detail_tokens
from geoalign.link.blocking import record_keys
from geoalign.link.cluster import CannotLink
from geoalign.types import LABELS, AddressPair, ItemError, Match, Result, Scorer

#: exact_match probability needed in *each* direction. Low on purpose: the embedded matcher is trained
#: on CCKS query -> POI relevance, where exact_match is rare and cautious (two writings of one address
#: often get 0.2-0.4); the hard-number check and the reverse direction carry the precision. Chosen on
#: the generated benchmark (docs/benchmarks.md, "Table alignment": precision 0.9999, recall 0.96 at 0.2).
SAME_PLACE_THRESHOLD: Final[float] = 0.2
_HARD: Final[frozenset[str]] = frozenset(HARD_NUMBERS)
#: The conflict rule of two road names merely far apart (``address.conflicts.road_conflict``).
WEAK_ROAD: Final[str] = "another_road_weak"


@dataclass(slots=True)
class Record:
    """One table row. ``error`` is set for a row that cannot take part (malformed, no address)."""

    id: str
    address: Any
    carry: list[Any] = field(default_factory=list)
    line: int = 0
    view: AddressView | None = None
    keys: list[tuple[str, str]] = field(default_factory=list)
    error: ItemError | None = None


#: What analyzing one record found, as a worker process sends it back: the cleaned address (None where
#: the record failed before parsing), its view, its blocking keys and its error.
Analysis = tuple[str | None, AddressView | None, list[tuple[str, str]], ItemError | None]


class RecordAnalyzer:
    """Clean + normalize + parse a record's address once and derive its blocking keys."""

    def __init__(self, featurizer: Any, rules: Sequence[str], *, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.featurizer = featurizer
        self.rules = tuple(rules)
        self.max_chars = max_chars

    def analyze(self, record: Record) -> Record:
        if record.error is not None:
            return record
        cleaned = self._clean(record)
        return record if cleaned is None else self._finish(record, cleaned)

    def analyze_many(self, records: Sequence[Record]) -> list[str | None]:
        """Analyze ``records`` in place, parsing their distinct uncached addresses in one batch first:
        the tagger's batched path costs about half as much per address as one address per call.
        Returns each record's cleaned address (None where the record has an error before parsing)."""
        cleaned = [None if record.error is not None else self._clean(record) for record in records]
        warm = getattr(self.featurizer, "warm", None)
        if warm is not None:
            warm([text for text in cleaned if text is not None])
        for record, text in zip(records, cleaned, strict=True):
            if text is not None:
                self._finish(record, text)
        return cleaned

    def analyze_block(self, records: Sequence[Record]) -> list[Analysis]:
        """``analyze_many`` in a worker process: what it found, for the parent to ``adopt``."""
        cleaned = self.analyze_many(records)
        return [(text, r.view, r.keys, r.error) for text, r in zip(cleaned, records, strict=True)]

    def adopt(self, records: Sequence[Record], analyses: Sequence[Analysis]) -> None:
        """Take a worker's ``analyze_block`` results for ``records``, and cache their views here as
        ``analyze_many`` would have: scoring in this process, and in processes forked from it later,
        then finds every one of these addresses parsed."""
        cache = getattr(self.featurizer, "cache", self.featurizer)  # a PairFeaturizer's, or a ViewCache
        for record, (text, view, keys, error) in zip(records, analyses, strict=True):
            if record.view is view and record.keys is keys:
                continue  # analyzed in this process (one worker, one block): already set and cached
            record.view, record.keys, record.error = view, keys, error
            if text is not None:  # parsed: a view, or the parse failure the cache keeps as an error
                parsed = view if view is not None else error
                if parsed is not None:
                    cache.put(text, parsed)

    def _clean(self, record: Record) -> str | None:
        """The cleaned address, or None with ``record.error`` set."""
        cleaned = clean(record.address, max_chars=self.max_chars)
        if isinstance(cleaned, ItemError):
            record.error = cleaned
            return None
        assert isinstance(cleaned, Cleaned)
        return cleaned.text

    def _finish(self, record: Record, text: str) -> Record:
        view = self.featurizer.view(text)
        if isinstance(view, ItemError):
            record.error = view
            return record
        record.view = view
        record.keys = record_keys(view, self.rules)
        return record


def featurizer_of(scorer: Scorer) -> Any:
    """Something with ``view(cleaned_text)``: the embedded matcher's featurizer inside ``scorer``
    (structured, cascade, either under the rule layer), so blocking reuses its parse cache; else a fresh
    ``address.analyze.ViewCache`` (blocking still needs a parse, not a scorer)."""
    inner = getattr(scorer, "inner", scorer)
    for candidate in (inner, getattr(inner, "structured", None)):
        featurizer = getattr(candidate, "featurizer", None)
        if featurizer is not None:
            return featurizer
    return ViewCache()


def hard_conflicts(match: Match) -> list[str]:
    """The hard-number components the explanation marks as conflicting (empty: none, or no explanation)."""
    comps = (match.explanation or {}).get("components") or ()
    return [c["name"] for c in comps if c.get("status") == "conflict" and c.get("name") in HARD_NUMBERS]


@dataclass(slots=True)
class Judged:
    """A scored candidate pair (query record q, candidate record c)."""

    q: int
    c: int
    forward: Result
    reverse: Result | None = None
    same_place: bool = False
    conflicts: list[str] = field(default_factory=list)
    identical: bool = False

    @property
    def p_forward(self) -> float:
        return self.forward.probabilities["exact_match"] if isinstance(self.forward, Match) else -1.0

    @property
    def p_reverse(self) -> float | None:
        if isinstance(self.reverse, Match):
            return self.reverse.probabilities["exact_match"]
        return None

    @property
    def score(self) -> float:
        """Both-direction exact probability where the reverse was scored, else the forward one; 1.0
        for identical normalized texts (decided by the exact stage)."""
        if self.identical:
            return 1.0
        reverse = self.p_reverse
        return self.p_forward if reverse is None else min(self.p_forward, reverse)

    @property
    def rank_score(self) -> float:
        """What orders a query's candidates: the forward (query -> record) exact probability, 1.0 for
        identical normalized texts. Not ``score``: the reverse direction is scored only for candidates
        that pass the forward threshold, and the smaller of the two punishes a record that says more
        than the query (a POI with its road and number for a query that names the POI)."""
        return 1.0 if self.identical else self.p_forward

    @property
    def rank(self) -> float:
        """The best candidate is the likeliest answer to the query, whether or not it is the same place
        (then the row says ``no_match`` and still shows it). Neither "same place" nor "no hard-number
        conflict" is a rank of its own: on the CCKS development queries both orders put a record
        that the model finds less likely first — lower top-1 *and* lower precision of the written
        links (validation fold, default judge: top-1 0.760 vs 0.749 same-place-first and 0.639 for
        the old order; written-link precision 0.865 vs 0.842; docs/linking.md, "Ranking"). Another
        flat of the same compound still never becomes a written link: it conflicts on the room, so
        it is never the same place."""
        return self.rank_score


@dataclass(slots=True)
class JudgeStats:
    forward_pairs: int = 0
    reverse_pairs: int = 0
    same_place: int = 0
    identical: int = 0
    skipped_hard_numbers: int = 0
    #: road/admin-conflicting pairs not scored (dedupe; or the query found a same-place candidate)
    skipped_conflicting: int = 0
    refused_by_hard_numbers: int = 0
    errors: int = 0
    #: pairs in the cascade's uncertain band whose neural answer could not change the decision (their
    #: exact_match probability is fixed or bounded by the rule layer), so the neural stage was skipped;
    #: the cascade's own counters then cover only the pairs sent through the whole cascade
    neural_not_needed: int = 0
    #: pairs the cheap stage answered outside the uncertain band (the structured stage sure of them:
    #: the whole cascade's answer, so it never saw them), and the cheap stage's seconds on every pair
    first_stage_decided: int = 0
    first_stage_s: float = 0.0
    forward_s: float = 0.0
    reverse_s: float = 0.0


class SamePlaceJudge:
    """Scores candidate pairs both ways in batches and applies the same-place rule (module docstring)."""

    def __init__(
        self, scorer: Scorer, *, threshold: float = SAME_PLACE_THRESHOLD, batch_size: int = 4096
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            from geoalign.errors import InputError

            raise InputError(f"threshold must be in (0, 1], got {threshold}")
        self.scorer = scorer
        self.threshold = threshold
        self.batch_size = max(1, batch_size)
        self.stats = JudgeStats()
        from geoalign.scorers.cascade import cheap_stage

        self.cheap_stage = cheap_stage(scorer)

    @staticmethod
    def _conflicts(a: Record, b: Record, match: Match) -> list[str]:
        """From the parsed views where there are views (see ``view_conflicts``; not road names merely
        far apart, on which the judge's rules do not act either), else from the scorer's explanation."""
        if a.view is not None and b.view is not None:
            return view_conflicts(a, b, weak=False)
        return hard_conflicts(match)

    def _prefilter(
        self,
        queries: Sequence[Record],
        candidates: Sequence[Record],
        pairs: Sequence[tuple[int, int]],
        *,
        weak_now: bool = False,
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(pairs to score now, pairs whose parses conflict only on a level the parse often misreads:
        road, admin). A hard-number conflict is certain enough to skip the pair; a query whose
        candidates all conflict on hard numbers keeps its nearest one (``_nearness``). With
        ``weak_now``, a pair whose only conflict is two road names far apart (``another_road_weak``:
        the judge's rule layer does not act on it, the model reads the names itself: 建国门外大街 /
        建外大街, 文三路与学院路 / 学院路与文三路) is scored now."""
        kept: list[tuple[int, int]] = []
        soft: list[tuple[int, int]] = []
        nearest_conflicting: dict[int, tuple[tuple[int, float, float], tuple[int, int]]] = {}
        has_other: set[int] = set()
        for q, c in pairs:
            found = view_conflicts(queries[q], candidates[c], weak=not weak_now)
            if not found:
                kept.append((q, c))
                has_other.add(q)
            elif _HARD.intersection(found):
                query, candidate = queries[q].view, candidates[c].view  # both parsed: a conflict was found
                if q not in has_other and query is not None and candidate is not None:
                    near = _nearness(query, candidate, found)
                    best = nearest_conflicting.get(q)
                    if best is None or near < best[0]:  # ties keep the better-blocked one
                        nearest_conflicting[q] = (near, (q, c))
                self.stats.skipped_hard_numbers += 1
            else:
                soft.append((q, c))
                has_other.add(q)
        for q, (_, pair) in nearest_conflicting.items():
            if q not in has_other:
                kept.append(pair)
                self.stats.skipped_hard_numbers -= 1
        return kept, soft

    def _score(self, pairs: list[AddressPair], scorer: Scorer | None = None) -> list[Result]:
        scorer = self.scorer if scorer is None else scorer
        out: list[Result] = []
        for start in range(0, len(pairs), self.batch_size):
            out.extend(scorer.score(pairs[start : start + self.batch_size]))
        return out

    def _staged(
        self,
        pairs: list[AddressPair],
        *,
        floors: bool,
        groups: Sequence[int] | None = None,
        blocked: frozenset[int] | set[int] = frozenset(),
    ) -> list[Result]:
        """``pairs`` scored as the whole scorer would, sending through its neural stage only the pairs
        whose neural answer could change what the caller decides from the exact_match probability.

        The cheap stage (``cascade.cheap_stage``) scores every pair; ``cascade.exact_bounds`` then says
        what the whole cascade's exact_match probability could be. A point (decided by the structured
        stage, or fixed by a rule: a cap makes it 0, ``identical`` 1) is the whole cascade's answer for
        exact_match. With ``floors``, a pair the rules lift to at least a floor >= the threshold is
        kept too: its same-place decision is fixed; with ``groups`` (each pair's query: link's forward
        direction, where the rank among a query's candidates matters) only when no other pair of its
        query could reach the floor and its query is not in ``blocked`` (it has candidates scored
        later, which might). Such a pair reports the floor, not the neural stage's value above it.
        Without a cheap stage (no neural stage to spare) every pair goes through the whole scorer."""
        from geoalign.scorers.cascade import exact_bounds

        if self.cheap_stage is None or not pairs:
            return self._score(pairs)
        start = time.perf_counter()
        first = self._score(pairs, self.cheap_stage)
        self.stats.first_stage_s += time.perf_counter() - start
        bounds = [exact_bounds(result) for result in first]
        members: dict[int, list[int]] = {}
        if groups is not None:
            for i, group in enumerate(groups):
                members.setdefault(group, []).append(i)

        def spared(i: int) -> bool:
            bound = bounds[i]
            if bound is None:
                return False
            low, high = bound
            if low == high:
                return True
            if not floors or low < self.threshold:
                return False
            if groups is None:
                return True
            if groups[i] in blocked:
                return False
            others = (bounds[j] for j in members[groups[i]] if j != i)
            return all(other is not None and other[1] < low for other in others)

        keep = [spared(i) for i in range(len(pairs))]
        again = [i for i, kept in enumerate(keep) if not kept]
        out: list[Result] = [self._as_whole(result) for result in first]
        for i, result in zip(again, self._score([pairs[i] for i in again]), strict=True):
            out[i] = result
        uncertain = [kept and _uncertain(first[i]) for i, kept in enumerate(keep)]
        self.stats.neural_not_needed += sum(uncertain)
        self.stats.first_stage_decided += sum(keep) - sum(uncertain)
        return out

    def _as_whole(self, result: Result) -> Result:
        """A cheap-stage answer as the whole scorer's: its model id, and where it sat in the uncertain
        band, the note that the neural stage was not needed (so a reader sees why it was not asked)."""
        if not isinstance(result, Match):
            return result
        explanation = result.explanation
        if explanation is not None and _uncertain(result):
            explanation = {**explanation, "cascade": {**explanation["cascade"], "neural_not_needed": True}}
        return Match(
            result.label,
            result.probabilities,
            result.scorer,
            self.scorer.model_id,
            explanation,
            result.timings_ms,
        )

    def judge(
        self,
        queries: Sequence[Record],
        candidates: Sequence[Record],
        pairs: Sequence[tuple[int, int]],
        *,
        rank_all: bool = True,
    ) -> list[Judged]:
        """Judge ``pairs`` of (index into queries, index into candidates).

        Pairs whose parsed views conflict on a hard number can never be the same place, so they are
        not scored (the cheap stage first; counted in ``skipped_hard_numbers``); a query whose
        candidates all conflict still gets its nearest one scored (``_nearness``), so the output can
        show the nearest record and why it is not a match. Pairs whose views conflict only on the
        road or an admin level cannot be the same place either, but the parse misreads those often
        (a POI written with its cross street: 16% of CCKS exact pairs), so for *ranking*
        (``rank_all``, link) they are scored in a second round for the queries that found no
        same-place candidate in the first; dedupe, which only wants same-place edges, skips them
        (both counted in ``skipped_conflicting`` when not scored).
        """
        now, soft = self._prefilter(queries, candidates, pairs, weak_now=not rank_all)
        # link (rank_all) reads each pair's exact_match probability only to rank a query's candidates
        # and to decide "same place", so a pair the rules lift above the threshold needs no neural
        # answer when nothing competes with it; dedupe keeps every edge's score, so only fixed ones
        blocked = {q for q, _ in soft} if rank_all else set()
        judged = self._judge_pairs(queries, candidates, now, floors=rank_all, blocked=blocked)
        if soft:
            settled = {item.q for item in judged if item.same_place}
            later = [pair for pair in soft if rank_all and pair[0] not in settled]
            self.stats.skipped_conflicting += len(soft) - len(later)
            # the second round's pairs compete with the first round's already judged candidates
            judged += self._judge_pairs(queries, candidates, later, floors=False)
        return judged

    def _judge_pairs(
        self,
        queries: Sequence[Record],
        candidates: Sequence[Record],
        pairs: Sequence[tuple[int, int]],
        *,
        floors: bool = False,
        blocked: set[int] | frozenset[int] = frozenset(),
    ) -> list[Judged]:
        """Score ``pairs`` forward, then the reverse direction for those that can still be the same
        place, and decide "same place" (module docstring). ``floors`` and ``blocked``: which pairs
        may skip the neural stage (``_staged``)."""
        if not pairs:
            return []
        start = time.perf_counter()
        forward = self._staged(
            [AddressPair(queries[q].address, candidates[c].address) for q, c in pairs],
            floors=floors,
            groups=[q for q, _ in pairs],
            blocked=blocked,
        )
        self.stats.forward_s += time.perf_counter() - start
        self.stats.forward_pairs += len(pairs)
        judged = [Judged(q, c, result) for (q, c), result in zip(pairs, forward, strict=True)]
        again: list[Judged] = []
        for item in judged:
            if isinstance(item.forward, ItemError):
                self.stats.errors += 1
                continue
            if identical(queries[item.q], candidates[item.c]):
                # the exact stage: one normalized spelling is one place, whatever a model calibrated
                # for query relevance says about it (its probabilities are still reported)
                item.same_place = item.identical = True
                self.stats.same_place += 1
                self.stats.identical += 1
                continue
            item.conflicts = self._conflicts(queries[item.q], candidates[item.c], item.forward)
            if item.p_forward < self.threshold:
                continue
            if item.conflicts:
                self.stats.refused_by_hard_numbers += 1
                continue
            again.append(item)
        start = time.perf_counter()
        # the reverse direction only decides "same place": a floor above the threshold decides it too
        reverse = self._staged(
            [AddressPair(candidates[j.c].address, queries[j.q].address) for j in again], floors=floors
        )
        self.stats.reverse_s += time.perf_counter() - start
        self.stats.reverse_pairs += len(again)
        for item, result in zip(again, reverse, strict=True):
            item.reverse = result
            if isinstance(result, ItemError):
                self.stats.errors += 1
                continue
            conflicts = self._conflicts(candidates[item.c], queries[item.q], result)
            if conflicts:
                item.conflicts = conflicts
                self.stats.refused_by_hard_numbers += 1
                continue
            if result.probabilities["exact_match"] >= self.threshold and not _not_match_both_ways(
                item.forward, result
            ):
                item.same_place = True
                self.stats.same_place += 1
        return judged


def _not_match_both_ways(forward: Result, reverse: Result) -> bool:
    """The judge's answer is not_match in both directions: never one place, whatever the exact_match
    probability (云杉大厦地下停车库 / 松风大厦地下停车库 scored 0.25 and 0.24 both ways, over the
    threshold). On the Shenzhen train split no pair over the threshold is not_match both ways, so the
    threshold's precision and recall there are unchanged (17,423 edges, session 43)."""
    return (
        isinstance(forward, Match)
        and isinstance(reverse, Match)
        and forward.label == "not_match"
        and reverse.label == "not_match"
    )


def _nearness(a: AddressView, b: AddressView, found: Sequence[str]) -> tuple[int, float, float]:
    """How near a candidate that conflicts on a hard number is to the query (smaller is nearer): fewer
    conflicting levels, then the smaller gap between the first differing number (30号: 31号 and 29号
    before 20号), then the closer spelling. A query whose candidates all conflict shows its nearest
    one, so a reviewer sees the neighbouring door, not whichever record the blocks listed first."""
    gap: float = math.inf
    for level in HARD_NUMBERS:
        va, vb = a.comps.get(level), b.comps.get(level)
        if va is not None and vb is not None and va != vb:
            if va.isascii() and va.isdecimal() and vb.isascii() and vb.isdecimal():
                gap = abs(int(va) - int(vb))
            break
    return len(found), gap, -fuzz.ratio(a.text, b.text)


def _uncertain(result: Result) -> bool:
    stage = ((result.explanation or {}).get("cascade") or {}) if isinstance(result, Match) else {}
    return bool(stage.get("uncertain"))


_SEPARATORS = re.compile(r"[\s,，、;；:：.。·/|_\-—]+")


def surface(text: Any) -> str:
    """The written form up to width, script and separators: 文三路３６９号 and 文三路 369号 agree,
    文三路369号(小卖部) and 文三路369号 do not (the normalizer drops parentheses; a shop inside a
    park is not the park)."""
    from geoalign.address.normalize import to_simplified, width

    return _SEPARATORS.sub("", to_simplified(width(str(text))))


def identical(a: Record, b: Record) -> bool:
    """One place written twice: the same normalized text (幢/栋, numerals folded) and the same surface
    form (nothing the normalizer dropped, such as a parenthesis, differs)."""
    return (
        a.view is not None
        and b.view is not None
        and a.view.text == b.view.text
        and surface(a.address) == surface(b.address)
    )


#: The number read off the normalized text by the structured features for each hard-number level.
def view_conflicts(a: Record, b: Record, *, weak: bool = True) -> list[str]:
    """The conflicting components of two parsed records (symmetric): ``address.conflicts.conflicts``,
    the rule layer's definition (admin divisions, road name, hard numbers with typed numbers first, so
    三百六十号 and 360号 or 0501室 and 501室 agree). ``weak=False`` leaves out the road names that are
    merely far apart (``another_road_weak``), on which the default rules do not act, where the road
    numbers do not differ too (``apart``)."""
    if a.view is None or b.view is None:
        return []
    return [c.component for c in _apart(a.view, b.view, weak=weak)]


def _apart(a: AddressView, b: AddressView, *, weak: bool) -> list[Conflict]:
    """``conflicts(a, b)``; with ``weak=False`` without a weak road conflict (建国门外大街1号 / 建外大街1号,
    文三路与学院路 / 学院路与文三路: the parse's reading of one road), unless both name a road number and
    the numbers differ (秋涛路99号美美药店 / 创新北路33号美美药店: two roads, two doors, one chain's name)."""
    found = conflicts(a, b)
    if weak or not any(c.rule == WEAK_ROAD for c in found):
        return found
    if _road_numbers_differ(a, b):
        return found
    return [c for c in found if c.rule != WEAK_ROAD]


def _road_numbers_differ(a: AddressView, b: AddressView) -> bool:
    na = a.typed.get(TYPED_OF["roadno"]) or a.comps.get("roadno")
    nb = b.typed.get(TYPED_OF["roadno"]) or b.comps.get("roadno")
    return bool(na and nb and na != nb)


def different_detail(views: Mapping[Any, AddressView]) -> CannotLink:
    """Two records that do not state the same place below the door (``address.detail``: a tower's record
    and its 10th floor's), for ``dedupe --same-detail``; a record without a view differs from none."""
    details: dict[Hashable, tuple[str, ...]] = {}  # one reading per record, however many merges ask

    def detail(record: Hashable, view: AddressView) -> tuple[str, ...]:
        found = details.get(record)
        if found is None:
            found = details[record] = detail_tokens(view)
        return found

    def apart(a: Hashable, b: Hashable) -> bool:
        va, vb = views.get(a), views.get(b)
        return va is not None and vb is not None and detail(a, va) != detail(b, vb)

    return apart


def different_places(views: Mapping[Any, AddressView], *, detail: CannotLink | None = None) -> CannotLink:
    """The clusters' ``cannot_link`` over records' parsed views (record id -> view): two records are
    different places where the address rules say so (``view_conflicts`` without road names merely far
    apart: another building, unit, floor, room, zone, gate, road, township or district), or where
    ``detail`` says they state different detail (``place_guards``). A record without a view (a parse
    error) conflicts with none."""

    def apart(a: Hashable, b: Hashable) -> bool:
        va, vb = views.get(a), views.get(b)
        if va is None or vb is None:
            return False
        if detail is not None and detail(a, b):
            return True
        return bool(_apart(va, vb, weak=False))

    return apart


def place_guards(
    views: Mapping[Any, AddressView], *, same_detail: bool = False
) -> tuple[CannotLink, CannotLink | None]:
    """The clusters' two guards (``build_clusters``' ``cannot_link`` and ``edge_check``): different places
    for any two records of the clusters a merge joins; with ``same_detail`` (``dedupe --same-detail``)
    also different detail, which is then the one question asked of an edge's own two records (a register's
    record of a tower is not its 12th floor's, though an order on the 12th floor is relevant to the
    tower's record: what the judge answers). One reading of each record's detail serves both."""
    detail = different_detail(views) if same_detail else None
    return different_places(views, detail=detail), detail


def probabilities_of(result: Result | None) -> list[float | None]:
    if isinstance(result, Match):
        return [round(result.probabilities[name], 6) for name in LABELS]
    return [None] * len(LABELS)


__all__ = [
    "HARD_NUMBERS",
    "SAME_PLACE_THRESHOLD",
    "JudgeStats",
    "Judged",
    "Record",
    "RecordAnalyzer",
    "SamePlaceJudge",
    "different_detail",
    "different_places",
    "featurizer_of",
    "hard_conflicts",
    "place_guards",
    "probabilities_of",
]
