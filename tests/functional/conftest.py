"""Fixtures shared by the functional tests: the console's signed-in browser stand-in."""

from tests.functional.test_console import console  # noqa: F401 (a fixture, found by name)
