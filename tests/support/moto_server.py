"""moto's S3 in server mode (real HTTP, in a thread) on 127.0.0.1, for the contract suite."""

from __future__ import annotations

from types import TracebackType

from moto.server import ThreadedMotoServer

from app.storage.seaweed import free_ports


class MotoServer:
    def __init__(self) -> None:
        [self.port] = free_ports(1)
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def __enter__(self) -> MotoServer:
        self._server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()
