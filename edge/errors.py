"""Errors raised by the edge itself.

::

    EdgeError                    code
     ├─ NotReadyError            not_ready          (a dependency is not ready yet)
     └─ BadRequestError          bad_request        (input the schema could not express)
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of the edge's own errors."""

    code = "edge_error"


class NotReadyError(EdgeError):
    """A dependency (database, HSM units) is not ready."""

    code = "not_ready"


class BadRequestError(EdgeError):
    """The request is malformed in a way the schema could not express."""

    code = "bad_request"
