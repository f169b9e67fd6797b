"""Remote engines: the hosted On-Model and FASHN services (or another vestis server) doing the
image work behind `vestis serve`, reached through vestis's own SDK (`vestis.client`).

Imports `client`, `contract` and `engines.base` (and the local engine's garment tools).

Each is a job-level engine (`vestis.engines.base.JobEngine`): the server hands it a whole job,
it checkpoints the remote ids as soon as the upstream accepts the work, and it keeps to the
upstream account's limits together with every other worker of the process.
"""

from vestis.engines.remote.config import EngineConfigError, FashnAccount, OnModelAccount
from vestis.engines.remote.fashn import FashnEngine
from vestis.engines.remote.onmodel import OnModelEngine

__all__ = ["EngineConfigError", "FashnAccount", "FashnEngine", "OnModelAccount", "OnModelEngine"]
