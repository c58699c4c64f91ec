"""The level checks that let hot paths skip building log fields agree with what is logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from actors.identity.audit import audit, audit_enabled
from actors.operations.direct import _logs_info


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


def test_audit_is_enabled_exactly_when_its_events_are_recorded(restore_structlog: None) -> None:
    for level, recorded in [(logging.INFO, True), (logging.DEBUG, True), (logging.WARNING, False)]:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
        with capture_logs() as logs:
            audit("audit_probe", field=1)
        assert audit_enabled() is recorded
        assert _logs_info() is recorded
        assert [entry["event"] for entry in logs] == (["audit_probe"] if recorded else [])


def test_a_logger_that_cannot_tell_counts_as_enabled(restore_structlog: None) -> None:
    structlog.configure(wrapper_class=structlog.BoundLogger)
    assert audit_enabled() is True
    assert _logs_info() is True
