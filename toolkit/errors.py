"""Errors users meet. Each carries a message fit to print without a stack trace."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError


class PitchcraftError(Exception):
    """Base class: anything raised on purpose by pitchcraft."""


class PluginNotFound(PitchcraftError):
    def __init__(self, name: str, available: list[str], load_error: str | None = None) -> None:
        if load_error:
            message = f"plugin {name!r} failed to load: {load_error}"
        else:
            message = f"no plugin named {name!r} (available: {', '.join(available) or 'none'})"
        super().__init__(message)
        self.name = name


class InputError(PitchcraftError):
    """A request did not match a plugin's Input schema; `fields` maps field path -> problem."""

    def __init__(self, plugin: str, fields: dict[str, str]) -> None:
        super().__init__(f"invalid input for {plugin}: {describe_fields(fields)}")
        self.plugin = plugin
        self.fields = fields

    @classmethod
    def from_validation(cls, plugin: str, err: ValidationError) -> InputError:
        return cls(plugin, field_errors(err))


class DependencyUnavailable(PitchcraftError):
    """Something the request needs (model, store, packaged data) is not there now; the
    request itself may be fine, so callers retry later instead of changing it."""

    dependency: ClassVar[str] = "dependency"


class ModelUnavailable(DependencyUnavailable):
    """The model server cannot be reached or keeps failing; retry later."""

    dependency = "model"


class PluginRunError(PitchcraftError):
    """A plugin failed on one request; the other requests of a batch are unaffected."""

    def __init__(
        self,
        plugin: str,
        message: str,
        cause: PitchcraftError | None = None,
        bug: BaseException | None = None,
    ) -> None:
        super().__init__(f"{plugin} failed: {message}")
        self.plugin = plugin
        self.reason = message
        # The deliberate error behind it (bad input, model down), for callers that map types,
        # e.g. the HTTP API's status codes; None for a plugin bug.
        self.cause = cause
        # The unexpected exception of a plugin bug, kept for the log's stack trace.
        self.bug = bug


def field_errors(err: ValidationError) -> dict[str, str]:
    """Flatten pydantic errors to {"items.0.price": "Input should be greater than 0"}."""
    out: dict[str, str] = {}
    for item in err.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "(request)"
        out.setdefault(path, item["msg"].removeprefix("Value error, "))
    return out


def describe_fields(fields: dict[str, str]) -> str:
    """{"k": "must be > 0", ...} as one line: "k: must be > 0; ..."."""
    return "; ".join(f"{path}: {problem}" for path, problem in fields.items())
