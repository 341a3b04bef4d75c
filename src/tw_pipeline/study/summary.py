"""A one-line description of what a study will run."""

from __future__ import annotations

from tw_pipeline.study.loading import StudyFile

__all__ = ["describe_study"]


def describe_study(study_file: StudyFile) -> str:
    """Summarise samples, variables, folds and points in one line."""
    study = study_file.study
    signal = study.signal_samples()
    background = study.background_samples()
    folds = study.folds
    trained = "all" if folds.train == "all" else ",".join(map(str, folds.trained))
    rule = "by event number" if study.data.event_number else "seeded, stratified"
    points = len(study_file.points)
    output = study_file.points[0][1].output.dir / study.study
    systematic = study.data.systematic_samples()
    varied = f"; systematic: {', '.join(systematic)}" if systematic else ""
    adversary = ""
    if study.adversary is not None:
        target = study.adversary.sample or (
            f"the variable {study.adversary.variable} ({study.adversary.events})"
        )
        adversary = f", adversary against {target}"
    return (
        f"study '{study.study}': "
        f"{len(study.data.samples)} samples (signal: {', '.join(signal)}; "
        f"background: {', '.join(background)}{varied}){adversary}, "
        f"{len(study.variables)} variables, "
        f"{folds.k} folds ({rule}, training {trained}), "
        f"{points} point{'s' if points != 1 else ''} -> {output}"
    )
