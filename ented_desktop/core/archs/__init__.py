"""Third-party face and background networks: unwrap a model file's weights, detect the architecture, build it.

Supported: GFPGAN v1.3/v1.4 (clean), CodeFormer, RestoreFormer and Real-ESRGAN through spandrel, and
RestoreFormer++ (:mod:`.restoreformer_pp`), which spandrel lacks.
"""

from .build import CODEFORMER_FIDELITY, CodeFormerNet, FaceNet, UpscaleNet, build_module
from .detect import ArchInfo, detect_architecture
from .state_dict import unwrap_state_dict

__all__ = ["CODEFORMER_FIDELITY", "ArchInfo", "CodeFormerNet", "FaceNet", "UpscaleNet", "build_module",
           "detect_architecture", "unwrap_state_dict"]
