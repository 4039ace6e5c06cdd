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
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hold-file", type=Path, required=True)
    parser.add_argument("--max-queue", type=int, default=4096)
    args = parser.parse_args()
    scorer: Any = FileHeldScorer(args.hold_file)
    settings = ServerSettings(
        max_pairs=min(1000, args.max_queue), engine=EngineConfig(max_queue=args.max_queue)
    )
    app = create_app(lambda: scorer, settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=args.port, log_level="warning", timeout_graceful_shutdown=None
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
