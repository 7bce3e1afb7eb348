"""Server-Sent Events for chains and chat: `event: <type>` and one JSON `data:` line each."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from pitchcraft.api.errors import error_from
from pitchcraft.api.metrics import Metrics
from pitchcraft.errors import PitchcraftError


def sse(
    metrics: Metrics, route: str, target: str, events: AsyncIterator[BaseModel]
) -> StreamingResponse:
    """The events as a stream; a pitchcraft error ends it with an `error` event."""

    async def body() -> AsyncIterator[bytes]:
        started = time.perf_counter()
        try:
            async for event in events:
                yield sse_frame(event.model_dump(mode="json", exclude_none=True))
        except PitchcraftError as err:
            e = error_from(err)
            yield sse_frame(
                {"event": "error", "type": e.kind, "message": e.message, "fields": e.fields}
            )
        metrics.observe(route, target, 200, time.perf_counter() - started)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def sse_frame(data: dict[str, Any]) -> bytes:
    return f"event: {data['event']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
