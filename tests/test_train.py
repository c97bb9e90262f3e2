"""The training engine: learning-rate schedules, a real short training run, checkpoints and resume."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch._dynamo.utils import counters

from course_lib.data import get_loaders
from course_lib.models import LeNet5
from course_lib.train import (Callback, Checkpoint, History, StopAfter, Trainer, cosine, fit_or_load, linear_decay,
                              lr_curve, onecycle, seed_everything, select_device, step)


def test_cosine_runs_from_the_initial_rate_to_the_floor():
    rates = lr_curve(cosine(final=0.0), 101, lr=0.2, total_steps=100)
    assert rates[0] == pytest.approx(0.2)
    assert rates[50] == pytest.approx(0.1)
    assert rates[100] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_linear_decay_reaches_one_percent_at_tau_then_stays():
    lr0, tau = 0.1, 40
    rates = lr_curve(linear_decay(tau=tau), 100, lr=lr0)
    for k in (0, 10, 39):  # lr_k = (1 - a) lr0 + a lr_tau with a = k / tau
        a = k / tau
        assert rates[k] == pytest.approx((1 - a) * lr0 + a * 0.01 * lr0)
    assert rates[tau] == pytest.approx(0.01 * lr0)
    assert rates[tau:] == pytest.approx([0.01 * lr0] * (100 - tau))


def test_linear_decay_tau_as_a_fraction_of_training():
    rates = lr_curve(linear_decay(tau=0.5, final=0.1), 200, lr=1.0)
    assert rates[100] == pytest.approx(0.1) and rates[99] > 0.1


def test_step_and_onecycle_shapes():
    stepped = lr_curve(step(milestones=(30, 60), gamma=0.5), 90, lr=0.8)
    assert (stepped[29], stepped[30], stepped[60]) == pytest.approx((0.8, 0.4, 0.2))
    cycle = lr_curve(onecycle(pct_start=0.25), 100, lr=0.4)
    peak = max(range(100), key=cycle.__getitem__)
    assert 20 <= peak <= 30 and cycle[peak] == pytest.approx(0.4, rel=1e-3)
    assert cycle[0] == pytest.approx(0.4 / 25) and cycle[-1] < 0.4 / 25 / 100


def test_unknown_schedule_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="cosine"):
        lr_curve("exponential", 10)


# --- the Trainer on real data ------------------------------------------------------------------------



class SmallNet(nn.Sequential):
    """A few-thousand-parameter CNN with dropout, so resuming must restore the random state too."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(16 * 7 * 7, 10),
        )


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: on a shared 2-core machine, torch's thread pool spends its time waiting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_loaders(fashion_mnist_root):
    return get_loaders("fashion_mnist", batch_size=32, train_subset=1_000, test_subset=500, device="cpu", root=fashion_mnist_root)


def test_device_selection_falls_back_to_what_exists():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert select_device().type == expected
    assert select_device("cpu").type == "cpu"


@pytest.mark.slow
def test_lenet5_learns_fashion_mnist_far_beyond_chance(offline_no_system, fashion_mnist_root):
    train, test = get_loaders("fashion_mnist", batch_size=64, train_subset=6_000, test_subset=1_000, device="cpu", root=fashion_mnist_root)
    seed_everything(0)
    trainer = Trainer(LeNet5(input_size=28), lr=0.05, schedule="cosine", device="cpu", progress=False)
    history = trainer.fit(train, test, epochs=3)
    assert isinstance(history, History) and len(history) == 3
    assert history.last["test_acc"] > 0.70, history  # chance is 0.10
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.images_per_second[-1] > 0 and history.lr[-1] == pytest.approx(0.0, abs=1e-9)
    assert trainer.evaluate(test)["acc"] == pytest.approx(history.last["test_acc"])
    images, labels = next(iter(test))
    predicted = trainer.predict(images)
    assert predicted.shape == labels.shape and (predicted == labels).float().mean() > 0.6
    assert trainer.predict(images[0]).ndim == 0


