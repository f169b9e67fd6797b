"""Server settings: one dataclass, filled from the command line (or by the embedded server)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "VESTIS_DATA_DIR"
#: Threads that run the request handlers which are not async (anyio's default, made explicit
#: at start-up so the database pool can be sized for them).
REQUEST_THREADS = 40
#: The SQLite database in the data dir (when no --database-url is given).
DATABASE_FILE = "vestis.db"


@dataclass
class ServerSettings:
    """Everything `vestis serve` can be told. Paths and URLs are resolved by the properties."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    #: Base of the signed links (uploads, outputs, downloads); default http://{host}:{port}.
    public_base_url: str | None = None
    workers: int = 2
    #: Job creations per user per minute; 0 = unlimited.
    rate_limit_per_minute: int = 5
    #: The window of that limit in seconds (60; shorter only to test clients that keep to it).
    rate_limit_window_seconds: int = 60
    #: FASHN `/v1/run` requests per user per minute (FASHN's own limit); 0 = unlimited.
    fashn_runs_per_minute: int = 50
    database_url: str | None = None
    #: `s3://BUCKET[/prefix]` for blobs in an S3-compatible store; None = the data dir.
    blob_store: str | None = None
    #: "local", or any "module:attr" import path of an Engine class or factory.
    engine: str = "local"
    #: Fault injection, e.g. "429=0.2,500=0.1,drop=0.05,seed=7" (off when None).
    faults: str | None = None
    access_token_ttl_seconds: int = 3600
    #: API tokens made with `POST /auth/token` may outlive the token that made them.
    allow_long_tokens: bool = False
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    initial_credits: float = 1000
    allow_private_urls: bool = False
    #: Seconds between `: keepalive` comments on SSE streams.
    sse_keepalive_seconds: float = 15.0
    #: An SSE stream ends after this many seconds (0: never) with a `: stream lifetime reached`
    #: comment; clients reconnect (the SDK's wait goes on by polling). Behind
    #: a proxy that cuts long requests, or to spread streams again over API processes.
    sse_max_seconds: float = 0.0
    #: Model swaps from engines that repaint the whole photo (remote, generative) get their
    #: pixels outside the swap region put back from the input photo.
    garment_lock: bool = True
    #: An output whose making was cut short (server stopped, worker killed) this many times
    #: fails instead of being tried again.
    max_job_attempts: int = 3
    #: PostgreSQL: a worker whose heartbeat is older than this is presumed dead and its tasks
    #: are given to another (heartbeats every sixth of it). Both queues also sweep this often
    #: for unfinished work no task attends (`OutputPipeline.sweep`).
    stalled_after_seconds: float = 30.0
    #: An output whose face is not the identity is made again with another seed up to this
    #: many times (the best kept; delivered with a warning if none is the identity).
    identity_retries: int = 2
    #: Serve the review studio at /studio.
    studio: bool = True
    #: Load the engine when the app starts. Off only for a process that makes no outputs
    #: (`workers` 0) and checks no faces: the CLI's embedded server for a command that only
    #: reads or deletes (`vestis identities list`), which then starts without the engine's
    #: image libraries.
    load_engine: bool = True

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()

    @property
    def pool_size(self) -> int:
        """Database connections one process may hold at once: every request thread, the job
        and FASHN workers, webhook lanes and the status fast path, with room to spare."""
        return REQUEST_THREADS + 2 * max(1, self.workers) + 8

    @property
    def base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / DATABASE_FILE}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


def data_dir_from(value: str | Path | None) -> Path:
    """The data dir given on the command line, else `VESTIS_DATA_DIR`; an error if neither."""
    if value:
        return Path(value)
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    raise ValueError(f"No data directory: pass --data-dir DIR or set {DATA_DIR_ENV}.")
