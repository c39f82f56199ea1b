"""The training loop: it learns, it resumes exactly after SIGKILL, and DDP keeps ranks identical."""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ented_desktop.core.errors import UserError
from ented_desktop.core.weights import load_generator
from tests.training_fixtures import SyntheticTriplets, tiny_config
from training.loop import IterationDraws, Trainer, atomic_torch_save, ema_beta, snapshot, train

ROOT = Path(__file__).resolve().parents[1]


def stats_rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "stats.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "iteration" in r and "event" not in r]


def test_ema_ramp_up_by_hand():
    assert ema_beta(0.999, 0.0, 5) == pytest.approx(0.999)
    assert ema_beta(0.999, 0.05, 200) == pytest.approx(0.5 ** (1 / 10))  # half-life 10 iterations at 200
    assert ema_beta(0.999, 0.05, 10**6) == pytest.approx(0.999)  # later the configured decay


def test_draws_continue_across_resume_and_split_across_ranks():
    assert list(IterationDraws(2, 4, 3)) == [6, 7, 8, 9, 10, 11]
    rank0, rank1 = list(IterationDraws(0, 2, 2, 0, 2)), list(IterationDraws(0, 2, 2, 1, 2))
    assert rank0 == [0, 1, 4, 5] and rank1 == [2, 3, 6, 7]


def test_tiny_run_lowers_the_loss_on_a_fixed_batch():
    data = SyntheticTriplets()
    batch = {k: torch.stack([data[i][k] for i in range(4)]) for k in ("lq", "ref", "gt")}
    trainer = Trainer(tiny_config(adv_start=10**9, vq_warmup=10**9), torch.device("cpu"))

    def fixed_batch_l1() -> float:
        with torch.no_grad():
            return float((trainer.generator(batch["lq"], batch["ref"]).image - batch["gt"]).abs().mean())

    before = fixed_batch_l1()  # the network starts as the identity (rgb_residual): the LQ's own error
    for _ in range(150):
        trainer.step(batch)
    after = fixed_batch_l1()
    assert after < 0.85 * before, (before, after)


def test_full_objective_runs_with_dictionary_and_writes_a_verified_model(tmp_path):
    summary = train(tiny_config(iterations=30), tmp_path, dataset=SyntheticTriplets(), show_progress=False)
    rows = stats_rows(tmp_path)
    assert [r["iteration"] for r in rows] == list(range(1, 31))
    assert rows[-1]["q"] > 0 and "adv" in rows[-1] and "dead_codes" in rows[-1]
    assert (tmp_path / "samples" / "0000020.png").exists()
    generator, info = load_generator(Path(summary["model"]))
    assert info["iterations"] == 30 and generator.quantize


def test_the_identity_term_needs_its_net_and_is_logged(tmp_path):
    weights = {"percep": 1.0, "q": 1.0, "att": 15.0, "id": 1.0}
    with pytest.raises(FileNotFoundError, match="fetch_identity_net.sh"):
        Trainer(tiny_config(loss_weights=weights, identity_net=str(tmp_path)), torch.device("cpu"))
    net = Path(__file__).resolve().parents[1] / "data" / "identity_net"
    if not net.is_dir():
        pytest.skip("no identity net; run scripts/fetch_identity_net.sh")
    trainer = Trainer(tiny_config(loss_weights=weights, identity_net=str(net)), torch.device("cpu"))
    data = SyntheticTriplets()
    stats = trainer.step({k: torch.stack([data[i][k] for i in range(4)]) for k in ("lq", "ref", "gt")})
    assert 0 < stats["id"] < 2


def test_a_run_continued_under_a_second_configuration_takes_its_learning_rates():
    first = Trainer(tiny_config(), torch.device("cpu"))
    first.step(next(iter(torch.utils.data.DataLoader(SyntheticTriplets(), batch_size=4))))
    second = Trainer(tiny_config(lr_g=5e-4, lr_d=1e-4), torch.device("cpu"))
    second.load_state_dict(first.state_dict())
    assert second.iteration == 1 and len(second.opt_g.state) > 0  # Adam's moments came along...
    assert [g["lr"] for g in second.opt_g.param_groups] == [5e-4]  # ...but not the old rates
    assert [g["lr"] for g in second.opt_d.param_groups] == [1e-4]
    assert [(st["from_iteration"], st["train_config"]["lr_g"]) for st in second.stages] == [(0, 2e-3), (1, 5e-4)]
    third = Trainer(tiny_config(lr_g=5e-4, lr_d=1e-4), torch.device("cpu"))
    third.load_state_dict(second.state_dict())  # the same configuration again: no new stage
    assert len(third.stages) == 2
    legacy = {k: v for k, v in first.state_dict().items() if k != "stages"}  # a checkpoint from before stages
    second.load_state_dict(legacy)
    assert [st["from_iteration"] for st in second.stages] == [None, 1]


def test_abort_callback_checkpoints_and_resume_continues(tmp_path):
    seen = []
    summary = train(tiny_config(iterations=20), tmp_path, dataset=SyntheticTriplets(), show_progress=False,
                    progress_fn=seen.append, abort_fn=lambda: len(seen) >= 7)
    assert summary["aborted"] and summary["iteration"] == 7 and "model" not in summary
    assert seen[-1]["iteration"] == 7 and seen[-1]["total"] == 20
    with pytest.raises(UserError, match="VQ warm-up"):  # 7 < vq_warmup 10: no fitted dictionary yet
        snapshot(tiny_config(iterations=20), tmp_path, tmp_path / "snap.safetensors")
    trainer = Trainer(tiny_config(iterations=20), torch.device("cpu"))
    trainer.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True))
    trainer.reestimate_dictionary(torch.stack([SyntheticTriplets()[i]["gt"] for i in range(16)]))
    atomic_torch_save(trainer.state_dict(), tmp_path / "checkpoint.pt")  # as after iteration 10's k-means
    iteration, _ = snapshot(tiny_config(iterations=20), tmp_path, tmp_path / "snap.safetensors")
    info = load_generator(tmp_path / "snap.safetensors")[1]
    assert iteration == 7 and info["iterations"] == 7 and info["stages"][0]["train_config"]["name"] == "tiny"
    summary = train(tiny_config(iterations=20), tmp_path, resume=True, dataset=SyntheticTriplets(), show_progress=False)
    assert summary["iteration"] == 20
    assert [r["iteration"] for r in stats_rows(tmp_path)] == list(range(1, 21))


