"""The study file, as pydantic models.

Every section of a study file is one model here. The models forbid unknown
keys, hold the bounds and the allowed choices, and carry a description for
each field; `twpipe schema` and the documentation are generated from them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tw_pipeline.errors import did_you_mean

__all__ = [
    "ACTIVATIONS",
    "JOB_FLAVOURS",
    "Adversary",
    "AdversaryNetwork",
    "Batch",
    "DataSection",
    "EarlyStopping",
    "Evaluation",
    "Folds",
    "Network",
    "Optimizer",
    "Output",
    "IterationEpochs",
    "Preprocess",
    "Pretrain",
    "Report",
    "Sample",
    "Schedule",
    "Study",
    "Sweep",
    "Training",
    "Yields",
]

# Hidden-layer activations that keras.activations provides (Keras 3); a test
# checks that each name resolves, so the list cannot drift from Keras.
ACTIVATIONS = (
    "celu",
    "elu",
    "exponential",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softplus",
    "softsign",
    "squareplus",
    "swish",
    "tanh",
)
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]

# Names that must be usable as folder names and batch-job arguments.
SafeName = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", max_length=120),
]


class Section(BaseModel):
    """Base of all study sections: unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


class Sample(Section):
    """One named sample: a physics process read from one or more files."""

    kind: Literal["signal", "background", "systematic"] = Field(
        alias="class",
        description="Whether the sample is signal or background for the "
        "classifier, or a systematic variation of another sample (see varies): "
        "a systematic sample is loaded, selected, weighted and folded like the "
        "others but never trained on as a class; it gives the distance between "
        "the nominal and the varied response and the adversary's target.",
    )
    varies: str | None = Field(
        default=None,
        description="For class systematic only: the nominal sample this one "
        "is a variation of, e.g. tW for a diagram-subtraction tW sample.",
    )
    files: list[Path] = Field(
        min_length=1,
        description="ROOT or HDF5 files of the sample; relative paths are "
        "resolved against the study file's folder. Events of all files "
        "are concatenated.",
    )
    key: str | None = Field(
        default=None,
        description="HDF5 key (group path) or ROOT tree name inside the files. "
        "May be left out when a file holds exactly one table or tree.",
    )
    selection: str | None = Field(
        default=None,
        description="Cut applied to this sample only, on top of data.selection, "
        "e.g. 'njets >= 2'.",
    )
    scale: float = Field(
        default=1.0,
        gt=0,
        description="Factor multiplying every event weight of the sample "
        "(cross-section or luminosity correction).",
    )
    label: str | None = Field(
        default=None,
        description="Name shown in plots; the sample's name when left out.",
    )

    @field_validator("files", mode="before")
    @classmethod
    def _single_file_as_list(cls, value: Any) -> Any:
        # A lone path is a common shorthand for a one-file sample.
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _varies_only_for_systematic(self) -> Sample:
        if self.kind == "systematic" and self.varies is None:
            msg = (
                "a systematic sample must say which nominal sample it varies; "
                "add e.g. 'varies: tW'"
            )
            raise ValueError(msg)
        if self.kind != "systematic" and self.varies is not None:
            msg = f"varies applies to class systematic only, not to class {self.kind}"
            raise ValueError(msg)
        return self


