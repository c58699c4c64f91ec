"""Signing operations and verification at the edge.

Modules:
  rest      ``/api/v1/operations`` (create, get, list, delete) and ``/api/v1/verify``
  models    the JSON shapes (pydantic → OpenAPI), base64 payloads
  codec     base64 fields → bytes against the configured limits, errors naming the field
  wire      the JSON of ``POST /operations`` read and written directly (quart-schema's results)
  problems  ``actors.operations`` errors → problem+json
  context   ``get_operations()``: the worker's ``OperationsService`` (``Services.operations``)

The domain (state machine, actors, execution, verification) lives in ``actors.operations``.
"""

from __future__ import annotations

from quart import Quart

from edge.operations import rest
from edge.operations.problems import register_operations_problem_handler


def register(app: Quart) -> None:
    """Add the operations blueprint and its error answers to ``app``; idempotent."""
    if rest.blueprint.name in app.blueprints:
        return
    register_operations_problem_handler(app)
    app.register_blueprint(rest.blueprint)
