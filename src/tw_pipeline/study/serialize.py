"""Write a study back to YAML: complete, sweep-free and byte-stable.

Used for the per-point files of `twpipe expand` and for the exact resolved
config kept in every run folder. Every key is written, defaults included, so
a file says everything the run depended on.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from tw_pipeline.study.models import Study

__all__ = ["config_hash", "study_to_dict", "study_to_yaml"]


def study_to_dict(study: Study, relative_to: Path | None = None) -> dict[str, Any]:
    """Return the study as plain data, without its sweep.

    Args:
        study: a study whose paths are absolute.
        relative_to: folder the written file will live in; paths are made
            relative to it so that a study and its data can move together.
            None keeps the paths absolute.
    """
    data = study.model_dump(mode="json", by_alias=True, exclude={"sweep"})
    if relative_to is not None:
        for sample in data["data"]["samples"].values():
            sample["files"] = [_relative(f, relative_to) for f in sample["files"]]
        data["output"]["dir"] = _relative(data["output"]["dir"], relative_to)
    return data


def study_to_yaml(
    study: Study, relative_to: Path | None = None, header: str | None = None
) -> str:
    """Render the study as YAML text, keys in the order of the models."""
    text = yaml.safe_dump(
        study_to_dict(study, relative_to),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=88,
    )
    if header:
        comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
        text = comment + text
    return text


def config_hash(study: Study) -> str:
    """A hash of everything that determines a point's result.

    The paths are taken absolute, so the original study file and an
    expanded point file of the same point hash alike wherever they live.
    The point name, the output folder, the plot settings and the batch
    resources do not change a result and are left out.
    """
    data = study_to_dict(study)
    data.pop("point", None)
    data.pop("output", None)
    data.pop("report", None)
    data.pop("batch", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _relative(path: str, folder: Path) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()
