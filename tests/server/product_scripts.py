"""The HTTP sequence of the public `create_packshot.py`, `garment_recolor.py` and
`create_identity.py` (spec §3, §9), re-implemented from their behaviour (not their code) to
prove the server runs them unchanged: project (409 fallback), uploads (200 only, PUT 200/201),
the job (exactly 202), polling with the 404 retry and the 429 backoff, results, downloads by
plain GET, files named `output_<a>_<b>_v<version>.<fmt>` and `metadata.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from tests.server.reference_client import ReferenceScript, Run, ScriptFailed


class ProductScript(ReferenceScript):
    def upload_folder(self, folder: Path, run: Run) -> list[str]:
        files = self.scan(folder, swap=False)[:10]  # both scripts truncate to 10
        if not files:
            raise ScriptFailed(f"No images found in {folder}")
        run.project_id = self.create_project(folder.name, run)
        file_ids = [f for f in (self.upload(p, run) for p in files) if f]
        if not file_ids:
            raise ScriptFailed("No images uploaded")
        return file_ids

    def download_named(self, job_id: str, output: Path, run: Run, packshot: bool) -> dict[str, Any]:
        """Packshot: `output_<group (instruction)>_<image (variation)>`; recolour:
        `output_<image (input)>_<group (variation)>`; the format from `output_format`."""
        response = self.call("GET", f"/jobs/{job_id}/results")
        if response.status_code != 200:
            raise ScriptFailed(f"Failed to get results: {response.status_code}")
        body = response.json()
        output.mkdir(parents=True, exist_ok=True)
        for result in body.get("results", []):
            url = (result.get("output") or {}).get("full_size")
            if result.get("status") != "completed" or not url:
                continue
            image, group = result.get("image_index", 0), result.get("group_index", 0)
            first, second = (group, image) if packshot else (image, group)
            version, fmt = result.get("version", 0), result.get("output_format", "jpg")
            filename = f"output_{first}_{second}_v{version}.{fmt}"
            got = httpx.get(url, timeout=30)  # plain GET, no auth
            got.raise_for_status()
            (output / filename).write_bytes(got.content)
            run.files.append(filename)
        (output / "metadata.json").write_text(json.dumps(body, indent=2))
        return body

    def create_packshot(
        self, folder: Path, output: Path, instructions: list[dict[str, Any]]
    ) -> tuple[Run, dict[str, Any]]:
        run = Run()
        file_ids = self.upload_folder(folder, run)
        payload = {
            "project_id": run.project_id,
            "images": file_ids,
            "instructions": instructions,
            "post_process": False,
            "options": {"model": "auto"},
        }
        run.job_id = self.create_job("/create-packshot", payload)
        if self.wait(run.job_id, run) != "completed":
            raise ScriptFailed("Job did not complete successfully")
        return run, self.download_named(run.job_id, output, run, packshot=True)

    def garment_recolor(
        self, folder: Path, output: Path, reference_text: str | None = None,
        reference_image: Path | None = None, num_variations: int = 1,
        processing_size: int = 2048,
    ) -> tuple[Run, dict[str, Any]]:  # fmt: skip
        run = Run()
        file_ids = self.upload_folder(folder, run)
        payload: dict[str, Any] = {
            "project_id": run.project_id,
            "images": file_ids,
            "num_variations": num_variations,
            "model": "auto",
            "processing_size": processing_size,
            "post_process": True,
            "use_anchor": True,
            "add_ai_watermark": False,
        }
        if reference_image is not None:
            reference_id = self.upload(reference_image, run)
            if reference_id is None:
                raise ScriptFailed("Failed to upload the reference image")
            payload["reference_image"] = reference_id
        if reference_text:
            payload["reference_text"] = reference_text
        run.job_id = self.create_job("/garment-recolor", payload)
        if self.wait(run.job_id, run) != "completed":
            raise ScriptFailed("Job did not complete successfully")
        return run, self.download_named(run.job_id, output, run, packshot=False)
