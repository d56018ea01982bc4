"""Request correlation in the log: one short id on every line of one request, tasks included."""

from __future__ import annotations

import asyncio
import io
import logging

from lsp_server.logging_setup import REQUEST_ID, RequestId, request_scope


def _capture() -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestId())
    handler.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
    logger = logging.getLogger("lsp_server.test_request_ids")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, stream, handler


async def test_every_line_of_a_request_and_its_tasks_carries_its_id() -> None:
    logger, stream, handler = _capture()
    try:
        async def model_call() -> None:
            await asyncio.sleep(0)
            logger.info("model answered")

        async def request(kind: str) -> str:
            with request_scope(kind) as rid:
                logger.info("request starts")
                await asyncio.ensure_future(model_call())  # a task copies the context
                logger.info("request ends")
                return rid

        ids = await asyncio.gather(request("c"), request("a"))
        logger.info("between requests")
    finally:
        logging.getLogger("lsp_server.test_request_ids").removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert ids[0] != ids[1] and ids[0].startswith("c") and ids[1].startswith("a")
    for rid in ids:
        mine = [line for line in lines if line.startswith(f"[{rid}]")]
        assert [line.split("] ", 1)[1] for line in mine] == [
            "request starts", "model answered", "request ends"]
    assert lines[-1] == "[-] between requests" and REQUEST_ID.get() == "-"
