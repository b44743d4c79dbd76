"""Guided run: where a session is in its program. Pure, no Qt.

Counts each step down, gives step and session progress, and moves between steps
(skip, back, repeat). It knows nothing about output: the session machine advances it
only while output runs, so pauses and contact loss stop the countdown.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.programs import Program, ProgramStep


@dataclass(frozen=True, slots=True)
class GuidedView:
    """A snapshot for the UI."""

    program_id: str
    program_name: str
    step_index: int  # 0-based
    step_count: int
    step_name: str
    zones: tuple[str, ...]
    step_remaining_s: float
    step_progress: float  # 0..1
    session_progress: float  # 0..1
    session_remaining_s: float
    finished: bool
    outcomes: tuple[tuple[int, str], ...] = ()  # (index, done|partial|skipped) of past steps


class GuidedRun:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.index = 0
        self.step_elapsed_s = 0.0
        self.finished = False
        self.delivered_s: dict[int, float] = {}  # output seconds counted per step index
        self.visited: set[int] = {0}

    @property
    def step(self) -> ProgramStep:
        return self.program.steps[self.index]

    @property
    def step_count(self) -> int:
        return len(self.program.steps)

    @property
    def step_remaining_s(self) -> float:
        return 0.0 if self.finished else max(0.0, self.step.duration_s - self.step_elapsed_s)

    def _before_s(self) -> float:
        return sum(s.duration_s for s in self.program.steps[: self.index])

    @property
    def session_progress(self) -> float:
        if self.finished:
            return 1.0
        total = self.program.duration_s
        return min(1.0, (self._before_s() + self.step_elapsed_s) / total) if total else 1.0

    def advance(self, dt: float) -> bool:
        """Count ``dt`` seconds of output; True if the step changed or the run finished."""
        if self.finished or dt <= 0:
            return False
        self.step_elapsed_s += dt
        self.delivered_s[self.index] = self.delivered_s.get(self.index, 0.0) + dt
        if self.step_elapsed_s < self.step.duration_s:
            return False
        return self.skip()

    def skip(self) -> bool:
        """Go to the next step (or finish after the last). True if anything changed."""
        if self.finished:
            return False
        if self.index + 1 >= self.step_count:
            self.finished = True
            self.step_elapsed_s = self.step.duration_s
        else:
            self.index += 1
            self.step_elapsed_s = 0.0
            self.visited.add(self.index)
        return True

    def outcomes(self) -> dict[int, str]:
        """How each step before the current one (all, once finished) went, from the
        output time it was given: done, partial or skipped (app.engine.zones)."""
        from app.engine.zones import step_outcome

        last = self.step_count if self.finished else self.index
        return {
            i: step_outcome(self.delivered_s.get(i), self.program.steps[i].duration_s)
            for i in range(last)
        }

    def back(self) -> bool:
        """Go to the previous step's start (the first step restarts)."""
        self.finished = False
        self.index = max(0, self.index - 1)
        self.step_elapsed_s = 0.0
        return True

    def repeat(self) -> bool:
        """Restart the present step's countdown."""
        self.finished = False
        self.step_elapsed_s = 0.0
        return True

    def view(self) -> GuidedView:
        step = self.step
        total = self.program.duration_s
        remaining = (
            0.0
            if self.finished
            else (total - self._before_s() - min(self.step_elapsed_s, step.duration_s))
        )
        return GuidedView(
            program_id=self.program.id,
            program_name=self.program.name,
            step_index=self.index,
            step_count=self.step_count,
            step_name=step.name,
            zones=step.zones,
            step_remaining_s=self.step_remaining_s,
            step_progress=1.0 if self.finished else min(1.0, self.step_elapsed_s / step.duration_s),
            session_progress=self.session_progress,
            session_remaining_s=max(0.0, remaining),
            finished=self.finished,
            outcomes=tuple(sorted(self.outcomes().items())),
        )