def _fresh_trainer(seed: int, **options) -> Trainer:
    seed_everything(seed)
    return Trainer(SmallNet(), optimizer="sgd", lr=0.05, schedule="linear", device="cpu", seed=seed, progress=False, **options)


@pytest.mark.slow
@pytest.mark.parametrize("loader", ["tensor", "dataloader"])
def test_resuming_from_a_checkpoint_equals_uninterrupted_training(offline_no_system, small_loaders, fashion_mnist_root, tmp_path, loader):
    if loader == "tensor":
        train, test = small_loaders
    else:  # torch DataLoader over the torchvision dataset: its sampler must also reshuffle from (seed, epoch)
        train, test = get_loaders("fashion_mnist", batch_size=32, train_subset=500, test_subset=200, root=fashion_mnist_root)
    straight = _fresh_trainer(0)
    straight.fit(train, test, epochs=3)

    path = tmp_path / "run.pt"
    interrupted = _fresh_trainer(0, callbacks=[Checkpoint(path), StopAfter(1)])
    interrupted.fit(train, test, epochs=3)
    assert interrupted.epoch == 1

    resumed = _fresh_trainer(123)  # other initial weights and random state: everything must come from the file
    assert resumed.load_checkpoint(path) == 1
    resumed.fit(train, test, epochs=3)

    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs after resuming"
    assert resumed.history.test_acc == straight.history.test_acc
    assert resumed.lr == straight.lr


@pytest.mark.slow
def test_fit_or_load_trains_once_then_loads(offline_no_system, small_loaders, tmp_path):
    train, test = small_loaders
    path = tmp_path / "cached.pt"
    first = fit_or_load(_fresh_trainer(0), path, train, test, epochs=1)
    assert path.is_file() and len(first) == 1
    again = _fresh_trainer(5)
    second = fit_or_load(again, path, train, test, epochs=1)
    assert second.to_dict() == first.to_dict()
    assert again.evaluate(test)["acc"] == pytest.approx(first.last["test_acc"])


def test_bad_optimizer_and_missing_checkpoint_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="sgd, adam, adamw"):
        Trainer(SmallNet(), optimizer="rmsprop", device="cpu")
    with pytest.raises(FileNotFoundError, match="fit_or_load"):
        Trainer(SmallNet(), device="cpu").load_checkpoint(tmp_path / "none.pt")


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_adaptive_optimizers_take_steps(optimizer, small_loaders):
    train, _ = small_loaders
    trainer = Trainer(SmallNet(), optimizer=optimizer, lr=1e-3, weight_decay=1e-4, device="cpu", progress=False)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    x, y = next(iter(train))
    trainer.fit([(x, y)], epochs=1)
    assert all(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_extending_a_finished_run_warns_that_the_schedule_is_over(offline_no_system, small_loaders, tmp_path):
    train, _ = small_loaders
    first = _fresh_trainer(0)
    first.fit(train, epochs=1)
    first.save_checkpoint(tmp_path / "one.pt")
    longer = _fresh_trainer(0)
    longer.load_checkpoint(tmp_path / "one.pt")
    with pytest.warns(UserWarning, match="schedule was planned for"):
        longer.fit(train, epochs=2)
    assert longer.lr == pytest.approx(first.lr)  # linear decay had reached its floor; it stays there


@pytest.mark.slow
@pytest.mark.xdist_group("torch-compile")  # a minute or more of compiling: on a worker of its own
def test_compiled_training_matches_eager_training(small_loaders):
    """torch.compile (inductor on CPU) must change speed only, not what the model learns.

    LeNet-5 has no dropout: compiled code draws its random numbers differently from eager code."""
    train, test = small_loaders
    batches = [batch for _, batch in zip(range(8), train)]
    histories, weights = [], []
    torch._dynamo.reset()
    counters.clear()
    for compile_model in (False, True):
        seed_everything(3)
        trainer = Trainer(LeNet5(input_size=28), lr=0.05, device="cpu", seed=3, progress=False, compile=compile_model)
        histories.append(trainer.fit(batches, test, epochs=1).last)
        weights.append([p.detach().clone() for p in trainer.model.parameters()])
    eager, compiled = histories
    assert counters["stats"]["unique_graphs"] >= 1, "compile=True must really hand the model to torch.compile"
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-4)
    assert compiled["test_acc"] == pytest.approx(eager["test_acc"], abs=2 / 500)
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_weight_decay_shrinks_the_weights_of_the_same_run(small_loaders):
    train, _ = small_loaders
    batches = [batch for _, batch in zip(range(8), train)]
    norms = {}
    for decay in (0.0, 0.05):
        torch.manual_seed(0)
        trainer = Trainer(SmallNet(), lr=0.05, weight_decay=decay, device="cpu", seed=0, progress=False)
        assert trainer.optimizer.param_groups[0]["weight_decay"] == decay
        trainer.fit(batches, epochs=1)
        norms[decay] = sum(p.detach().pow(2).sum() for p in trainer.model.parameters()).sqrt().item()
    assert norms[0.05] < norms[0.0]


