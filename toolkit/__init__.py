"""pitchcraft core: plugin contract, registry, context, settings and the surfaces built on them."""

from pitchcraft.context import Context
from pitchcraft.errors import InputError, PitchcraftError, PluginNotFound, PluginRunError
from pitchcraft.plugin import Plugin
from pitchcraft.registry import Registry, load_registry
from pitchcraft.settings import Settings

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