class DataSection(Section):
    """Where the events come from and which of them to use."""

    samples: dict[SafeName, Sample] = Field(
        description="Named samples; at least one signal and one background.",
    )
    weight: str | None = Field(
        default=None,
        description="Column holding the event weight; every event weighs 1 "
        "when left out.",
    )
    selection: str | None = Field(
        default=None,
        description="Cut applied to every sample, e.g. 'reg2j2b == 1 and OS == 1'. "
        "Comparisons, and/or/not, arithmetic and parentheses are allowed.",
    )
    event_number: str | None = Field(
        default=None,
        description="Column holding the event number. When set, event i goes to "
        "fold eventNumber % k, so folds are deterministic and a model never "
        "scores events it was trained on, also when applied later.",
    )
    non_finite: Literal["fail", "drop"] = Field(
        default="fail",
        description="What to do with events holding NaN or infinite values: "
        "stop with a report of where they are (fail), or drop them (drop).",
    )

    @model_validator(mode="after")
    def _both_classes_present(self) -> DataSection:
        classes = {sample.kind for sample in self.samples.values()}
        missing = {"signal", "background"} - classes
        if missing:
            names = ", ".join(sorted(missing))
            msg = (
                f"at least one signal and one background sample are needed; "
                f"no sample has class {names}"
            )
            raise ValueError(msg)

        # A variation must vary a sample that is trained on.
        nominal = [n for n, s in self.samples.items() if s.kind != "systematic"]
        for name, sample in self.samples.items():
            if sample.kind == "systematic" and sample.varies not in nominal:
                msg = (
                    f"sample {name!r} varies {sample.varies!r}, which is not a "
                    "signal or background sample"
                )
                hint = did_you_mean(str(sample.varies), nominal)
                raise ValueError(f"{msg}; {hint}" if hint else msg)
        return self

    def systematic_samples(self) -> list[str]:
        """Names of the systematic samples, in file order."""
        return [n for n, s in self.samples.items() if s.kind == "systematic"]

    def nominal_samples(self) -> list[str]:
        """Names of the signal and background samples, in file order."""
        return [n for n, s in self.samples.items() if s.kind != "systematic"]


class Preprocess(Section):
    """How inputs are scaled and events weighted before training."""

    scaler: Literal["standard", "minmax", "robust", "none"] = Field(
        default="standard",
        description="Input scaling, fitted on the training folds only: standard "
        "(zero mean, unit variance), minmax (to [0, 1]), robust (median and "
        "interquartile range) or none.",
    )
    balance_classes: bool = Field(
        default=True,
        description="Rescale signal training weights so that their sum equals "
        "the background's.",
    )
    negative_weights: Literal["keep", "zero", "abs", "drop"] = Field(
        default="keep",
        description="Training treatment of events with negative weight: keep "
        "them, set them to zero, use their absolute value, or drop them. "
        "Evaluation always uses the true weights.",
    )


class Network(Section):
    """The fully connected classifier."""

    hidden_layers: int = Field(
        default=3, ge=1, le=100, description="Number of hidden layers."
    )
    nodes: int | list[Annotated[int, Field(ge=1)]] = Field(
        default=64,
        description="Nodes per hidden layer: one number for all layers, or a "
        "list with one width per layer.",
    )
    activation: Activation = Field(  # type: ignore[valid-type]
        default="relu", description="Activation of the hidden layers."
    )
    dropout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout rate after each hidden layer (0 disables it).",
    )
    batch_norm: bool = Field(
        default=False,
        description="Batch normalisation after each hidden layer.",
    )
    l2: float = Field(
        default=0.0, ge=0.0, description="L2 penalty on the hidden-layer weights."
    )

    @field_validator("nodes")
    @classmethod
    def _positive_width(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int) and value < 1:
            msg = "nodes must be at least 1"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _widths_match_layers(self) -> Network:
        if isinstance(self.nodes, list) and len(self.nodes) != self.hidden_layers:
            msg = (
                f"nodes lists {len(self.nodes)} widths but hidden_layers is "
                f"{self.hidden_layers}; give one width per layer or a single number"
            )
            raise ValueError(msg)
        return self

    @property
    def widths(self) -> list[int]:
        """The width of every hidden layer, in order."""
        if isinstance(self.nodes, list):
            return list(self.nodes)
        return [self.nodes] * self.hidden_layers


class Schedule(Section):
    """A decay of the learning rate over training steps."""

    kind: Literal["exponential", "cosine", "inverse_time"] = Field(
        alias="type",
        description="exponential: lr * rate^(step/steps); cosine: cosine decay "
        "to zero over steps; inverse_time: lr / (1 + rate * step/steps).",
    )
    decay_steps: int = Field(
        default=1000, ge=1, description="Training steps (batches) per decay period."
    )
    decay_rate: float = Field(
        default=0.96, gt=0, description="Decay rate (exponential, inverse_time)."
    )


