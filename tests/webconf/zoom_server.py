"""A local HTTP server that answers as Zoom's OAuth and REST API document it (Server-to-Server OAuth
token, meetings, past meetings), recording every request so tests can check what went on the wire."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLIENT_ID = "zClientId123"
CLIENT_SECRET = "zClientSecret456"
ACCOUNT_ID = "zAccount789"


@dataclass
class Seen:
    method: str
    path: str  # raw path as sent, before decoding
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ZoomState:
    requests: list[Seen] = field(default_factory=list)
    tokens_issued: int = 0
    expires_in: int = 3600
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    past: dict[str, dict[str, Any]] = field(default_factory=dict)  # by uuid
    revoked: set[str] = field(default_factory=set)
    fail: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # "token"/"api" -> answer
    delay: float = 0.0
    next_id: int = 85746065432


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        st: ZoomState = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urllib.parse.urlsplit(self.path)
        seen = Seen(self.command, parts.path, urllib.parse.parse_qs(parts.query), dict(self.headers.items()), body)
        st.requests.append(seen)
        if st.delay:
            time.sleep(st.delay)
        if parts.path == "/oauth/token":
            return self._token(st, seen)
        if "api" in st.fail:
            status, answer = st.fail["api"]
            return self._answer(status, answer, {"Retry-After": "30"} if status == 429 else None)
        auth = seen.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or not token.startswith("tok-") or token in st.revoked:
            return self._answer(401, {"code": 124, "message": "Invalid access token."})
        path = parts.path.removeprefix("/v2")
        segs = path.split("/")
        if self.command == "POST" and len(segs) == 4 and segs[1] == "users" and segs[3] == "meetings":
            req = seen.json()
            mid = str(st.next_id)
            st.next_id += 1
            meeting = {"uuid": f"uu{mid}==", "id": int(mid), "host_id": "hostAbc", "host_email": "host@acme.test",
                       "topic": req.get("topic"), "type": req.get("type"), "status": "waiting",
                       "timezone": "America/Montreal", "created_at": "2026-11-27T20:00:00Z",
                       "start_url": f"https://acme.zoom.us/s/{mid}?zak=zakSecret",
                       "join_url": f"https://acme.zoom.us/j/{mid}?pwd=pwdHash", "password": "Ab12cd",
                       "settings": req.get("settings") or {}}
            st.meetings[mid] = meeting
            return self._answer(201, meeting)
        if self.command == "GET" and len(segs) == 3 and segs[1] == "meetings":
            if segs[2] in st.meetings:
                return self._answer(200, st.meetings[segs[2]])
            return self._answer(404, {"code": 3001, "message": f"Meeting does not exist: {segs[2]}."})
        if self.command == "GET" and len(segs) == 4 and segs[1] == "past_meetings" and segs[3] == "instances":
            return self._answer(200, {"meetings": st.instances.get(segs[2], [])})
        if self.command == "GET" and len(segs) == 3 and segs[1] == "past_meetings":
            uuid = urllib.parse.unquote(urllib.parse.unquote(segs[2]))
            if uuid in st.past:
                return self._answer(200, st.past[uuid])
            return self._answer(404, {"code": 3001, "message": "Meeting does not exist."})
        return self._answer(404, {"code": 404, "message": "Not found"})

    def _token(self, st: ZoomState, seen: Seen) -> None:
        if "token" in st.fail:
            status, answer = st.fail["token"]
            return self._answer(status, answer)
        import base64

        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if seen.headers.get("Authorization") != expected:
            return self._answer(400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
        if seen.query.get("grant_type") != ["account_credentials"] or seen.query.get("account_id") != [ACCOUNT_ID]:
            return self._answer(400, {"reason": "unsupported grant type", "error": "unsupported_grant_type"})
        st.tokens_issued += 1
        return self._answer(200, {"access_token": f"tok-{st.tokens_issued}", "token_type": "bearer",
                                  "expires_in": st.expires_in, "scope": "meeting:write:admin meeting:read:admin",
                                  "api_url": "https://api.zoom.us"})

    do_GET = _handle  # noqa: N815
    do_POST = _handle  # noqa: N815


class ZoomServer:
    def __init__(self) -> None:
        self.state = ZoomState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.state = self.state  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        # stop() waits for the serving loop's next poll: a twentieth of a second, not the default half.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def config(self, **kw: Any) -> dict[str, Any]:
        conf = {"account_id": ACCOUNT_ID, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "oauth_url": self.base + "/oauth/token", "api_url": self.base + "/v2", "timeout": 2}
        conf.update(kw)
        return conf

    def start(self) -> ZoomServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def seen(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        return [r for r in self.state.requests if (method is None or r.method == method) and r.path.startswith(prefix)]
