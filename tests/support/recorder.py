"""An HTTP server that records every POST body: stands in for a Slack incoming webhook."""

from __future__ import annotations

import json
from typing import Any

from tests.support.http_server import LocalHttpServer, QuietHandler


class Recorder(LocalHttpServer):
    def __init__(self) -> None:
        self.posts: list[Any] = []
        posts = self.posts

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                posts.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(Handler)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"
