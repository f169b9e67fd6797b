"""`--dry-run`: what a run would upload and submit and what it would cost, with no request."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vestis.runs.inputs import list_images, project_name, sha256_file
from vestis.runs.instructions import count_outputs
from vestis.runs.journal import Journal
from vestis.runs.outfit import RULE, clash_message, clashes
from vestis.runs.spec import RunSpec


@dataclass
class FolderPlan:
    folder: str
    output: str
    project: str
    upload: list[str] = field(default_factory=list)
    already_uploaded: list[str] = field(default_factory=list)
    job: str = "submit"  # submit | resume <job id> | complete | error
    outputs: int = 0
    credits: float | None = 0.0
    problem: str | None = None


def job_credits(spec: RunSpec, images: int) -> float | None:
    """Credits the job would cost (`vestis.contract.pricing`, the server's own price list); None
    when an instruction is not valid enough to be priced."""
    from vestis.contract import Instruction, pricing
    from vestis.contract.products import GarmentRecolorRequest, PackshotInstruction

    if spec.kind == "swap":
        return images * pricing.model_swap_output_cost()
    if spec.kind == "recolor":
        fields = {"reference_text": "#000000", **spec.recolor}  # a target, for the price only
        request = GarmentRecolorRequest(project_id="p", images=["f"] * images, **fields)
        return pricing.recolor_cost(request)
    if spec.kind == "packshot":
        try:
            parsed = [PackshotInstruction.model_validate(raw) for raw in spec.instructions]
        except ValueError:
            return None
        return sum(pricing.packshot_output_cost(i) * i.num_variations for i in parsed)
    total = 0.0
    try:
        for raw in spec.instructions or [{}]:
            instruction = Instruction.model_validate(raw)
            total += pricing.flat_output_cost(instruction) * instruction.num_variations
    except ValueError:
        return None
    return total


def count_job_outputs(spec: RunSpec, images: int) -> int:
    if spec.kind == "swap":
        return images
    if spec.kind == "recolor":
        return images * int(spec.recolor.get("num_variations", 1))
    return count_outputs(spec.instructions)


def plan_folder(spec: RunSpec, folder: Path, output: Path, outfit_rule: bool = False) -> FolderPlan:
    """What a run would do with one folder; `outfit_rule` as in `folder.scan_folder`."""
    plan = FolderPlan(folder=str(folder), output=str(output), project=project_name(folder))
    if not folder.is_dir():
        plan.job, plan.problem = "error", f"Input folder not found: {folder}"
        return plan
    files = list_images(folder, swap=spec.kind == "swap")
    if not files:
        plan.job, plan.problem = "error", f"No images found in {folder}"
        return plan
    if outfit_rule and spec.kind == "flat" and (found := clashes(files)):
        plan.job, plan.problem = "error", clash_message(folder, found)
        return plan
    journal = Journal.read(output) or {}
    uploads = journal.get("uploads", {})
    for path in files:
        saved = uploads.get(path.name)
        if isinstance(saved, dict) and saved.get("sha256") == sha256_file(path):
            plan.already_uploaded.append(path.name)
        else:
            plan.upload.append(path.name)
    job = journal.get("job") or {}
    if journal.get("completed"):
        plan.job = "complete"
    elif job.get("job_id") and job.get("status") not in ("failed", "aborted"):
        plan.job = f"resume {job['job_id']}"
    plan.outputs = count_job_outputs(spec, len(files))
    plan.credits = job_credits(spec, len(files)) if plan.job == "submit" else 0.0
    return plan


def describe(plans: list[FolderPlan], spec: RunSpec) -> list[str]:
    """The human listing of a dry run."""
    lines: list[str] = [f"Flat-to-model: {RULE}"] if spec.kind == "flat" else []
    total_credits: float | None = 0.0
    for plan in plans:
        lines.append(f"{plan.folder} -> {plan.output} (project {plan.project})")
        if plan.problem:
            lines.append("  would fail: " + plan.problem.replace("\n", "\n    "))
            continue
        for name in plan.upload:
            lines.append(f"  upload  {name}")
        for name in plan.already_uploaded:
            lines.append(f"  skip    {name} (already uploaded)")
        if plan.job == "submit":
            credits = "unknown" if plan.credits is None else f"{plan.credits:g}"
            outputs = f"{plan.outputs} output{'' if plan.outputs == 1 else 's'}"
            lines.append(f"  submit  1 {spec.title} job, {outputs}, {credits} credits")
        elif plan.job == "complete":
            lines.append("  nothing to do (already complete)")
        else:
            lines.append(f"  wait    {plan.job} (already submitted; no new job, no credits)")
        if total_credits is not None:
            total_credits = None if plan.credits is None else total_credits + plan.credits
    jobs = sum(1 for p in plans if p.job == "submit")
    credits = "unknown (no price list)" if total_credits is None else f"{total_credits:g}"
    lines.append(f"Total: {jobs} job(s) to submit, {credits} credits")
    return lines


def as_event(plans: list[FolderPlan]) -> dict[str, Any]:
    return {"folders": [plan.__dict__ for plan in plans]}