def test_stats_rows_cover_every_term_and_the_window_before_a_stop(tmp_path):
    seen = []
    config = tiny_config(iterations=40, log_every=5, adv_start=0, r1_every=4)
    summary = train(config, tmp_path, dataset=SyntheticTriplets(), show_progress=False, progress_fn=seen.append,
                    abort_fn=lambda: len(seen) >= 17)
    rows = stats_rows(tmp_path)
    assert summary["iteration"] == 17 and [r["iteration"] for r in rows] == [5, 10, 15, 17]
    assert all("r1" in r for r in rows)  # due at 4, 8, ...: never the last iteration of a window of five
    usage = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["code_usage"]
    trainer = Trainer(config, torch.device("cpu"))
    trainer.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True))
    assert usage.sum() > 0 and torch.equal(trainer.generator.quantizer.usage, usage)  # dead codes survive a resume


def test_a_run_started_again_before_its_first_checkpoint_logs_each_iteration_once(tmp_path):
    train(tiny_config(iterations=3, checkpoint_every=100), tmp_path, dataset=SyntheticTriplets(), show_progress=False)
    (tmp_path / "checkpoint.pt").unlink()  # as if killed before its first checkpoint
    summary = train(tiny_config(iterations=3, checkpoint_every=100), tmp_path, dataset=SyntheticTriplets(),
                    show_progress=False)
    assert [r["iteration"] for r in stats_rows(tmp_path)] == [1, 2, 3]
    assert "model" not in summary and not (tmp_path / "final").exists()  # 3 < vq_warmup 10: nothing to export


@pytest.mark.slow
def test_resume_after_sigkill_has_same_iterations_and_data_order(tmp_path):
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    train(tiny_config(iterations=30), reference_dir, dataset=SyntheticTriplets(), show_progress=False)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.training_fixtures", str(killed_dir), "30"], cwd=ROOT, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill after the checkpoint at iteration 10 or later
        stats = killed_dir / "stats.jsonl"
        if stats.exists() and sum(1 for _ in stats.open()) >= 14:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    checkpoint = torch.load(killed_dir / "checkpoint.pt", weights_only=True)
    assert 10 <= checkpoint["iteration"] < 30
    train(tiny_config(iterations=30), killed_dir, resume=True, dataset=SyntheticTriplets(), show_progress=False)

    ref_rows, got_rows = stats_rows(reference_dir), stats_rows(killed_dir)
    assert [r["iteration"] for r in got_rows] == list(range(1, 31))
    assert [r["gt_sum"] for r in got_rows] == [r["gt_sum"] for r in ref_rows]
    g_ref, _ = load_generator(reference_dir / "final" / "tiny.safetensors")
    g_got, _ = load_generator(killed_dir / "final" / "tiny.safetensors")
    for (name, a), b in zip(g_ref.state_dict().items(), g_got.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), name



@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_to_ented_train_and_its_workers_writes_a_checkpoint(tmp_path, signum):
    """The signal goes to the whole process group, workers included, as Ctrl-C in a terminal or ``pkill -f`` send it."""
    from tests.test_evaluate import make_prepared

    data = make_prepared(tmp_path / "data", [3, 3, 2])
    config = tiny_config(iterations=100_000, checkpoint_every=100_000, data_root=str(data), degradation="4x",
                         workers=1)
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps(dataclasses.asdict(config)), encoding="utf-8")
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "ented_desktop", "train", str(config_path), "--run-dir", str(run_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:  # a file, not a pipe: the progress bar must never block the run
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=stderr, start_new_session=True)
        deadline = time.time() + 120
        while not (run_dir / "stats.jsonl").exists() or len(stats_rows(run_dir)) < 3:
            assert proc.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(proc.pid, signum)
        assert proc.wait(timeout=60) == 0, log.read_text()
    assert f"{signal.Signals(signum).name}: stopping after this iteration" in log.read_text()
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)  # none was due: the stop wrote it
    assert checkpoint["iteration"] == stats_rows(run_dir)[-1]["iteration"] >= 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DDP_SCRIPT = """
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import training.loop as loop
from tests.training_fixtures import SyntheticTriplets, tiny_config

dist.init_process_group("gloo")
run_dir = Path(sys.argv[1])
step = loop.Trainer.step


def step_and_save(self, batch):  # each rank keeps its weights after every step for the test to compare
    out = step(self, batch)
    torch.save(self.generator.state_dict(), run_dir / f"rank{dist.get_rank()}.pt")
    return out


loop.Trainer.step = step_and_save
cfg = tiny_config(iterations=6, vq_warmup=3, kmeans_every=3, adv_start=2, r1_every=2, checkpoint_every=100)
loop.train(cfg, run_dir, dataset=SyntheticTriplets(), show_progress=False)
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_ddp_two_processes_hold_identical_weights(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
           "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=ROOT,
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    initial = Trainer(tiny_config(), torch.device("cpu")).generator.state_dict()
    assert any(not torch.equal(w0[k], initial[k]) for k in w0)  # they trained
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
