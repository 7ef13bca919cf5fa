"""A source schema module whose own code fails as it is imported, for the configuration's tests."""

raise RuntimeError("this module fails on import")
