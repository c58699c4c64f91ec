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
from enum import StrEnum
from json.encoder import encode_basestring_ascii
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from quart import Quart, Request, Response, current_app, request
from quart_schema import RequestSchemaValidationError
from quart_schema.conversion import model_load
from werkzeug.datastructures import Headers

from actors.operations import Format, InputKind, ItemView, OperationView, Policy, State
from actors.operations.model import FINISHED

M = TypeVar("M", bound=BaseModel)

JSON_MIMETYPE = "application/json"


async def read_model(model_class: type[M]) -> M:
    """The request body as ``model_class``, as ``@validate_request(model_class)`` would pass it."""
    # The objects behind the proxies, looked up once (each read through a proxy costs ~0.8 µs).
    config = _current_app().config
    body_request: Request = request._get_current_object()  # type: ignore[attr-defined]
    if body_request.is_json and not config["QUART_SCHEMA_CONVERT_CASING"]:
        body = await body_request.get_data(as_text=False)
        try:
            return model_class.model_validate_json(body)
        except ValidationError:
            pass  # answered below, by quart-schema's own path, with its own error
    data = await body_request.get_json()
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
    finished = row.state in _FINISHED_STATES
    created = _date_json(row.created_at)
    # A row written by the synchronous path has one timestamp for all three (the same object):
    # encoded once (~0.4 µs each).
    updated = created if row.updated_at is row.created_at else _date_json(row.updated_at)
    finished_at = created if row.finished_at is row.created_at else _date_json(row.finished_at)
    # Keys in sorted order, as the provider's ``sort_keys`` puts them. Enum values come pre-encoded
    # (``_enum_json``) and UUIDs and dates need no escaping: ~10 → ~6 µs per answer.
    parts = [
        '{"callback_url":',
        _string(row.callback_url),
        ',"certificate_id":"',
        str(row.certificate_id),
        '","confirmation":',
        _enum_json(Policy, row.policy),
        ',"created_at":',
        created,
        ',"decided_at":',
        _date_json(row.decided_at),
        ',"decided_by_device":',
        "null" if row.decided_by_device is None else f'"{row.decided_by_device}"',
        ',"detached":',
        "true" if row.detached else "false",
        ',"digest_algorithm":',
        _string(row.digest_algorithm),
        ',"error":',
        _problem(row.error, row.error_detail),
        ',"expires_at":',
        _date_json(row.expires_at),
        ',"finished_at":',
        finished_at,
        ',"format":',
        _enum_json(Format, row.format),
        ',"id":"',
        str(row.id),
        '","item_count":',
        int.__repr__(row.item_count),
        ',"items":',
        "null" if items is None else f"[{','.join([_item_json(item, finished) for item in items])}]",
        ',"results_expire_at":',
        _date_json(row.retain_until),
        ',"state":',
        _enum_json(State, row.state),
        ',"type":"sign","updated_at":',
        updated,
        "}",
    ]
    return "".join(parts)


def json_response(view: OperationView, status: int, headers: Mapping[str, str]) -> Response:
    """``view`` as ``OperationOut``, answered as the app's JSON provider answers (``app.json.response``)."""
    app = _current_app()
    provider = app.json
    if _default_encoding(provider, app.debug):
        text = operation_json(view)
    elif getattr(provider, "compact", None) is False or app.debug:  # flask's response(): indented
        text = provider.dumps(operation_body(view), indent=2)
    else:
        text = provider.dumps(operation_body(view), separators=(",", ":"))
    # Headers built here are taken as they are; a mapping would be copied through werkzeug's generic
    # ``extend`` (~1 µs more). ``content_type``: what ``mimetype=JSON_MIMETYPE`` comes to, unparsed.
    answer_headers = Headers()
    for key, value in headers.items():
        answer_headers.add(key, value)
    response_class = app.response_class
    return response_class(f"{text}\n", status=status, headers=answer_headers, content_type=JSON_MIMETYPE)


def _current_app() -> Quart:
    # The app itself: every attribute read through the ``current_app`` proxy costs ~0.8 µs.
    app: Quart = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def _default_encoding(provider: object, debug: bool) -> bool:
    """Whether ``provider`` writes what ``operation_json`` writes (flask's defaults, not debugging)."""
    return (
        getattr(provider, "compact", None) is None
        and not debug
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
            _enum_json(InputKind, item.input),
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


_FINISHED_STATES = frozenset(state.value for state in FINISHED)
"""``State(value).finished``, without making the State."""

_ENUM_JSON: dict[tuple[type[StrEnum], str], str] = {
    (enum, member.value): encode_basestring_ascii(member.value)
    for enum in (Format, InputKind, Policy, State)
    for member in enum
}
"""The JSON text of every value of the enums an answer carries, by (enum, value)."""


def _enum_json(enum: type[StrEnum], value: str) -> str:
    """``_string(enum(value).value)``: a stored value as its enum writes it (an unknown one is refused
    by the enum, as before)."""
    known = _ENUM_JSON.get((enum, value))
    return known if known is not None else _string(enum(value).value)


def _date_json(value: datetime | None) -> str:
    # ``_string(_date(value))`` without the escaping: an ISO 8601 date has nothing to escape.
    return "null" if value is None else f'"{to_jsonable_python(value)}"'


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
