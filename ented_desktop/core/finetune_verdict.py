"""Whether a personal model is worth keeping: the one rule ``ented finetune`` and the app's fine-tune dialog follow.

A fine-tune measures the personal model against the general model on one held-out photo (PSNR on Y, the mean of
six fixed degradations). One photo is a small sample: the same personal model gains more on some of the person's
photos than on others. Measured with ``scripts/finetune_threshold.py`` (the shipped model; one-minute fine-tunes on
the first five photos of ten LFW peopleDevTest people, two seeds each; every personal model then compared with the
general model on ten more photos of its person): one photo's gain lies 0.13 dB (standard deviation, 170 photos of
17 personal models) from the mean over the person's photos, while drawing other degradations for the same photo
moves it by 0.035 dB. So a personal model no better than the general model for its person still shows +0.2 dB on
its held-out photo about one time in sixteen (1.5 standard deviations), and less often a larger gain. A personal
model is recommended only when it gains at least :data:`KEEP_THRESHOLD_DB` there; a smaller difference, either way,
is too small to tell, and the general model is recommended (the user can still keep the personal one).

With three photos the held-out photo also picked the weights, which flatters the personal model there: in ten
three-photo runs of the same people its gain was 0.05 dB above the mean over the ten other photos, against 0.03 dB
below it with five photos. Such a figure must clear :data:`FLATTERED_THRESHOLD_DB`, 0.1 dB more.

Pure logic in core, so the app and `ented finetune` read it without the training stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

KEEP_THRESHOLD_DB = 0.2
FLATTERED_THRESHOLD_DB = 0.3


@dataclass(frozen=True)
class Verdict:
    """The personal model's gain over the general model on the held-out photo, and what it means."""

    gain_db: float  # rounded to the 0.01 dB shown, so that the words never contradict the figure
    threshold_db: float  # the gain one held-out photo can tell from noise
    picked_weights: bool = False  # the held-out photo also picked the weights (three photos): flattered

    @property
    def outcome(self) -> str:
        """"better", "too close to tell" or "worse"."""
        if self.gain_db >= self.threshold_db:
            return "better"
        return "worse" if self.gain_db <= -KEEP_THRESHOLD_DB else "too close to tell"

    @property
    def keep(self) -> bool:
        """Whether keeping the personal model is recommended."""
        return self.outcome == "better"

    def sentence(self, base: str = "general model") -> str:
        """What the held-out photo says, in one sentence (for the command line, the dialog and the model card);
        ``base`` names the model the personal one started from."""
        gain = f"{self.gain_db:+.2f} dB"
        if self.outcome == "better":
            return (f"The personal model restores the held-out photo better than the {base} ({gain}; one photo can "
                    f"tell {self.threshold_db:.2f} dB or more).")
        if self.outcome == "worse":
            return f"The personal model restores the held-out photo worse than the {base} ({gain})."
        why = (f"one photo can tell {self.threshold_db:.2f} dB or more"
               + (", and this one also picked the personal model's weights" if self.picked_weights else ""))
        return (f"The personal model and the {base} differ by {gain} on the held-out photo, too little to tell "
                f"which is better ({why}).")


def assess(before: Mapping[str, float], after: Mapping[str, float]) -> Verdict:
    """The verdict on a fine-tune's figures: ``FinetuneResult.before`` and ``.after``, the general and the personal
    model on the held-out photo (``after["picked_weights"]``: that photo also picked the weights)."""
    picked = bool(after.get("picked_weights", False))
    gain = round(after["val_psnr"] - before["val_psnr"], 2) + 0.0  # + 0.0: no "-0.00"
    return Verdict(gain, FLATTERED_THRESHOLD_DB if picked else KEEP_THRESHOLD_DB, picked)
