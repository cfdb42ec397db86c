"""The review page's HTTP server: routes, the JSON API, and the guards that
keep other web pages and other hosts out.

Built on werkzeug (routing, request parsing, a threaded WSGI server), not on
a hand-written HTTP parser. Routes::

    GET  /                                   the page
    GET  /static/<name>                      its script and style sheet
    GET  /api/pairs                          {"pairs": [pair, ...]}
    GET  /api/pairs/<path>/<kind>.png        kind: baseline, output, heatmap, mask
    GET  /api/pairs/<path>/pixel?x=X&y=Y     raw sample values (16-bit, float)
    GET  /api/pairs/<path>/chart.svg         a video pair's per-frame chart (image/svg+xml)
    GET  /api/summary                        accepted, rejected, skipped, left, changes
    POST /api/accept   {"pairs": [path, ...]}
    POST /api/reject   {"pairs": [path, ...]}
    POST /api/skip     {"pairs": [path, ...]}
    POST /api/undo     {}
    POST /api/finish   {}                    ends `serve` (the command prints the summary)

Guards, on every request: the ``Host`` header must name the served host and
port (a DNS-rebinding page has its own name there), an ``Origin`` header when
present must be the served origin, and a browser's ``Sec-Fetch-Site:
cross-site`` is refused; all with 403 and nothing changed. A POST also needs
``Content-Type: application/json`` (415 otherwise: an HTML form cannot send
it without a CORS preflight, which this server never grants) and a body of
at most 1 MiB holding a JSON object. Pair paths only name pairs the session
holds; the session resolves every file inside BASELINE.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
import webbrowser
from importlib import resources
from typing import Any, Callable

from ..errors import IqaError, UsageError
from ..report.json import strict
from ..spelling import spell
from .session import IMAGE_KINDS, ReviewSession

try:
    from werkzeug.exceptions import HTTPException, NotFound
    from werkzeug.routing import Map, Rule
    from werkzeug.serving import WSGIRequestHandler, make_server
    from werkzeug.wrappers import Request, Response
except ImportError:  # pragma: no cover - exercised only without the extra
    raise IqaError("iqa review needs werkzeug: pip install 'iqa-cli[review]'") from None

MAX_BODY = 1 << 20
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # keys accept: no other page may frame this one
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
}


def is_loopback(host: str) -> bool:
    h = host.strip("[]")
    if h.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback ``host`` unless ``allow_remote``; returns the
    warning to print when serving it anyway."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise UsageError(f"{spell('host')} {host} is not a loopback address: anyone who can reach it could "
                         f"accept changes to the baseline; add {spell('allow_remote')} to serve it anyway")
    return (f"warning: serving the review on {host}: anyone who can reach this machine on that address can "
            "accept changes to the baseline")


def check_port(host: str, port: int) -> None:
    """Refuse a given ``port`` that another program listens on, before any
    scoring (werkzeug would print its own text and exit the process later)."""
    if not port:
        return
    name = host.strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"cannot serve the review on {host}: {e.strerror or e}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as e:
            raise UsageError(f"cannot serve the review on {host}:{port}: {e.strerror or e}; choose another "
                             f"{spell('port')}, or leave it out for a free one") from None


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` of a Host header (IPv6 in brackets); None when malformed."""
    value = value.strip()
    if not value or any(c.isspace() or c in "/@?#\\" for c in value):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else None
    else:
        name, _, port = value.partition(":")
        port = port if ":" in value else None
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        return None
    return name.lower(), int(port) if port is not None else None


def _json(obj: Any, status: int = 200) -> Response:
    body = json.dumps(strict(obj), allow_nan=False, ensure_ascii=True)
    return Response(body, status=status, mimetype="application/json")


