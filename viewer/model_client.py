"""Which model the window talks to: the Settings' head in a process of its own, and what stands in when even that
cannot be described. Torch-free: nothing here loads the model's libraries into the window's process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.diagnoser_spec import DiagnoserSpec
from engine.errors import ModelLoadError, PneumoError
from engine.model.head_card import load_head_card
from engine.model.registry import profile_names
from engine.model.store import active_head_dir
from engine.model_host import ModelClient
from viewer.settings import ViewerSettings

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser


def model_spec(settings: ViewerSettings) -> DiagnoserSpec:
    """The Settings' head folder, else the installed (or shipped) head, with the Settings' device, local weight paths
    and threshold (an ILO head is served by ``engine.ilo.diagnoser``, in the same model process).

    Raises:
        ModelLoadError: no head installed, a head folder without a head, or a head for the other profile.
    """
    folder = Path(settings.head_folder) if settings.head_folder else active_head_dir()
    profile = load_head_card(folder).profile
    if profile in profile_names() and profile != settings.profile:
        raise ModelLoadError(f"The installed head was trained for the {profile} profile but Settings ask for the "
                             f"{settings.profile} profile — change the profile in Settings, or train a "
                             f"{settings.profile} head.")
    return settings.diagnoser_spec(folder)


def default_diagnoser_factory(settings: ViewerSettings, progress: Callable[[str], None]) -> Diagnoser:
    """The model ``model_spec`` describes, built in this process (benchmarks compare it with the model process)."""
    return model_spec(settings).build(progress=progress)


class UnavailableModel:
    """Stands in for the model when it cannot even be described (a head for the other profile): every request
    answers with the reason."""

    def __init__(self, error: PneumoError) -> None:
        self.error = error

    def run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    def close(self) -> None:
        pass


def retire(model: ModelClient) -> None:
    """Stop a model that was replaced without waiting on the GUI thread (its last request may still run)."""
    threading.Thread(target=model.close, daemon=True, name="retire-model").start()