class Optimizer(Section):
    """The optimizer and its learning rate."""

    name: Literal["sgd", "adam", "adamw", "rmsprop"] = Field(
        default="adam", description="Optimizer."
    )
    learning_rate: float = Field(default=0.001, gt=0, description="Learning rate.")
    momentum: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Momentum (sgd, rmsprop)."
    )
    nesterov: bool = Field(default=False, description="Nesterov momentum (sgd).")
    weight_decay: float | None = Field(
        default=None,
        ge=0.0,
        description="Decoupled weight decay (adamw; 0.004 when left out).",
    )
    schedule: Schedule | None = Field(
        default=None, description="Optional learning-rate decay."
    )

    @model_validator(mode="after")
    def _options_fit_optimizer(self) -> Optimizer:
        if self.nesterov and self.name != "sgd":
            msg = f"nesterov applies to sgd only, not to {self.name}"
            raise ValueError(msg)
        if self.momentum and self.name not in ("sgd", "rmsprop"):
            msg = f"momentum applies to sgd and rmsprop only, not to {self.name}"
            raise ValueError(msg)
        if self.weight_decay is not None and self.name != "adamw":
            msg = f"weight_decay applies to adamw only, not to {self.name}"
            raise ValueError(msg)
        return self


class EarlyStopping(Section):
    """Stop when the validation loss no longer improves."""

    patience: int = Field(
        default=10, ge=1, description="Epochs without improvement before stopping."
    )
    min_delta: float = Field(
        default=0.0, ge=0.0, description="Smallest change that counts as improvement."
    )


class Training(Section):
    """How each fold's network is trained."""

    epochs: int = Field(default=50, ge=1, description="Maximum number of epochs.")
    batch_size: int = Field(default=512, ge=1, description="Events per batch.")
    validation_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Share of the training folds held out for the validation "
        "loss (early stopping, checkpoint); the test fold is never used.",
    )
    early_stopping: EarlyStopping | None = Field(
        default_factory=EarlyStopping,
        description="Early stopping on the validation loss with the best "
        "weights restored; null trains for all epochs.",
    )
    seed: int = Field(
        default=1,
        ge=0,
        # Fold i trains with seed + i, and NumPy takes seeds below 2**32.
        le=2**32 - 100,
        description="Seed of the folds, initial weights and shuffling.",
    )


class Folds(Section):
    """k-fold cross-validation: each fold is the test set of one model."""

    k: int = Field(default=3, ge=2, le=100, description="Number of folds.")
    train: Literal["all"] | list[Annotated[int, Field(ge=0)]] = Field(
        default="all",
        description="Which folds get a model: all, or a list of fold indices "
        "(0 to k-1).",
    )

    @model_validator(mode="after")
    def _folds_in_range(self) -> Folds:
        if isinstance(self.train, list):
            outside = [i for i in self.train if i >= self.k]
            if outside:
                msg = f"folds {outside} do not exist with k={self.k} (use 0 to {self.k - 1})"
                raise ValueError(msg)
            if len(set(self.train)) != len(self.train):
                msg = f"fold indices repeat: {self.train}"
                raise ValueError(msg)
        return self

    @property
    def trained(self) -> list[int]:
        """Indices of the folds that get a model."""
        return list(range(self.k)) if self.train == "all" else sorted(self.train)


AxisValues = Annotated[list[Any], Field(min_length=1)]


class Sweep(Section):
    """Hyperparameter points: a grid times paired (zip) axes."""

    grid: dict[str, AxisValues] = Field(
        default_factory=dict,
        description="Key path -> values; every combination becomes a point "
        "(Cartesian product), e.g. network.nodes: [30, 50].",
    )
    zip: list[dict[str, AxisValues]] = Field(
        default_factory=list,
        description="Groups of key paths whose values vary together: the i-th "
        "values of all keys in a group form one setting. Each group multiplies "
        "the grid by its length.",
    )

    @field_validator("zip", mode="before")
    @classmethod
    def _single_group_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _paired_lengths_match(self) -> Sweep:
        for index, group in enumerate(self.zip):
            lengths = {key: len(values) for key, values in group.items()}
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{key}: {n}" for key, n in lengths.items())
                msg = f"zip group {index} pairs lists of different lengths ({shown})"
                raise ValueError(msg)
        return self

    def axes(self) -> list[str]:
        """All swept key paths, sorted."""
        keys = list(self.grid)
        for group in self.zip:
            keys.extend(group)
        return sorted(keys)


