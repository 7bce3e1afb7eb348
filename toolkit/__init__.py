"""pitchcraft core: plugin contract, registry, context, settings and the surfaces built on them."""

from toolkit.context import Context
from toolkit.errors import InputError, PitchcraftError, PluginNotFound, PluginRunError
from toolkit.plugin import Plugin
from toolkit.registry import Registry, load_registry
from toolkit.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Context",
    "InputError",
    "PitchcraftError",
    "Plugin",
    "PluginNotFound",
    "PluginRunError",
    "Registry",
    "Settings",
    "load_registry",
]
