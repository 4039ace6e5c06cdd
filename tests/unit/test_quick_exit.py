"""``geoalign.quick_exit``: the exit hook that skips the last garbage collection, and where it is set."""

from __future__ import annotations

from tests.fresh_python import run_python as _run


def test_the_hook_freezes_the_heap_at_exit_and_is_registered_once():
    out = _run(
        """
        import atexit, gc
        from geoalign import quick_exit
        quick_exit.freeze_heap_at_exit()
        quick_exit.freeze_heap_at_exit()
        before = gc.get_freeze_count()
        assert atexit._ncallbacks() >= 1
        atexit._run_exitfuncs()  # what the interpreter does first when it exits
        print(before, gc.get_freeze_count() > 1000)
        """
    )
    assert out == "0 True"


def test_main_sets_it_only_when_run_as_the_program():
    """A test or a library calling ``main([...])`` keeps a normal heap; ``geoalign`` itself exits fast."""
    out = _run(
        """
        import sys
        from geoalign import quick_exit
        from geoalign.cli.main import main
        main(["--version"])
        called = quick_exit._registered
        sys.argv = ["geoalign", "--version"]
        main()
        print(called, quick_exit._registered)
        """
    )
    assert out.splitlines()[-1] == "False True"
