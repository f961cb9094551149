"""Placeholder: filled in by this family's author."""
METHODS = ()
FUNCTIONS = ()
