"""The JSON of ``POST /operations``, in and out, without quart-schema's generic per-request work.

Every signing request pays for its body and its answer, so both are made directly here, with the
same results as ``@validate_request`` / ``@validate_response`` give (the route still documents
``OperationIn`` and ``OperationOut`` for OpenAPI):

* ``read_model`` lets pydantic-core parse and validate the body in one pass
  (``model_validate_json``) instead of ``json.loads``, a ``TypeAdapter`` built for the request and a
  validation of the parsed objects. A body it refuses goes through quart-schema's own path, so
  every error (malformed JSON, wrong media type, a schema violation) answers exactly as before.
* ``operation_json`` writes the answer's text directly: the document ``OperationOut.of(view)`` would
  give, encoded as the app's JSON provider encodes it (sorted keys, compact separators, ASCII; values
  as quart-schema's encoder hook writes them, ``pydantic_core.to_jsonable_python``) — no model
  validation, no ``model_dump``, no hook call per UUID and datetime. ``operation_body`` is the same
  document as a dictionary, encoded by the provider itself when it is configured otherwise.
* ``json_response`` answers it as ``app.json.response`` does (with a final newline).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Mapping
from datetime import datetime
from json.encoder import encode_basestring_ascii
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


def operation_json(view: OperationView) -> str:
    """``operation_body(view)`` encoded as the app's default JSON provider encodes it (compact,
    ASCII, sorted keys), written directly: the shape is fixed, only strings need escaping."""
    row = view.row
    items = view.items
    finished = view.state.finished
    # Keys in sorted order, as the provider's ``sort_keys`` puts them.
    parts = [
        '{"callback_url":',
        _string(row.callback_url),
        ',"certificate_id":',
        _string(str(row.certificate_id)),
        ',"confirmation":',
        _string(Policy(row.policy).value),
        ',"created_at":',
        _string(_date(row.created_at)),
        ',"decided_at":',
        _string(_date(row.decided_at)),
        ',"decided_by_device":',
        _string(None if row.decided_by_device is None else str(row.decided_by_device)),
        ',"detached":',
        "true" if row.detached else "false",
        ',"digest_algorithm":',
        _string(row.digest_algorithm),
        ',"error":',
        _problem(row.error, row.error_detail),
        ',"expires_at":',
        _string(_date(row.expires_at)),
        ',"finished_at":',
        _string(_date(row.finished_at)),
        ',"format":',
        _string(Format(row.format).value),
        ',"id":',
        _string(str(row.id)),
        ',"item_count":',
        int.__repr__(row.item_count),
        ',"items":',
        "null" if items is None else f"[{','.join(_item_json(item, finished) for item in items)}]",
        ',"results_expire_at":',
        _string(_date(row.retain_until)),
        ',"state":',
        _string(State(row.state).value),
        ',"type":"sign","updated_at":',
        _string(_date(row.updated_at)),
        "}",
    ]
    return "".join(parts)


def json_response(view: OperationView, status: int, headers: Mapping[str, str]) -> Response:
    """``view`` as ``OperationOut``, answered as the app's JSON provider answers (``app.json.response``)."""
    provider = current_app.json
    if _default_encoding(provider):
        text = operation_json(view)
    elif getattr(provider, "compact", None) is False or current_app.debug:  # flask's response(): indented
        text = provider.dumps(operation_body(view), indent=2)
    else:
        text = provider.dumps(operation_body(view), separators=(",", ":"))
    response_class = current_app.response_class
    return response_class(f"{text}\n", status=status, headers=dict(headers), mimetype=JSON_MIMETYPE)


def _default_encoding(provider: object) -> bool:
    """Whether ``provider`` writes what ``operation_json`` writes (flask's defaults, not debugging)."""
    return (
        getattr(provider, "compact", None) is None
        and not current_app.debug
        and getattr(provider, "ensure_ascii", False) is True
        and getattr(provider, "sort_keys", False) is True
    )


def _item_json(item: ItemView, finished: bool) -> str:
    return "".join(
        (
            '{"digest":"',
            _b64(item.digest),
            '","error":',
            _problem(item.error_code, item.error_detail),
            ',"index":',
            int.__repr__(item.index),
            ',"input":',
            _string(InputKind(item.input).value),
            ',"name":',
            _string(item.name),
            ',"signature":',
            "null" if item.result is None else f'"{_b64(item.result)}"',  # base64: nothing to escape
            ',"status":"',
            _item_status(item, finished),
            '"}',
        )
    )


def _problem(code: str | None, detail: str | None) -> str:
    if code is None:
        return "null"
    return f'{{"code":{_string(code)},"detail":{_string(detail)}}}'


def _string(value: object) -> str:
    # The json module's own escaping (its C encoder uses the same function with ensure_ascii).
    return "null" if value is None else encode_basestring_ascii(str(value))


def _item_body(item: ItemView, finished: bool) -> dict[str, object]:
    # ItemOut.of, field for field.
    return {
        "index": item.index,
        "name": item.name,
        "input": InputKind(item.input).value,
        "digest": _b64(item.digest),
        "status": _item_status(item, finished),
        "signature": None if item.result is None else _b64(item.result),
        "error": None if item.error_code is None else {"code": item.error_code, "detail": item.error_detail},
    }


def _item_status(item: ItemView, finished: bool) -> str:
    if item.result is not None:
        return "signed"
    if item.error_code is not None:
        return "failed"
    return "skipped" if finished else "pending"


def _date(value: datetime | None) -> str | None:
    return None if value is None else str(to_jsonable_python(value))


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")
