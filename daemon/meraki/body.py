"""One answer's body, bounded: read up to a byte cap, and any parse failure is a `BadResponse`.

The cap counts bytes after decompression (aiohttp inflates gzip/deflate in bounded steps as the
body is streamed), so neither an endless chunked body nor a compression bomb can grow the
process past the cap plus a few read buffers.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from daemon.core.errors import BadResponse

READ_CHUNK_BYTES = 64 * 1024


def _too_big(endpoint: str, cap: int, declared: int | None = None) -> BadResponse:
    if declared is not None:
        what = f"declares {declared} bytes, over meraki.max_body_bytes ({cap} bytes); not read"
    else:
        what = f"passed meraki.max_body_bytes ({cap} bytes); reading stopped"
    return BadResponse(f"the body of {endpoint} {what}")


async def read_capped(response: aiohttp.ClientResponse, cap: int, endpoint: str) -> bytes:
    """The whole body, or `BadResponse` as soon as it passes `cap` bytes (the connection is
    dropped: a half-read stream is never reused)."""
    declared = response.content_length
    if declared is not None and declared > cap:
        response.close()
        raise _too_big(endpoint, cap, declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > cap:
            chunks.clear()
            response.close()
            raise _too_big(endpoint, cap)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes, endpoint: str) -> Any:
    """The JSON value of a body; `BadResponse` naming the endpoint on any failure to parse.

    UnicodeDecodeError and JSONDecodeError are ValueErrors; RecursionError comes from nesting
    deeper than the interpreter's stack. MemoryError is caught too: the body is capped, so the
    parse is the one large allocation in flight, and failing it frees its partial objects.
    """
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at byte {exc.pos}"
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    except ValueError as exc:
        reason = str(exc)[:100]
    except RecursionError:
        reason = "nested too deeply"
    except MemoryError:
        reason = "too large to parse in the memory available"
    raise BadResponse(f"unparsable JSON on {endpoint} ({len(body)} bytes): {reason}")
