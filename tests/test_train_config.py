"""Training configurations: loss weights are checked, records made by earlier releases still read, and the
network's tensors are made one way."""

import json

import numpy as np
import pytest
import torch

from ented_desktop.core.network import ENTEDConfig
from tests.training_fixtures import tiny_config
from training.config import PAPER_LOSS_WEIGHTS, LossWeights, TrainConfig
from training.tensors import to_tensor, to_uint8


def test_a_misspelt_loss_weight_is_an_error_not_a_term_weighted_zero():
    with pytest.raises(ValueError, match=r"unknown loss weights \['percpe'\]"):
        tiny_config(loss_weights={"percpe": 1.0, "q": 1.0})
    with pytest.raises(ValueError, match="percpe"):
        TrainConfig.from_dict({**json.loads(tiny_config().to_json()), "loss_weights": {"percpe": 1.0}})


def test_loss_weights_a_configuration_leaves_out_are_off_and_the_default_is_the_papers():
    cfg = tiny_config(loss_weights={"percep": 1.0, "att": 15.0})
    assert cfg.loss_weights == LossWeights(percep=1.0, att=15.0)
    assert (cfg.loss_weights.adv, cfg.loss_weights.id) == (0.0, 0.0)
    assert tiny_config().loss_weights == PAPER_LOSS_WEIGHTS == LossWeights(adv=1.5, percep=1.0, q=1.0, att=15.0)
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg


def test_records_of_earlier_releases_read_with_their_unused_extra_field():
    cfg = tiny_config()
    old = json.loads(cfg.to_json())
    old["extra"] = {}
    old["loss_weights"] = {"adv": 1.5, "percep": 1.0, "q": 1.0, "att": 15.0}  # no "id" then
    assert cfg.same_as(old)
    assert not cfg.same_as({**old, "lr_g": 5e-4})
    assert not cfg.same_as({**old, "a_field_from_the_future": 1})
    network = json.loads(ENTEDConfig.from_json(cfg.network).to_json())
    assert "extra" not in network
    assert ENTEDConfig.from_json({**network, "extra": {}}) == ENTEDConfig.from_json(network)


def test_images_to_network_tensors_and_back():
    images = [np.float32([[[0.0, 0.5, 1.0]]]), np.float32([[[0.25, 0.75, 1.0]]])]  # two 1 x 1 images
    x = to_tensor(images)
    assert x.shape == (2, 3, 1, 1) and x.dtype == torch.float32
    assert x[:, :, 0, 0].tolist() == [[-1.0, 0.0, 1.0], [-0.5, 0.5, 1.0]]
    back = to_uint8(torch.tensor([[[[-1.0]], [[0.0]], [[1.5]]]]))
    assert back.shape == (1, 1, 1, 3) and back.dtype == np.uint8
    assert back[0, 0, 0].tolist() == [0, 128, 255]  # 127.5 rounds to the even 128; 1.5 is clipped
