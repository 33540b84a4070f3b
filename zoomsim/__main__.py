"""`python -m zoomsim --host 127.0.0.1 --port 9000 --webhook-url http://127.0.0.1:8000/zoom/webhook`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from zoomsim.app import create_app, start_site
from zoomsim.config import SimConfig, config_from_args
from zoomsim.log import log_event, setup_logging

log = logging.getLogger("zoomsim.main")


async def serve(config: SimConfig, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
            pass
    runner, port = await start_site(create_app(config), config)
    try:
        log_event(log, "zoomsim.listening", host=config.host, port=port)
        await stop.wait()
        log_event(log, "zoomsim.stopping")
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging(os.environ.get("ZOOMSIM_LOG_LEVEL", "INFO"))
    config = config_from_args(argv)
    setup_logging(config.log_level)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
