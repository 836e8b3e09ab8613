"""The suite tests share the tiny tasks of :mod:`tests.support.suite_tasks`."""

from tests.support.suite_tasks import tiny_tasks  # noqa: F401  (a fixture)
