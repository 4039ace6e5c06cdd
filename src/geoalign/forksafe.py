"""ONNX Runtime sessions across ``fork``: a forked child opens its own instead of using the parent's.

Why: ``geoalign link/dedupe --workers N`` forks after the indexed table is built and the models are
loaded, so the workers share that memory copy-on-write instead of each rebuilding it. An ONNX Runtime
session owns an intra-op thread pool whose threads exist only in the process that made them, and ONNX
Runtime does not document a session as safe to use across ``fork``. So every object that holds a
session registers here (``register``); in a forked child each one gives up its session
(``detach_session``: the inherited one is kept alive, never destroyed there) and opens a fresh one on
first use, with the thread count the child was given (``set_child_threads``: the cores divided among
the workers, so N workers never run N x cores threads).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any, Protocol


class SessionHolder(Protocol):
    """Something that holds an ONNX Runtime session and can reopen it lazily."""

    def detach_session(self) -> Any:
        """Give up the session and return it; the next use opens a new one."""
        ...


_holders: weakref.WeakSet[SessionHolder] = weakref.WeakSet()
_child_threads: int | None = None
#: the sessions a forked child inherited: kept referenced, never destroyed there. Destroying one joins
#: its thread pool, whose threads were not copied by fork, and that waits forever (seen in the tests:
#: a child hung in pthread_cond_destroy). Fork-started children leave with os._exit, so nothing
#: finalizes them at exit either.
_inherited: list[Any] = []


def register(holder: SessionHolder) -> None:
    """Have ``holder`` reopen its session in every process forked from this one."""
    _holders.add(holder)


def set_child_threads(threads: int | None) -> None:
    """Intra-op threads for the sessions this (forked) process reopens; None: each holder's own."""
    global _child_threads
    _child_threads = threads


def child_threads(own: int | None) -> int | None:
    """The thread count a session opened now should use: the child's share when one was set, else ``own``."""
    return _child_threads if _child_threads is not None else own


class LazySession:
    """A mixin for a class that holds one ONNX Runtime session: ``session`` opens it on first use
    (again in a forked child, with the child's share of the cores), and assigning it registers the
    holder here. The class sets ``threads`` and ``_session`` (None) and defines ``_open(threads)``."""

    threads: int | None
    _session: Any

    def _open(self, threads: int | None) -> Any:
        raise NotImplementedError

    @property
    def session(self) -> Any:
        """The ONNX Runtime session; a forked child opens its own on first use."""
        if self._session is None:
            self._session = self._open(child_threads(self.threads))
        return self._session

    @session.setter
    def session(self, session: Any) -> None:
        self._session = session
        register(self)

    def detach_session(self) -> Any:
        session, self._session = self._session, None
        return session


def cpu_session(path: Path, threads: int | None, what: str) -> Any:
    """A new CPU ONNX Runtime session on ``path`` (``threads`` intra-op threads, or its default);
    ModelLoadError naming ``what`` when the graph cannot be loaded."""
    import onnxruntime as ort

    from geoalign.errors import ModelLoadError

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelLoadError(f"{path}: cannot load {what} ({exc})") from exc


def _after_fork_in_child() -> None:
    for holder in list(_holders):
        session = holder.detach_session()
        if session is not None:
            _inherited.append(session)


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to survive
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["LazySession", "SessionHolder", "child_threads", "cpu_session", "register", "set_child_threads"]
