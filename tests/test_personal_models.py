"""The sentences about personal models that the app shows before and after a fine-tune."""

from types import SimpleNamespace

from ented_desktop.core.personal_models import FINETUNE_MIN_PHOTOS, finetune_summary, too_few_photos


def test_a_finetune_that_cannot_start_or_made_nothing_says_so():
    assert FINETUNE_MIN_PHOTOS == 3
    assert too_few_photos("Anna", 2) == ("Fine-tuning needs at least 3 photos in which Anna is the largest face; "
                                         "there are 2.")
    stopped = SimpleNamespace(model_path=None, before={"val_psnr": 26.0}, after={"val_psnr": 26.0})
    assert finetune_summary("Anna", stopped) == ("Fine-tuning for Anna stopped before its first iteration; "
                                                 "no model was made.")