def _error(status: int, message: str, **extra: Any) -> Response:
    return _json({"error": message, "status": status, **extra}, status)


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once from the package."""
    out = {}
    folder = resources.files(__package__).joinpath("static")
    for entry in folder.iterdir():
        name = entry.name
        ext = name[name.rfind("."):] if "." in name else ""
        if entry.is_file() and ext in _TYPES:
            out[name] = (entry.read_bytes(), _TYPES[ext])
    return out


class ReviewApp:
    """The WSGI application around a :class:`~.session.ReviewSession`.

    :meth:`bind` tells it the host and port it is served on (the guards need
    them); until then every request is refused.
    """

    def __init__(self, session: ReviewSession):
        self.session = session
        self.finished = threading.Event()
        self._busy = 0  # requests being handled
        self._idle = threading.Condition()
        self._static = _static_files()
        self._names: set[str] = set()
        self._port: int | None = None
        self._any_ip = False
        self.url_map = Map([
            Rule("/", endpoint="index", methods=["GET"]),
            Rule("/static/<name>", endpoint="static", methods=["GET"]),
            Rule("/api/pairs", endpoint="pairs", methods=["GET"]),
            Rule(f"/api/pairs/<path:key>/<any({', '.join(IMAGE_KINDS)}):kind>.png", endpoint="image",
                 methods=["GET"]),
            Rule("/api/pairs/<path:key>/pixel", endpoint="pixel", methods=["GET"]),
            Rule("/api/pairs/<path:key>/chart.svg", endpoint="chart", methods=["GET"]),
            Rule("/api/summary", endpoint="summary", methods=["GET"]),
            Rule("/api/accept", endpoint="accept", methods=["POST"]),
            Rule("/api/reject", endpoint="reject", methods=["POST"]),
            Rule("/api/skip", endpoint="skip", methods=["POST"]),
            Rule("/api/undo", endpoint="undo", methods=["POST"]),
            Rule("/api/finish", endpoint="finish", methods=["POST"]),
        ], strict_slashes=False, merge_slashes=False)

    def bind(self, host: str, port: int) -> None:
        """Serve as ``host:port``: the names a Host header may carry."""
        h = host.strip("[]").lower()
        names = {h if ":" not in h else f"[{h}]"}
        if is_loopback(h):
            names.add("localhost")
            names.add("127.0.0.1" if "." in h or h == "localhost" else "[::1]")
        try:
            self._any_ip = ipaddress.ip_address(h).is_unspecified
        except ValueError:
            self._any_ip = False
        if self._any_ip:  # 0.0.0.0 / :: with --allow-remote: this machine's names and any IP literal
            names |= {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}
        self._names, self._port = names, port

    # ------------------------------------------------------------------ guards

    def _host_ok(self, value: str | None) -> bool:
        parsed = _split_host(value or "")
        if parsed is None or self._port is None:
            return False
        name, port = parsed
        if (port if port is not None else 80) != self._port:
            return False
        if name in self._names:
            return True
        if self._any_ip:
            try:
                ipaddress.ip_address(name.strip("[]"))
                return True
            except ValueError:
                return False
        return False

    def _guard(self, request: Request) -> Response | None:
        host = request.headers.get("Host")
        if not self._host_ok(host):
            return _error(403, f"refused: Host {host!r} is not the address this review is served on")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"http://{host}":
            return _error(403, f"refused: a request from another origin ({origin})")
        if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            return _error(403, "refused: a request from another site")
        return None

    def _body(self, request: Request) -> dict[str, Any] | Response:
        if request.mimetype != "application/json":
            return _error(415, "send the request body as JSON (Content-Type: application/json)")
        length = request.content_length
        if length is not None and length > MAX_BODY:
            return _error(413, "request body too large")
        raw = request.stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return _error(413, "request body too large")
        try:
            obj = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            return _error(400, "the body is not valid JSON")
        if not isinstance(obj, dict):
            return _error(400, "the body must be a JSON object")
        return obj

    # ------------------------------------------------------------------ WSGI

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no request is being handled (an accept half-way through
        its files finishes before the command exits); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        with self._idle:
            self._busy += 1
        try:
            return self._respond(environ, start_response)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _respond(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        try:
            response = self._guard(request) or self._dispatch(request)
        except HTTPException as e:
            response = _error(e.code or 500, e.description or e.name)
            if e.code == 405:
                valid = getattr(e, "valid_methods", None)
                if valid:
                    response.headers["Allow"] = ", ".join(valid)
        except IqaError as e:
            response = _error(500, str(e))
        except Exception as e:  # a bug: one line to the page, the traceback to the terminal
            import traceback

            traceback.print_exc(file=sys.stderr)
            response = _error(500, f"internal error: {type(e).__name__}: {e}")
        for k, v in _HEADERS.items():
            response.headers.setdefault(k, v)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        endpoint, args = self.url_map.bind_to_environ(request.environ).match()
        return getattr(self, "on_" + endpoint)(request, **args)

    # ------------------------------------------------------------------ routes

    def _file(self, name: str) -> Response:
        if name not in self._static:
            raise NotFound(f"no file {name!r}")
        data, ctype = self._static[name]
        return Response(data, content_type=ctype)

    def on_index(self, request: Request) -> Response:
        return self._file("index.html")

    def on_static(self, request: Request, name: str) -> Response:
        return self._file(name)

    def on_pairs(self, request: Request) -> Response:
        return _json({"pairs": self.session.pairs()})

    def on_image(self, request: Request, key: str, kind: str) -> Response:
        data = self.session.image(key, kind)
        if data is None:
            raise NotFound(f"no {kind} image for {key!r}")
        return Response(data, content_type="image/png")

    def on_chart(self, request: Request, key: str) -> Response:
        data = self.session.chart(key)
        if data is None:
            raise NotFound(f"no per-frame chart for {key!r}: not a video pair")
        return Response(data, content_type=_TYPES[".svg"])

    def on_pixel(self, request: Request, key: str) -> Response:
        try:
            x, y = int(request.args["x"]), int(request.args["y"])
        except (KeyError, ValueError):
            return _error(400, "give the pixel as ?x=INT&y=INT")
        values = self.session.pixel(key, x, y)
        if values is None:
            raise NotFound(f"no raw values for {key!r}")
        return _json(values)

    def on_summary(self, request: Request) -> Response:
        return _json(self.session.summary())

    def _decision(self, request: Request, method: str) -> Response:
        body = self._body(request)
        if isinstance(body, Response):
            return body
        paths = body.get("pairs")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            return _error(400, 'give the pairs as {"pairs": ["<relative path>", ...]}')
        return self._outcome(getattr(self.session, method)(paths))

    @staticmethod
    def _outcome(result: dict[str, Any]) -> Response:
        status = 200 if result.get("ok") else 500 if result.get("error") else 409
        return _json(result, status)

    def on_accept(self, request: Request) -> Response:
        return self._decision(request, "accept")

    def on_reject(self, request: Request) -> Response:
        return self._decision(request, "reject")

    def on_skip(self, request: Request) -> Response:
        return self._decision(request, "skip")

    def on_undo(self, request: Request) -> Response:
        body = self._body(request)
        if isinstance(body, Response):
            return body
        return self._outcome(self.session.undo())

    def on_finish(self, request: Request) -> Response:
        body = self._body(request)
        if isinstance(body, Response):
            return body
        response = _json(self.session.summary())
        response.call_on_close(self.finished.set)  # once the answer is sent: the command may exit right after
        # a client that resets the connection makes werkzeug raise before close: the handler ends it then
        request.environ[_ON_DROP] = self.finished.set
        return response


_ON_DROP = "iqa.review.on_drop"  # environ key: called if the connection drops before the answer is closed


class _QuietHandler(WSGIRequestHandler):
    """No line per request on the terminal (errors still go to stderr)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def connection_dropped(self, error: BaseException, environ: dict | None = None) -> None:
        """The client went away mid-answer: what was to happen once it was sent happens now."""
        on_drop = (environ or {}).get(_ON_DROP)
        if on_drop is not None:
            on_drop()


