"""Report tests share the outbound fixtures (App with every table, movable clock)."""

from tests.notify.conftest import clock, embedded_app, make_app  # noqa: F401 - fixtures
