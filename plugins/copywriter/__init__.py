"""The copywriter plugin: channel-aware ad copy, checked for length, compliance and facts."""