def test_training_on_augmented_split_loaders_reports_on_validation(offline_no_system, fashion_mnist_root):
    from course_lib.data import crop_flip, split_loaders

    splits = split_loaders(val_size=300, train_subset=600, test_subset=300, resize=32, augment=crop_flip(32),
                           root=fashion_mnist_root)
    trainer = Trainer(SmallNet4x(), lr=0.05, weight_decay=5e-4, device="cpu", seed=0, progress=False)
    history = trainer.fit(splits.train, splits.val, epochs=2)
    assert len(history.test_acc) == 2 and history.test_acc[-1] > 0.3  # well above chance after 2 short epochs
    assert trainer.evaluate(splits.test)["images"] == 300


class SmallNet4x(nn.Sequential):
    """SmallNet for 32×32 inputs."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 8 * 8, 10),
        )


class BatchLog(Callback):
    """Records every hook call it receives, so a test can see which callbacks saw which batches."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, float]] = []
        self.epochs: list[int] = []

    def on_batch_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        self.batches.append((step, float(loss)))

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        self.epochs.append(epoch)


def test_callbacks_given_to_fit_see_every_batch_like_the_trainers_own(small_loaders):
    train, _ = small_loaders
    batches = [batch for _, batch in zip(range(3), train)]
    own, passed = BatchLog(), BatchLog()
    trainer = Trainer(SmallNet(), device="cpu", progress=False, callbacks=[own])
    trainer.fit(batches, epochs=2, callbacks=[passed])
    assert [step for step, _ in passed.batches] == [0, 1, 2, 0, 1, 2]
    assert passed.batches == own.batches
    assert all(math.isfinite(loss) for _, loss in passed.batches)
    assert passed.epochs == own.epochs == [0, 1]


def test_batch_crop_flip_gives_each_image_one_of_its_own_crops_or_their_mirror():
    """The batched augmentation draws, per image, a crop of the zero-padded image and a flip: every output is
    exactly one of the (2p+1)^2 crops of its own input or its mirror, and the draws vary over the batch."""
    import torch
    import torch.nn.functional as F

    from course_lib.data import BatchCropFlip, get_dataset, raw_tensors

    images, _ = raw_tensors(get_dataset("fashion_mnist", True))
    batch = images[:64].float().div(255)
    p = 2
    torch.manual_seed(0)
    out = BatchCropFlip(28, padding=p)(batch)
    assert out.shape == batch.shape
    padded = F.pad(batch, (p, p, p, p))
    seen = set()
    for i in range(len(batch)):
        found = [(dy, dx, flip) for dy in range(2 * p + 1) for dx in range(2 * p + 1) for flip in (False, True)
                 if torch.equal(out[i], (lambda c: c.flip(-1) if flip else c)(padded[i, :, dy:dy + 28, dx:dx + 28]))]
        assert found, f"image {i} is not a crop of its own padded input"
        seen.add(found[0])
    assert len(seen) > 10 and {f for _, _, f in seen} == {False, True}
    with pytest.raises(ValueError, match="resize them to 32 first"):
        BatchCropFlip(32)(batch)
