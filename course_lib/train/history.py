"""What a training run records, one entry per epoch: losses, accuracies, learning rate, time and speed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class History:
    """Per-epoch metrics of a run; lists of equal length, test_* hold NaN when no test loader was given."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    images_per_second: list[float] = field(default_factory=list)

    def append(self, **metrics: float | int) -> None:
        """Add one epoch; every field must be given."""
        missing = {f.name for f in fields(self)} - metrics.keys()
        if missing:
            raise ValueError(f"history entry lacks {sorted(missing)}")
        for name, value in metrics.items():
            getattr(self, name).append(value)

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def last(self) -> dict:
        """The latest epoch's metrics as a dict (empty before the first epoch)."""
        return {name: values[-1] for name, values in self.to_dict().items()} if self.epoch else {}

    def to_dict(self) -> dict[str, list]:
        """Plain lists, ready for JSON, pandas or `course_lib.viz.plot_history`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, list]) -> "History":
        """Rebuild a history saved with `to_dict` (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: list(v) for k, v in values.items() if k in known})

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = self.last
        test = f", test_acc={last['test_acc']:.4f}" if last["test_acc"] == last["test_acc"] else ""  # NaN: no test set
        return f"History({len(self)} epochs, train_loss={last['train_loss']:.4f}, train_acc={last['train_acc']:.4f}{test})"
