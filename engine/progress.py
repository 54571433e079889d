"""Progress reports the engine yields, without knowing who draws them (napari's idea)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    elapsed_s: float
    stage: str = ""
    carried: int = 0  # of ``done``, finished by an earlier run (a resume): they took none of ``elapsed_s``

    @classmethod
    def of(cls, done: int, total: int, started: float, stage: str = "", carried: int = 0) -> Progress:
        return cls(done, total, time.perf_counter() - started, stage, carried)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def eta_s(self) -> float | None:
        if not self.done or self.done >= self.total:
            return None if not self.done else 0.0
        worked = self.done - self.carried  # after a resume, only this run's files tell the pace
        if worked <= 0:
            return None
        return self.elapsed_s / worked * (self.total - self.done)

    def describe(self) -> str:
        eta = self.eta_s
        tail = f", about {format_duration(eta)} left" if eta else ""
        return f"{self.stage} {self.done}/{self.total}{tail}".strip()


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
