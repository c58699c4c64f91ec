"""The JSON of ``POST /operations``, in and out, without quart-schema's generic per-request work.

Every signing request pays for its body and its answer, so both are made directly here, with the
same results as ``@validate_request`` / ``@validate_response`` give (the route still documents
``OperationIn`` and ``OperationOut`` for OpenAPI):

* ``read_model`` lets pydantic-core parse and validate the body in one pass
  (``model_validate_json``) instead of ``json.loads``, a ``TypeAdapter`` built for the request and a
  validation of the parsed objects. A body it refuses goes through quart-schema's own path, so
  every error (malformed JSON, wrong media type, a schema violation) answers exactly as before.
* ``operation_body`` is the dictionary ``OperationOut.of(view).model_dump()`` would be, already
  made of JSON values: the app's encoder then calls no ``default`` hook per UUID and datetime.
  Values are written as that hook (quart-schema's) writes them: ``pydantic_core.to_jsonable_python``.
* ``json_response`` encodes it as ``app.json.response`` does (the app's settings: sorted keys,
  compact separators, ASCII, a final newline).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from quart import Response, current_app, request
from quart_schema import RequestSchemaValidationError
from quart_schema.conversion import model_load

from actors.operations import Format, InputKind, ItemView, OperationView, Policy, State

M = TypeVar("M", bound=BaseModel)

JSON_MIMETYPE = "application/json"


async def read_model(model_class: type[M]) -> M:
    """The request body as ``model_class``, as ``@validate_request(model_class)`` would pass it."""
    config = current_app.config
    if request.is_json and not config["QUART_SCHEMA_CONVERT_CASING"]:
        body = await request.get_data(as_text=False)
        try:
            return model_class.model_validate_json(body)
        except ValidationError:
            pass  # answered below, by quart-schema's own path, with its own error
    data = await request.get_json()
    return model_load(
        data,
        model_class,
        RequestSchemaValidationError,
        decamelize=config["QUART_SCHEMA_CONVERT_CASING"],
        preference=config["QUART_SCHEMA_CONVERSION_PREFERENCE"],
    )


def operation_body(view: OperationView) -> dict[str, object]:
    """``OperationOut.of(view)`` as JSON values (the same document once encoded)."""
    row = view.row
    items = view.items
    finished = view.state.finished
    return {
        "id": str(row.id),
        "type": "sign",
        "format": Format(row.format).value,
        "detached": row.detached,
        "certificate_id": str(row.certificate_id),
        "digest_algorithm": row.digest_algorithm,
        "state": State(row.state).value,
        "confirmation": Policy(row.policy).value,
        "callback_url": row.callback_url,
        "item_count": row.item_count,
        "created_at": _date(row.created_at),
        "updated_at": _date(row.updated_at),
        "expires_at": _date(row.expires_at),
        "decided_at": _date(row.decided_at),
        "decided_by_device": None if row.decided_by_device is None else str(row.decided_by_device),
        "finished_at": _date(row.finished_at),
        "results_expire_at": _date(row.retain_until),
        "error": None if row.error is None else {"code": row.error, "detail": row.error_detail},
        "items": None if items is None else [_item_body(item, finished) for item in items],
    }


def json_response(body: object, status: int, headers: Mapping[str, str]) -> Response:
    """``body`` encoded by the app's JSON provider, as a JSON response with ``status`` and ``headers``."""
    provider = current_app.json
    # The provider's own ``response`` (flask's): compact unless in debug, a final newline.
    compact = getattr(provider, "compact", None)
    if (compact is None and current_app.debug) or compact is False:
        text = provider.dumps(body, indent=2)
    else:
        text = provider.dumps(body, separators=(",", ":"))
    response_class = current_app.response_class
    return response_class(f"{text}\n", status=status, headers=dict(headers), mimetype=JSON_MIMETYPE)


def _item_body(item: ItemView, finished: bool) -> dict[str, object]:
    # ItemOut.of, field for field.
    if item.result is not None:
        status = "signed"
    elif item.error_code is not None:
        status = "failed"
    else:
        status = "skipped" if finished else "pending"
    return {
        "index": item.index,
        "name": item.name,
        "input": InputKind(item.input).value,
        "digest": _b64(item.digest),
        "status": status,
        "signature": None if item.result is None else _b64(item.result),
        "error": None if item.error_code is None else {"code": item.error_code, "detail": item.error_detail},
    }


def _date(value: datetime | None) -> str | None:
    return None if value is None else str(to_jsonable_python(value))


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")
