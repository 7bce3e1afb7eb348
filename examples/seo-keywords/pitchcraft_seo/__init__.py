"""Example third-party pitchcraft plugin; see docs/plugins.md in the pitchcraft repository."""