class ReviewServer:
    """A :class:`ReviewApp` served from a background thread.

    ``port=0`` takes a free port; :attr:`url` is the page's address. Use as
    a context manager, or :meth:`start` and :meth:`stop`.
    """

    def __init__(self, session: ReviewSession, host: str = "127.0.0.1", port: int = 0, *,
                 allow_remote: bool = False):
        self.warning = check_bind(host, allow_remote)
        self.app = ReviewApp(session)
        try:
            self._server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        except (OSError, socket.gaierror) as e:
            raise IqaError(f"cannot serve the review on {host}:{port}: {e.strerror or e}") from None
        except SystemExit:  # werkzeug exits on a port taken since check_port; it printed why
            raise IqaError(f"cannot serve the review on {host}:{port}: the address is in use") from None
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_port)
        self.app.bind(host, self.port)
        shown = host.strip("[]")
        try:
            if ipaddress.ip_address(shown).is_unspecified:
                shown = "127.0.0.1"
        except ValueError:
            pass
        self.url = f"http://{f'[{shown}]' if ':' in shown else shown}:{self.port}/"
        self._thread: threading.Thread | None = None

    def start(self) -> "ReviewServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="iqa-review", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; a decision being written (Ctrl-C during an accept) is finished first."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self.app.drain(60)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the page asks to finish (True) or ``timeout`` passes (False)."""
        return self.app.finished.wait(timeout)

    def __enter__(self) -> "ReviewServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(session: ReviewSession, *, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False,
          open_browser: bool = True, echo: Callable[[str], None] = print,
          warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Serve ``session`` until the page's Finish button or Ctrl-C; returns
    :meth:`~.session.ReviewSession.summary`. ``echo`` prints the address,
    ``warn`` (default ``echo``) the warning of a non-loopback host."""
    server = ReviewServer(session, host, port, allow_remote=allow_remote)
    if server.warning:
        (warn or echo)(server.warning)
    with server:
        echo(f"iqa review: {server.url}  (Ctrl-C or the page's Finish button ends it)")
        if open_browser:
            webbrowser.open(server.url)
        try:
            while not server.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return session.summary()
