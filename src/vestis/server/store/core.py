"""What one process has opened and loaded: settings, database, blob store, URL signer, engine.

The output pipeline, the FASHN service and the services that need more than a session take a
`ServerCore`, never the process's `ServerState` (`vestis.server.process.state`), which adds the
background runtime and opens it all: so nothing below the process wiring imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vestis.server.settings import ServerSettings
from vestis.server.store.blobs import BlobStore
from vestis.server.store.db import Database
from vestis.server.store.signing import UrlSigner

if TYPE_CHECKING:
    from vestis.engines.base import Engine


@dataclass
class ServerCore:
    settings: ServerSettings
    db: Database
    blobs: BlobStore
    signer: UrlSigner
    engine_name: str = "unloaded"
    engine: Engine | None = None
