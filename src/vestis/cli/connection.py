"""Where the CLI's requests go: a remote API (hosted or self-hosted), or, with no base URL and no
credentials, the embedded server with the local engine. One client code path for both."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vestis.runs.spec import DEFAULT_BASE_URL

EMBEDDED_NOTICE = (
    "No --base-url and no credentials: using the embedded vestis server with the {engine} engine "
    "(data in {data_dir})."
)
#: The engine of the embedded server: `local` (the default) or `module:attr`, as for
#: `vestis serve --engine`.
EMBEDDED_ENGINE_ENV = "VESTIS_EMBEDDED_ENGINE"


@dataclass(frozen=True)
class Credentials:
    """Connection flags after the environment fallbacks (VESTIS_*). Never printed."""

    base_url: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None

    @property
    def embedded(self) -> bool:
        return not self.base_url and not self.token and not self.username and not self.password

    @property
    def local_engine(self) -> bool:
        """The requests go to the embedded server with its default engine, the local one."""
        return self.embedded and (os.environ.get(EMBEDDED_ENGINE_ENV) or "local") == "local"

    def validate(self, ctx: Any) -> None:
        """Usage errors (exit 2) for incomplete credentials."""
        from vestis.cli.usage import usage_error

        if bool(self.username) != bool(self.password):
            usage_error(ctx, "--username and --password must be given together")
        if self.base_url and not (self.token or self.username):
            usage_error(
                ctx,
                f"--base-url {self.base_url} needs credentials: --token (or VESTIS_TOKEN), or "
                "--username and --password (or VESTIS_USERNAME and VESTIS_PASSWORD)",
            )


@dataclass
class Connection:
    client: Any  # vestis.client.Client
    base_url: str
    embedded: bool


def embedded_data_dir() -> Path:
    """VESTIS_DATA_DIR, else the user's data dir for vestis."""
    override = os.environ.get("VESTIS_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("vestis"))


def start_embedded(
    stack: ExitStack,
    announce: Callable[[str], None] | None,
    data_dir: Path | None = None,
    *,
    outputs: bool = True,
) -> Any:
    """Start the embedded server (stopped when `stack` closes) on `data_dir` (default: the
    user's, `embedded_data_dir()`); says so through `announce`. `outputs=False` for a command
    that makes no outputs and uploads no identity: the server starts without workers and
    without loading the engine."""
    from vestis.server.embedded import EmbeddedServer

    data_dir = data_dir or embedded_data_dir()
    engine = os.environ.get(EMBEDDED_ENGINE_ENV) or "local"
    if announce is not None:
        announce(EMBEDDED_NOTICE.format(engine=engine, data_dir=data_dir))
    # the CLI's own server only answers the API for this command: no studio pages to load
    return stack.enter_context(
        EmbeddedServer(data_dir, engine=engine, studio=False, outputs=outputs)
    )


@contextmanager
def connect(
    creds: Credentials,
    *,
    on_retry: Callable[[int, float, str], None] | None = None,
    announce: Callable[[str], None] | None = None,
    max_retries: int = 5,
    data_dir: Path | None = None,
    outputs: bool = True,
) -> Iterator[Connection]:
    """A client for `creds`; starts (and stops) the embedded server when there are none, on
    `data_dir` when given (`outputs`: see `start_embedded`)."""
    from vestis.client import Client

    with ExitStack() as stack:
        if creds.embedded:
            server = start_embedded(stack, announce, data_dir, outputs=outputs)
            client = Client(
                base_url=server.base_url,
                token=server.token,
                max_retries=max_retries,
                on_retry=on_retry,
            )
            base_url, embedded = server.base_url, True
        else:
            base_url = (creds.base_url or DEFAULT_BASE_URL).rstrip("/")
            if creds.token:
                client = Client(
                    base_url=base_url,
                    token=creds.token,
                    max_retries=max_retries,
                    on_retry=on_retry,
                )
            else:
                client = Client(
                    base_url=base_url,
                    username=creds.username,
                    password=creds.password,
                    max_retries=max_retries,
                    on_retry=on_retry,
                )
            embedded = False
        stack.callback(client.close)
        yield Connection(client=client, base_url=base_url, embedded=embedded)
