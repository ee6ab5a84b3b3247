"""Plain HTTP on the daemon's port: responses, the request checks every route shares, and the
browser page's static files. Nothing here raises on a strange request: a path the file
system cannot even look up (too long, a NUL byte) is simply not found."""

from __future__ import annotations

import http
import mimetypes
from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

MAX_PATH_CHARS = 2048  # longer request targets get 414 (browsers and proxies stop near here)


def response(status: int, body: bytes, content_type: str) -> Response:
    phrase = http.HTTPStatus(status).phrase
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status, phrase, headers, body)


def text(status: int, message: str) -> Response:
    return response(status, message.encode(), "text/plain; charset=utf-8")


def refuse_request(request: Request) -> Response | None:
    """The answer to a request no route can take (a method other than GET, a path too long
    to be one of ours), or None."""
    if len(request.path) > MAX_PATH_CHARS:
        return text(414, f"request target longer than {MAX_PATH_CHARS} characters\n")
    if request.method != "GET":
        refused = text(405, f"method {request.method[:16]} not allowed: only GET\n")
        refused.headers["Allow"] = "GET"
        return refused
    return None


def static_file(root: Path, path: str) -> Response:
    name = "index.html" if path in ("/", "") else path.lstrip("/")
    try:
        base = root.resolve()
        target = (base / name).resolve()
        found = base in target.parents and target.is_file()
        body = target.read_bytes() if found else b""
    except (OSError, ValueError):  # e.g. a name too long for the file system
        found = False
    if not found:
        return text(404, "not found\n")
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind.endswith("javascript"):
        kind += "; charset=utf-8"
    return response(200, body, kind)
