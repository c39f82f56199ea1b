"""The ENTED network (paper section 3), one module per part."""

from .config import ENTEDConfig, ablation, preset
from .discriminator import Discriminator
from .generator import ENTEDGenerator, GeneratorOutput, RestorationModel

__all__ = [
    "ENTEDConfig", "ENTEDGenerator", "GeneratorOutput", "RestorationModel", "Discriminator", "ablation", "preset",
]
