"""Plugins written for the tests: one good, several broken in the ways real plugins break."""
