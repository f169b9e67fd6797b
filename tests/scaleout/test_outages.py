"""PostgreSQL stopped and started again while a job's output is being made: the task that
could not record its output runs again once the database is back (or, its runs spent, the sweep
defers the work again), so every output ends, done or failed and refunded, without a restart
of any vestis process. The database is a cluster of this test's own (`.ci/postgres.sh`)."""

from __future__ import annotations

import base64
import glob
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text
from tests.fashn.conftest import credits_of, run, wait_final
from tests.server.conftest import api_for, person_image
from tests.support.gate import Gate, wait_until
from tests.support.server_process import GATED_FAKE_ENGINE, REPO_ROOT, ServerProcess


@dataclass
class Cluster:
    folder: Path
    url: str

    def _pg_ctl(self, *args: str) -> None:
        binary = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
        command = [binary, "-D", str(self.folder / "data"), "-w", *args]
        if os.getuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        """Again, with the options `.ci/postgres.sh` gave it."""
        port = make_url(self.url).port
        options = f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-l", str(self.folder / "log"), "-o", options, "start")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    script = REPO_ROOT / ".ci" / "postgres.sh"
    # not under pytest's tmp_path: its folders are closed to the `postgres` user
    folder = Path(tempfile.mkdtemp(prefix="vestis-pg."))
    started = subprocess.run(
        [str(script), "start", str(folder)], capture_output=True, text=True, timeout=300
    )
    if started.returncode != 0:
        pytest.skip(f"no PostgreSQL cluster of its own: {started.stderr.strip()}")
    base = started.stdout.strip()
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text('CREATE DATABASE "outage"'))
    engine.dispose()
    url = make_url(base).set(database="outage").render_as_string(hide_password=False)
    try:
        yield Cluster(folder, url)
    finally:
        subprocess.run([str(script), "stop", str(folder)], capture_output=True, timeout=120)


def _balance(server: ServerProcess) -> float:
    login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
    return float(login.json()["user"]["credits"])


def test_postgresql_restarted_while_an_output_is_made(cluster: Cluster, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    server = ServerProcess(
        tmp_path, engine=GATED_FAKE_ENGINE, workers=1, database_url=cluster.url, env=gate.env
    )
    with server:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(1), "outage"),
            "project_id": api.project("outage"),
            "images": [api.upload(f"{n}.jpg", person_image(10 + n)) for n in range(2)],
        }
        before = _balance(server)
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        # at the gate, past its reads: an output shown processing may still be loading its
        # inputs, and would fail there, not in record (a red run under load)
        wait_until(lambda: gate.waiting() == 1, what="an output held at the gate")
        api.http.close()

        cluster.stop()
        gate.open()  # the engine makes it; recording it finds no database
        # the traceback of the recording that found no database (`records.record`)
        wait_until(lambda: "in record" in server.log(), what="recording failed")
        cluster.start()

        api = api_for(server)
        final = api.wait(job_id, timeout=240)
        results = api.http.get(f"/jobs/{job_id}/results").json()
        done = [r["status"] for r in results["results"]]
        assert final["status"] in ("completed", "failed") and set(done) <= {"completed", "failed"}
        assert results["credits_used"] == done.count("completed")
        assert before - _balance(server) == done.count("completed")
        api.http.close()


def test_the_sweep_takes_up_work_whose_task_failed_for_good(tmp_path: Path) -> None:
    """An output's task ended `failed` (its runs spent while the database was away, say): the
    workers' sweep finds the job with no task attending it and defers it again."""
    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, workers=1, env=gate.env) as server:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(1), "swept"),
            "project_id": api.project("swept"),
            "images": [api.upload(f"{n}.jpg", person_image(10 + n)) for n in range(2)],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        results = lambda: api.http.get(f"/jobs/{job_id}/results").json()["results"]  # noqa: E731
        wait_until(lambda: "processing" in [r["status"] for r in results()], what="one held")
        waiting = next(r["output_id"] for r in results() if r["status"] == "pending")
        engine = create_engine(server.db_url)
        with engine.begin() as db:
            ended = db.execute(
                text(
                    "UPDATE procrastinate_jobs SET status = 'failed' "
                    "WHERE task_name = 'output' AND args->>'arg' = :id AND status = 'todo'"
                ),
                {"id": waiting},
            )
            assert ended.rowcount == 1
        engine.dispose()
        gate.open()
        assert api.wait(job_id, timeout=120)["status"] == "completed"
        assert "the sweep deferred again" in server.log()
        api.http.close()


def _prediction_statuses(client: httpx.Client, ids: list[str]) -> list[str]:
    return [client.get(f"/v1/status/{i}").json()["status"] for i in ids]


def test_the_sweep_takes_up_predictions_whose_task_failed_for_good(tmp_path: Path) -> None:
    """FASHN predictions whose tasks ended `failed` (runs spent while the database was away,
    say) are found by the sweep, without a restart: one is made, one whose attempts were spent
    already (its workers died on it) is failed and refunded. Credits add up."""
    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, workers=1, env=gate.env) as server:
        client = server.client()
        before = credits_of(client)
        ids = []
        for n in range(3):
            photo = base64.b64encode(person_image(20 + n)).decode()
            started = run(client, {"model_image": f"data:image/jpeg;base64,{photo}"})
            assert started.status_code == 200, started.text
            ids.append(started.json()["id"])
        # one worker thread: the first at the gate, the other two wait in the queue
        wait_until(lambda: gate.waiting() == 1, what="the first prediction at the gate")
        assert _prediction_statuses(client, ids) == ["processing", "in_queue", "in_queue"]
        made, spent = ids[1], ids[2]
        engine = create_engine(server.db_url)
        with engine.begin() as db:
            ended = db.execute(
                text(
                    "UPDATE procrastinate_jobs SET status = 'failed' WHERE task_name = "
                    "'fashn_prediction' AND args->>'arg' IN (:a, :b) AND status = 'todo'"
                ),
                {"a": made, "b": spent},
            )
            assert ended.rowcount == 2
            db.execute(
                text("UPDATE fashn_predictions SET attempts = 3 WHERE public_id = :id"),
                {"id": spent},
            )
        engine.dispose()
        gate.open()

        finals = [wait_final(client, i, timeout=120).json() for i in ids]
        assert [f["status"] for f in finals] == ["completed", "completed", "failed"], finals
        assert finals[2]["error"]["name"] == "PipelineError"
        assert "cut short 3 times" in finals[2]["error"]["message"]
        assert credits_of(client) == before - 2  # one credit each for the two made
        assert "the sweep deferred again" in server.log()
        client.close()