class Report(Section):
    """Which plots a run makes."""

    formats: list[Literal["png", "pdf", "svg"]] = Field(
        default_factory=lambda: ["png", "pdf"],
        min_length=1,
        description="File formats of every plot.",
    )
    variable_plots: bool = Field(
        default=True,
        description="Plot each input variable for signal and background.",
    )
    units: dict[str, str] = Field(
        default_factory=dict,
        description="Unit of an input variable for its axis labels, e.g. "
        "{mass_lep1jet1: GeV, pT_jet1: GeV}; variables left out are shown "
        "without a unit.",
    )
    html: bool = Field(
        default=True,
        description="Write a self-contained report.html per point and a "
        "summary.html per study, readable offline; the plots are then also "
        "written as PNG, which the pages embed.",
    )


class Yields(Section):
    """Expected event counts, for significances and purities."""

    signal: float = Field(
        gt=0,
        description="Expected signal events after the selection, e.g. for the "
        "analysis luminosity.",
    )
    background: float = Field(
        gt=0,
        description="Expected background events after the selection.",
    )


class Evaluation(Section):
    """What is computed next to AUC and loss: significances, baseline, ranking."""

    yields: Yields | None = Field(
        default=None,
        description="Expected signal and background events, used for the "
        "Asimov significance, S/sqrt(S+B) and purity. When left out, the "
        "weighted sums of the selected events are used, which are the yields "
        "when the weights are normalised to the luminosity.",
    )
    significance_bins: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Equal-width bins of the response in [0, 1] for the binned "
        "Asimov significance.",
    )
    bdt: bool = Field(
        default=True,
        description="Train a gradient-boosted decision tree (scikit-learn's "
        "HistGradientBoostingClassifier, default settings) on the same folds "
        "and weights, as a baseline for the network.",
    )
    bdt_events: int | None = Field(
        default=500_000,
        ge=1000,
        description="Most training events the decision tree trains on, drawn "
        "at random (seeded) from its training folds when they hold more; "
        "null trains on all. A baseline does not need millions of events: on "
        "the benchmark data its test AUC moves by 0.0003 between 1,333,333 "
        "and 500,000 events, while its time and memory shrink with the "
        "events (docs/performance.md).",
    )
    permutation_repeats: int = Field(
        default=3,
        ge=0,
        le=100,
        description="Shuffles per input variable for the permutation importance "
        "on the test folds; 0 switches the permutation ranking off.",
    )


class AdversaryNetwork(Section):
    """The adversary's fully connected network, fed with the classifier score."""

    hidden_layers: int = Field(
        default=2, ge=1, le=20, description="Number of hidden layers."
    )
    nodes: int = Field(default=16, ge=1, description="Nodes per hidden layer.")
    activation: Activation = Field(  # type: ignore[valid-type]
        default="relu", description="Activation of the hidden layers."
    )


class Pretrain(Section):
    """Epochs of the classifier alone, then of the adversary on it, frozen."""

    classifier: int = Field(
        default=10, ge=0, le=100000, description="Epochs of the classifier alone."
    )
    adversary: int = Field(
        default=10,
        ge=0,
        le=100000,
        description="Epochs of the adversary on the pre-trained, frozen classifier.",
    )


class IterationEpochs(Section):
    """Epochs of the classifier and of the adversary in each alternating iteration."""

    classifier: int = Field(
        default=1,
        ge=0,
        le=100000,
        description="Epochs of the classifier against the adversary.",
    )
    adversary: int = Field(
        default=1,
        ge=0,
        le=100000,
        description="Epochs of the adversary on the updated classifier.",
    )


