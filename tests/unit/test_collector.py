"""``geoalign.collector``: the garbage collector's pace in geoalign's own processes, and where it is set."""

from __future__ import annotations

from tests.fresh_python import run_python as _run

from geoalign.collector import YOUNG_GENERATION


def test_it_raises_the_young_threshold_and_keeps_the_others():
    out = _run(
        """
        import gc
        from geoalign.collector import pace_for_long_runs
        gc.set_threshold(700, 11, 12)
        pace_for_long_runs()
        print(gc.get_threshold())
        """
    )
    assert out == f"({YOUNG_GENERATION}, 11, 12)"


def test_it_never_lowers_a_higher_threshold_nor_turns_collection_back_on():
    out = _run(
        """
        import gc
        from geoalign.collector import pace_for_long_runs
        gc.set_threshold(1_000_000, 10, 10)
        pace_for_long_runs()
        higher = gc.get_threshold()
        gc.set_threshold(0)
        pace_for_long_runs()
        print(higher[0], gc.get_threshold()[0])
        """
    )
    assert out == "1000000 0"


def test_main_sets_it_only_when_run_as_the_program():
    """A test or a library calling ``main([...])`` keeps Python's thresholds; ``geoalign`` itself
    scores with the slower pace."""
    out = _run(
        """
        import gc, sys
        from geoalign.cli.main import main
        main(["--version"])
        called = gc.get_threshold()[0]
        sys.argv = ["geoalign", "--version"]
        main()
        print(called, gc.get_threshold()[0])
        """
    )
    assert out.splitlines()[-1] == f"700 {YOUNG_GENERATION}"


def test_paced_sets_the_pace_for_a_block_and_gives_the_callers_thresholds_back():
    out = _run(
        """
        import gc
        from geoalign.collector import paced
        gc.set_threshold(700, 11, 12)
        with paced():
            inside = gc.get_threshold()
            with paced():  # a bulk call inside another: the outer one restores
                pass
            nested = gc.get_threshold()
        after = gc.get_threshold()
        with paced():
            gc.set_threshold(2000, 5, 5)  # the caller changes them meanwhile: theirs stay
        print(inside, nested, after, gc.get_threshold())
        """
    )
    assert out == f"({YOUNG_GENERATION}, 11, 12) ({YOUNG_GENERATION}, 11, 12) (700, 11, 12) (2000, 5, 5)"


def test_the_python_api_paces_its_bulk_calls_only_while_they_run():
    """``Matcher.score`` scores under the pace (a scorer that records the threshold it saw) and
    returns with the caller's thresholds in place, an error included."""
    out = _run(
        """
        import gc
        from geoalign.api import Matcher
        from geoalign.types import LABELS, Match

        seen = []

        class Recording:
            name, model_id = "recording", "recording"

            def score(self, pairs):
                seen.append(gc.get_threshold()[0])
                if pairs[0].a == "boom":
                    raise RuntimeError("boom")
                p = {label: 1 / len(LABELS) for label in LABELS}
                return [Match(LABELS[0], p, "recording", "recording") for _ in pairs]

            def warmup(self):
                pass

        m = Matcher(scorer=Recording())
        m.score([("a", "b"), ("c", "d")])
        try:
            m.score([("boom", "b")])
        except RuntimeError:
            pass
        print(seen, gc.get_threshold()[0])
        """
    )
    assert out == f"[{YOUNG_GENERATION}, {YOUNG_GENERATION}] 700"
