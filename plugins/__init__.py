"""Built-in pitchcraft plugins, loaded through the same registry path as third-party ones."""