class Adversary(Section):
    """Adversarial decorrelation ("learning to pivot", Louppe et al. 2017).

    An adversary network reads the classifier score and tries either to
    tell a nominal sample from its systematic variation (``sample``) or to
    tell in which quantile bin of a variable such as an invariant mass an
    event lies (``variable``); the classifier is trained against it, so that
    its score carries no such information. See docs/decorrelation.md.
    """

    sample: str | None = Field(
        default=None,
        description="Target of the adversary: a systematic sample (class: "
        "systematic); the adversary tells it apart from the nominal sample it "
        "varies. Give either sample or variable.",
    )
    variable: str | None = Field(
        default=None,
        description="Target of the adversary: a column (not an input) to "
        "decorrelate the score from, e.g. an invariant mass; the adversary "
        "tells from the score in which of `bins` quantile bins of the column "
        "an event lies. Give either sample or variable.",
    )
    bins: int = Field(
        default=10,
        ge=2,
        le=100,
        description="With variable: the quantile bins (equal shares of the "
        "weighted training events) the adversary tells apart.",
    )
    events: Literal["background", "signal", "all"] = Field(
        default="background",
        description="With variable: the training events the adversary sees. "
        "background (the default) keeps a cut on the score from sculpting the "
        "background's distribution of the variable.",
    )
    lam: float = Field(
        default=1.0,
        alias="lambda",
        ge=0.0,
        description="Trade-off: the classifier minimises its loss minus lambda "
        "times the adversary's loss. 0 trains the plain classifier; larger "
        "values buy robustness with separation power.",
    )
    network: AdversaryNetwork = Field(default_factory=AdversaryNetwork)
    optimizer: Optimizer = Field(
        default_factory=Optimizer,
        description="Optimizer of the adversary (the classifier keeps the "
        "study's optimizer).",
    )
    pretrain: Pretrain = Field(
        default_factory=Pretrain,
        description="Epochs of the classifier alone, then of the adversary on "
        "the frozen classifier, before the alternating iterations.",
    )
    iterations: int = Field(
        default=20,
        ge=0,
        le=100000,
        description="Alternating iterations: each trains the classifier against "
        "the adversary, then the adversary on the updated classifier.",
    )
    epochs: IterationEpochs = Field(
        default_factory=IterationEpochs,
        description="Epochs of the classifier and of the adversary in each "
        "iteration.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> Adversary:
        if (self.sample is None) == (self.variable is None):
            msg = (
                "give the adversary one target: sample (a systematic sample) "
                "or variable (a column to decorrelate from)"
            )
            raise ValueError(msg)
        given = {"events", "bins"} & self.model_fields_set
        if self.sample is not None and given:
            msg = (
                f"{' and '.join(sorted(given))} apply to a variable target only; "
                "against a systematic sample the adversary sees the nominal and "
                "the varied events"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _classifier_trains(self) -> Adversary:
        if self.classifier_epochs < 1:
            msg = (
                "the classifier would train 0 epochs; set pretrain.classifier, or "
                "iterations and epochs.classifier, above 0"
            )
            raise ValueError(msg)
        return self

    @property
    def chance_loss(self) -> float:
        """The adversary's loss when it learns nothing: ln 2 for two balanced
        samples, ln(bins) for bins of equal weight of a variable."""
        return math.log(self.bins if self.variable is not None else 2.0)

    @property
    def classifier_epochs(self) -> int:
        """All epochs the classifier trains, pre-training included."""
        return self.pretrain.classifier + self.iterations * self.epochs.classifier


class Output(Section):
    """Where results go."""

    dir: Path = Field(
        default=Path("runs"),
        description="Folder of all runs; results land in <dir>/<study>/<point>/. "
        "Relative to the study file's folder.",
    )


# lxplus' HTCondor job flavours and the wall time each allows.
JOB_FLAVOURS = {
    "espresso": 20 * 60,
    "microcentury": 60 * 60,
    "longlunch": 2 * 3600,
    "workday": 8 * 3600,
    "tomorrow": 24 * 3600,
    "testmatch": 3 * 24 * 3600,
    "nextweek": 7 * 24 * 3600,
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([MGT])i?B?\s*$", re.IGNORECASE)
_TIME = re.compile(r"^(?:(\d+)-)?(\d+):([0-5]\d):([0-5]\d)$")


def _megabytes(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        msg = f"'{text}' is not a size; write a number and a unit, e.g. 2GB or 500MB"
        raise ValueError(msg)
    factor = {"M": 1, "G": 1024, "T": 1024 * 1024}[match.group(2).upper()]
    megabytes = round(float(match.group(1)) * factor)
    if megabytes < 1:
        msg = f"'{text}' is less than 1MB"
        raise ValueError(msg)
    return megabytes


def _seconds(text: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        msg = f"'{text}' is not a duration; write HH:MM:SS or D-HH:MM:SS, e.g. 02:00:00"
        raise ValueError(msg)
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total < 60:
        msg = f"'{text}' is shorter than one minute"
        raise ValueError(msg)
    return total


class Batch(Section):
    """Resources and options of the batch jobs that `twpipe submit` writes.

    Each job runs one sweep point. The settings do not change a result, so
    changing them never makes a finished point look out of date.
    """

    cpus: int = Field(
        default=1, ge=1, le=128,
        description="CPU cores per job; TensorFlow and BLAS use this many threads.",
    )
    memory: str = Field(
        default="2GB",
        description="Memory per job, with a unit: 500MB, 2GB, 1.5GB.",
    )
    disk: str | None = Field(
        default=None,
        description="Scratch disk per job (HTCondor request_disk, Slurm --tmp); "
        "the site's default when left out.",
    )
    time: str | None = Field(
        default=None,
        description="Wall-time limit per job as HH:MM:SS or D-HH:MM:SS (Slurm "
        "--time, HTCondor +MaxRuntime); the site's default when left out.",
    )
    job_flavour: Literal[tuple(JOB_FLAVOURS)] | None = Field(  # type: ignore[valid-type]
        default=None,
        description="HTCondor +JobFlavour on CERN lxplus: espresso (20 min), "
        "microcentury (1 h), longlunch (2 h), workday (8 h), tomorrow (1 day), "
        "testmatch (3 days), nextweek (1 week).",
    )
    partition: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.,-]+$",
        description="Slurm partition; the cluster's default when left out.",
    )
    max_running: int | None = Field(
        default=None, ge=1, le=100000,
        description="Most jobs of the sweep running at once (Slurm --array "
        "limit %N, HTCondor max_materialize); no limit when left out.",
    )
    htcondor_commands: list[str] = Field(
        default_factory=list,
        description="Extra lines of the HTCondor submit description, e.g. "
        "'+AccountingGroup = \"group_u_ATLAS.u_zp\"' or 'requirements = "
        "(OpSysAndVer =?= \"AlmaLinux9\")'.",
    )
    slurm_options: list[str] = Field(
        default_factory=list,
        description="Extra sbatch options, e.g. '--account=atlas' or '--qos=short'.",
    )

    @field_validator("memory", "disk", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            msg = f"{value} has no unit; write e.g. {value}MB or {value}GB"
            raise ValueError(msg)
        if isinstance(value, str):
            _megabytes(value)
        return value

    @field_validator("time", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        # YAML reads an unquoted 2:00:00 as a number of seconds (sexagesimal).
        if isinstance(value, int) and not isinstance(value, bool):
            msg = (
                f"found the number {value}; write the time as HH:MM:SS in quotes, "
                'e.g. "02:00:00"'
            )
            raise ValueError(msg)
        if isinstance(value, str):
            _seconds(value)
        return value

    @field_validator("htcondor_commands")
    @classmethod
    def _submit_lines(cls, value: list[str]) -> list[str]:
        for line in value:
            if "\n" in line or "=" not in line:
                msg = f"'{line}' is not one submit command; write 'name = value'"
                raise ValueError(msg)
            if line.split("=", 1)[0].strip().lower() in ("queue", "executable", "arguments"):
                msg = f"'{line}': twpipe writes this command itself"
                raise ValueError(msg)
        return value

    @field_validator("slurm_options")
    @classmethod
    def _sbatch_options(cls, value: list[str]) -> list[str]:
        for option in value:
            if not option.startswith("-") or "\n" in option:
                msg = f"'{option}' is not an sbatch option; write e.g. --account=NAME"
                raise ValueError(msg)
            if option.split("=", 1)[0] in ("--array", "-a", "--output", "-o",
                                           "--error", "-e", "--chdir", "-D"):
                msg = f"'{option}': twpipe sets this option itself"
                raise ValueError(msg)
        return value

    @property
    def memory_mb(self) -> int:
        """The memory request in megabytes."""
        return _megabytes(self.memory)

    @property
    def disk_mb(self) -> int | None:
        """The disk request in megabytes, or None."""
        return None if self.disk is None else _megabytes(self.disk)

    @property
    def time_seconds(self) -> int | None:
        """The wall-time limit in seconds, or None."""
        return None if self.time is None else _seconds(self.time)


def _check_decorrelated_column(
    column: str, data: DataSection, variables: list[str] | None
) -> None:
    # Refused rather than warned about: with the column as an input the
    # classifier would be asked both to read it and to be independent of it.
    if column in (variables or []):
        msg = (
            f"variable: {column!r} is also an input variable; the classifier "
            "cannot both read it and be independent of it; remove it from "
            "variables, or decorrelate from another column"
        )
        raise ValueError(msg)
    for key, name in (
        ("data.weight", data.weight),
        ("data.event_number", data.event_number),
    ):
        if column == name:
            msg = f"variable: {column!r} is the {key} column, not a physics variable"
            raise ValueError(msg)


class Study(Section):
    """A complete study: data, inputs, network, training and sweep."""

    study: SafeName = Field(
        description="Name of the study; the folder under output.dir."
    )
    point: SafeName | None = Field(
        default=None,
        description="Name of this sweep point; written by `twpipe expand`, "
        "leave it out in hand-written studies.",
    )
    data: DataSection
    variables: list[str] = Field(
        min_length=1, description="Input variables (columns), in order."
    )
    preprocess: Preprocess = Field(default_factory=Preprocess)
    network: Network = Field(default_factory=Network)
    optimizer: Optimizer = Field(default_factory=Optimizer)
    training: Training = Field(default_factory=Training)
    folds: Folds = Field(default_factory=Folds)
    sweep: Sweep | None = Field(
        default=None, description="Hyperparameter sweep; one run when left out."
    )
    report: Report = Field(default_factory=Report)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    adversary: Adversary | None = Field(
        default=None,
        description="Adversarial training against a systematic sample or a "
        "variable to decorrelate from; plain training when left out.",
    )
    output: Output = Field(default_factory=Output)
    batch: Batch = Field(
        default_factory=Batch,
        description="Resources of the batch jobs written by `twpipe submit`.",
    )

    @field_validator("variables")
    @classmethod
    def _variables_usable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            msg = f"listed more than once: {', '.join(repeated)}"
            raise ValueError(msg)

        # Training on the event number would let the network learn the folds.
        data = info.data.get("data")
        if data is not None and data.event_number in value:
            msg = (
                f"'{data.event_number}' is the event-number column (data.event_number) "
                "and cannot also be an input variable"
            )
            raise ValueError(msg)
        return value

    @field_validator("report")
    @classmethod
    def _units_of_variables(cls, value: Report, info: ValidationInfo) -> Report:
        variables = info.data.get("variables")
        if variables is None:
            return value
        unknown = [name for name in value.units if name not in variables]
        if unknown:
            hints = [did_you_mean(name, variables) for name in unknown]
            shown = ", ".join(repr(name) for name in unknown)
            msg = f"units names {shown}, which is not one of the variables"
            extra = "; ".join(hint for hint in hints if hint)
            raise ValueError(f"{msg}; {extra}" if extra else msg)
        return value

    @field_validator("adversary")
    @classmethod
    def _adversary_target(
        cls, value: Adversary | None, info: ValidationInfo
    ) -> Adversary | None:
        data = info.data.get("data")
        if value is None or data is None:
            return value
        if value.variable is not None:
            _check_decorrelated_column(value.variable, data, info.data.get("variables"))
            return value
        systematic = data.systematic_samples()
        if value.sample in systematic:
            return value
        if value.sample in data.samples:
            kind = data.samples[value.sample].kind
            msg = (
                f"sample: {value.sample!r} is a {kind} sample; the adversary "
                "needs a sample with class: systematic"
            )
        elif not systematic:
            msg = (
                f"sample: {value.sample!r} is not in data.samples, which has no "
                "sample with class: systematic; add one, with 'varies:' naming "
                "the nominal sample"
            )
        else:
            msg = f"sample: {value.sample!r} is not in data.samples"
            hint = did_you_mean(value.sample, systematic)
            shown = ", ".join(systematic)
            msg += f"; {hint}" if hint else f"; systematic samples: {shown}"
        raise ValueError(msg)

    @property
    def point_name(self) -> str:
        """The folder name of this point under the study's run folder."""
        return self.point or "default"

    def signal_samples(self) -> list[str]:
        """Names of the signal samples, in file order."""
        return [n for n, s in self.data.samples.items() if s.kind == "signal"]

    def background_samples(self) -> list[str]:
        """Names of the background samples, in file order."""
        return [n for n, s in self.data.samples.items() if s.kind == "background"]
