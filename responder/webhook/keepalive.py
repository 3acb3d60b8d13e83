"""Read what a request left unread before answering, so its keep-alive connection stays usable.

A view that answers before reading the body (a 401 for a wrong token, a 415, a 421) leaves
the body in the connection; gunicorn then drops the connection, and the client's next
request on it fails (``RemoteDisconnected``), which Alertmanager counts as a failed send.
So every answer first reads the rest of the body, up to the size limit
(``RESPONDER_MAX_BODY_BYTES``); a body over the limit is answered 413 unread and its
connection is not kept.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

CHUNK = 64 * 1024


def install(app: Flask) -> None:
    @app.after_request
    def drain(response: Response) -> Response:
        try:
            # The stream is bounded by Content-Length and by MAX_CONTENT_LENGTH (werkzeug's LimitedStream).
            stream = request.stream
            if getattr(stream, "is_exhausted", False):
                return response  # read to its end already (the webhook reads the whole body)
            while stream.read(CHUNK):
                pass
        except (ClientDisconnected, RequestEntityTooLarge, OSError):
            pass  # the client went away, or the body is over the limit: nothing to keep
        return response
