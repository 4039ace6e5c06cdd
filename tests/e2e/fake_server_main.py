"""Serve the HTTP app on a real uvicorn with a fake scorer whose model blocks while a hold file exists.

Used by the e2e tests that need a real process: SIGTERM drain under load and client disconnects. The
hold file lets a test freeze the model, build a backlog and act, with no timing assumptions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for tests.*

from tests.fake_scorers import RecordingScorer

from geoalign.engine.dynamic import EngineConfig
from geoalign.server.app import ServerSettings, create_app
from geoalign.types import Prepared, Raw


class FileHeldScorer(RecordingScorer):
    def __init__(self, hold_file: Path) -> None:
        super().__init__()
        self.hold_file = hold_file

    def run(self, prepared: Prepared) -> Raw:
        while self.hold_file.exists():
            time.sleep(0.005)
        return super().run(prepared)


def main() -> None:
    from geoalign.server.run import build_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hold-file", type=Path, required=True)
    parser.add_argument("--max-queue", type=int, default=4096)
    parser.add_argument("--drain-grace", type=float, default=0.0)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--body-timeout", type=float, default=30.0)
    args = parser.parse_args()
    scorer: Any = FileHeldScorer(args.hold_file)
    settings = ServerSettings(
        max_pairs=min(1000, args.max_queue),
        engine=EngineConfig(max_queue=args.max_queue),
        drain_grace_s=args.drain_grace,
        drain_timeout_s=None,  # the tests hold the model as long as they like
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
    )
    app = create_app(lambda: scorer, settings)
    build_server(app, settings, host="127.0.0.1", port=args.port, log_level="warning").run()


if __name__ == "__main__":
    main()
