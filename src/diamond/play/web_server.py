"""The server of the browser players (``diamond play-web``, ``diamond play-engine-web``): the page over HTTP
and one WebSocket connection per tab, each playing its own session (``web.ClientSession`` or a subclass)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Callable
from http import HTTPStatus
from importlib import resources
from typing import Any

from diamond.errors import InvalidValue
from diamond.play import compute
from diamond.play.web import ClientSession


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def page(name: str = "player.html") -> bytes:
    return resources.files("diamond.play").joinpath(f"static/{name}").read_bytes()


class WebPlayer:
    """The server. ``make_session(n)`` builds a fresh session for the n-th connection."""

    def __init__(
        self,
        make_session: Callable[[int], Any],
        host: str = "127.0.0.1",
        port: int = 8765,
        fps: float = 15.0,
        log: Callable[[str], None] = print,
        client: type = ClientSession,
    ) -> None:
        if fps < 0:
            raise InvalidValue(f"--fps {fps} must be >= 0 (0: as fast as the model goes)")
        self.make_session = make_session
        self.host, self.port, self.fps, self.log = host, port, fps, log
        self.client = client
        self.clients = 0
        self.html = page(client.PAGE)

    def process_request(self, connection: Any, request: Any) -> Any:
        path = request.path.split("?")[0]
        if path == "/ws":
            return None  # go on with the WebSocket handshake
        if path in ("/", "/index.html"):
            response = connection.respond(HTTPStatus.OK, "")
            response.body = self.html
            del response.headers["Content-Type"]
            del response.headers["Content-Length"]
            response.headers["Content-Type"] = "text/html; charset=utf-8"
            response.headers["Content-Length"] = str(len(self.html))
            return response
        return connection.respond(HTTPStatus.NOT_FOUND, f"{path} is not here; the player is at /\n")

    async def handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        self.clients += 1
        client = f"client {self.clients} ({connection.remote_address[0]})"
        session: Any = None
        tasks: list[asyncio.Task] = []
        try:
            session = await compute.run_async(self.make_session, self.clients)
            self.log(f"{client} connected: {self.client.describe(session)}")
            await connection.send(json.dumps(self.client.hello(session)))
            c = self.client(session, connection, self.fps)
            tasks = [asyncio.create_task(c.receive()), asyncio.create_task(c.play())]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a closed connection or an error surfaces here
            self.log(f"{client} left after {c.frames_sent} frames")
        except ConnectionClosed:
            self.log(f"{client} disconnected mid-game; its session is closed, the server goes on")
        except Exception as exc:  # a failing session must not take the server down
            self.log(f"{client}: error {type(exc).__name__}: {exc}; its session is closed, the server goes on")
            try:
                await connection.send(json.dumps({"type": "error", "message": f"{type(exc).__name__}: {exc}"}))
            except ConnectionClosed:
                pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if session is not None:
                await compute.run_async(session.close)

    async def serve(self, ready: Callable[[str], None] | None = None, stop: asyncio.Event | None = None) -> None:
        from websockets.asyncio.server import serve

        async with contextlib.AsyncExitStack() as opened:
            try:
                server = await opened.enter_async_context(
                    serve(self.handle, self.host, self.port, process_request=self.process_request, max_size=2**16)
                )
            except OSError as exc:  # the port taken, an address this machine does not have, an unknown host name
                raise InvalidValue(
                    f"--host {self.host} --port {self.port}: cannot listen there ({exc.strerror or exc}); "
                    "choose another port (0: any free one) or host"
                ) from None
            port = server.sockets[0].getsockname()[1]
            host = f"[{self.host}]" if ":" in self.host else self.host
            url = f"http://{host}:{port}/"
            if not is_loopback(self.host):
                self.log(
                    f"warning: serving on {self.host}, reachable from other machines; anyone who can reach "
                    "it can play (the default --host 127.0.0.1 serves this machine only)"
                )
            self.log(f"serving the player on {url} (Ctrl+C stops)")
            if ready is not None:
                ready(url)
            await (stop.wait() if stop is not None else asyncio.get_running_loop().create_future())
