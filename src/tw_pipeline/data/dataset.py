"""The loaded events of a study: the hand-off from the load stage to training."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "SampleSummary"]


@dataclass(frozen=True)
class SampleSummary:
    """What the load stage kept of one sample, for logs and provenance.

    Attributes:
        name: sample name from the study.
        kind: "signal" or "background".
        files: the files read, as given (resolved) in the study.
        events_read: events in the files before any selection.
        events_selected: events left after the selections (and dropped values).
        sum_weights: sum of the event weights after selection and scale factor.
        effective_events: (sum w)^2 / sum w^2, the statistical power of the sample.
        negative_weight_events: events with a weight below zero.
    """

    name: str
    kind: str
    files: tuple[str, ...]
    events_read: int
    events_selected: int
    sum_weights: float
    effective_events: float
    negative_weight_events: int


@dataclass(frozen=True)
class Dataset:
    """All selected events of a study, one row per event.

    Attributes:
        features: input variables, float32, shape (events, variables), columns
            in the order of ``variables``.
        labels: 1 for signal events, 0 for background, int8.
        weights: true event weights (weight column times sample scale), float64.
        sample_index: index into ``sample_names`` of each event's sample, int16.
        event_number: event numbers (int64) when the study names the column.
        variables: input variable names, in column order.
        sample_names: names of the samples, in study order.
        summaries: per-sample bookkeeping of the load.
        decorrelated: values of the column named by ``adversary.variable``
            (float64), the variable the score is to be decorrelated from;
            None without such an adversary.
        systematic: the events of the systematic samples (class systematic),
            selected and weighted like these but kept apart, so that nothing
            that trains or evaluates the classifier counts them; their label
            is that of the sample each varies. None without such samples.
    """

    features: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    sample_index: np.ndarray
    event_number: np.ndarray | None
    variables: tuple[str, ...]
    sample_names: tuple[str, ...]
    summaries: tuple[SampleSummary, ...] = field(default=())
    decorrelated: np.ndarray | None = None
    systematic: Dataset | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, rows: np.ndarray) -> Dataset:
        """Return the events at ``rows`` (indices or a boolean mask)."""
        return Dataset(
            features=self.features[rows],
            labels=self.labels[rows],
            weights=self.weights[rows],
            sample_index=self.sample_index[rows],
            event_number=None if self.event_number is None else self.event_number[rows],
            variables=self.variables,
            sample_names=self.sample_names,
            summaries=self.summaries,
            decorrelated=None if self.decorrelated is None else self.decorrelated[rows],
            systematic=self.systematic,
        )
