"""A loopback TCP relay whose open connections can be frozen: a dead connection, on demand.

After a node restart, a connection to the apiserver can stay open on the client's side while nothing
ever answers on it (the peer, its NAT entry or its route is gone without a reset). The operator
integration tests put this relay between the operator and a real apiserver and `freeze` it: every
connection open at that moment stops carrying bytes either way but stays open, and new connections
are relayed as usual, as they would reach a restarted apiserver.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

CHUNK = 65536
POLL_S = 0.2  # how often an idle pump looks at the freeze and stop flags


@dataclass
class Relay:
    """Listening on `port`, relaying every connection to `target` until stopped."""

    listener: socket.socket
    target: tuple[str, int]
    stopped: threading.Event = field(default_factory=threading.Event)
    _frozen: set[int] = field(default_factory=set)
    _open: dict[int, tuple[socket.socket, socket.socket]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def freeze(self) -> int:
        """Stop relaying on every open connection, leaving it open; how many were frozen."""
        with self._lock:
            self._frozen.update(self._open)
            return len(self._open)

    def accept_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                key = id(client)
                self._open[key] = (client, upstream)
            threading.Thread(target=self._pump, args=(key, client, upstream), daemon=True).start()

    def _pump(self, key: int, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        try:
            while not self.stopped.is_set():
                if key in self._frozen:  # hold both ends open, carry nothing
                    self.stopped.wait(POLL_S)
                    continue
                readable, _, _ = select.select(list(peer), [], [], POLL_S)
                for sock in readable:
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    peer[sock].sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._open.pop(key, None)
            client.close()
            upstream.close()


@contextlib.contextmanager
def tcp_relay(host: str, port: int) -> Iterator[Relay]:
    """A relay on a free loopback port to `host:port`, stopped (every connection closed) on exit."""
    listener = socket.create_server(("127.0.0.1", 0))
    relay = Relay(listener, (host, port))
    thread = threading.Thread(target=relay.accept_forever, name="tcp-relay", daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        relay.stopped.set()
        listener.close()
        thread.join(5)
