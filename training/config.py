"""Training configurations: JSON files in ``training/configs`` (or anywhere), read into :class:`TrainConfig`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ented_desktop.core.network import ENTEDConfig, preset

from .pairs import SELF_REFERENCE_PROB

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
LEGACY_FIELDS = frozenset({"extra"})  # written by earlier releases, never used: ignored when read


@dataclass(frozen=True)
class LossWeights:
    """The weights of the generator's loss terms (eq. 12, plus the identity term); a term not given weighs 0."""

    adv: float = 0.0     # adversarial (lambda_adv)
    percep: float = 0.0  # perceptual (lambda_percep)
    q: float = 0.0       # dictionary / quantisation (lambda_q)
    att: float = 0.0     # attention reconstruction (lambda_att)
    id: float = 0.0      # identity, not in the paper (needs ``TrainConfig.identity_net``)

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> LossWeights:
        """The weights a configuration file lists. A key that names no term is an error, not a term silently
        weighted 0."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown loss weights {sorted(unknown)}; the terms are {sorted(known)}")
        return cls(**{name: float(value) for name, value in data.items()})


PAPER_LOSS_WEIGHTS = LossWeights(adv=1.5, percep=1.0, q=1.0, att=15.0)  # section 4.1


@dataclass(frozen=True)
class TrainConfig:
    name: str
    network: str | dict                       # a preset name ("cpu128", "cpu128-model3") or ENTEDConfig fields
    data_root: str                            # a folder made by `ented prepare-dataset`
    iterations: int
    people_file: str | None = None            # restrict to these people (LFW peopleDevTrain.txt format)
    degradation: str = "paper"                # a level of training.degradation.LEVELS
    self_reference_prob: float = SELF_REFERENCE_PROB  # share of samples whose reference is the degraded input
    synthetic_reference_prob: float = 0.0     # share of the others given a synthetic reference despite a real one
    batch_size: int = 4
    lr_g: float = 2e-3
    lr_d: float = 1.882e-3
    adam_betas: tuple[float, float] = (0.0, 0.99)
    loss_weights: LossWeights = PAPER_LOSS_WEIGHTS  # a dict of weights is read by LossWeights.from_dict
    adv_start: int = 0                        # iteration from which the adversarial loss is on
    vq_warmup: int = 10_000                   # iterations without the dictionary (paper: 10,000)
    kmeans_every: int = 2_000                 # dictionary re-estimation period (paper: 2,000)
    kmeans_images: int = 64                   # HQ images whose latents feed k-means
    r1_gamma: float = 10.0
    r1_every: int = 16                        # lazy R1 (StyleGAN2)
    ema_beta: float = 0.999
    ema_rampup: float = 0.05                  # EMA half-life at most this fraction of the iterations so far
    checkpoint_every: int = 500
    sample_every: int = 1_000
    log_every: int = 20
    seed: int = 0
    workers: int = 1
    identity_net: str = ""                    # folder of the identity loss's net, needed when loss_weights.id > 0

    def __post_init__(self) -> None:
        if isinstance(self.loss_weights, Mapping):
            object.__setattr__(self, "loss_weights", LossWeights.from_dict(self.loss_weights))

    def network_config(self) -> ENTEDConfig:
        return preset(self.network) if isinstance(self.network, str) else ENTEDConfig.from_json(self.network)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        if not isinstance(data, Mapping):
            raise ValueError(f"a training configuration is a JSON object of fields, not {type(data).__name__}")
        data = {k: v for k, v in data.items() if k not in LEGACY_FIELDS}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training configuration fields: {sorted(unknown)}")
        if "adam_betas" in data:
            data["adam_betas"] = tuple(data["adam_betas"])
        return cls(**data)

    def same_as(self, stored: dict) -> bool:
        """Whether ``stored`` (a checkpoint's record of a configuration, :meth:`to_json` then as now) describes
        this configuration."""
        try:
            return TrainConfig.from_dict(stored) == self
        except (ValueError, TypeError):  # fields that are no longer, or not yet, known: not this one
            return False


def load_train_config(name_or_path: str | Path) -> TrainConfig:
    """A path to a JSON file, or the name of one in ``training/configs``."""
    path = Path(name_or_path)
    if not path.is_file():
        path = CONFIG_DIR / f"{name_or_path}.json"
    if not path.is_file():
        available = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
        raise FileNotFoundError(f"no training configuration {name_or_path!r}; available: {available}")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError) as exc:  # not UTF-8 JSON of an object, or fields unknown or missing
        raise ValueError(f"{path} is not a valid training configuration ({exc})") from exc
