"""A fake messaging provider for outbound tests: a real HTTP server on 127.0.0.1, in the
test process, that answers from a script and records every request it gets."""

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    json: object = None
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def multipart(self) -> dict[str, tuple[str | None, bytes]]:
        """Each part of a multipart/form-data body: name → (file name, content)."""
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = message_from_bytes(head + self.body, policy=HTTP)
        return {
            part.get_param("name", header="content-disposition"):
                (part.get_filename(), part.get_payload(decode=True))
            for part in message.iter_parts()
        }


@dataclass
class FakeProvider:
    """Scripted replies per (method, path without query): each request takes the next one,
    the last one repeats. An unscripted path gets a 404."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    routes: dict = field(default_factory=dict)

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = list(replies)

    def reply_for(self, method: str, path: str) -> Reply:
        replies = self.routes.get((method, urlsplit(path).path))
        if not replies:
            return Reply(404, {"error": f"nothing scripted for {method} {path}"})
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def sent(self, method: str = "POST", path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests
                if r.method == method and (path is None or urlsplit(r.path).path == path)]


@contextmanager
def fake_provider_running():
    fake = FakeProvider()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            fake.requests.append(Recorded(self.command, self.path, dict(self.headers.items()),
                                          self.rfile.read(length)))
            reply = fake.reply_for(self.command, self.path)
            time.sleep(reply.delay)
            body = json.dumps(reply.json).encode() if reply.json is not None else reply.body
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
