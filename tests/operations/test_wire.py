"""``edge.operations.wire`` gives exactly what quart-schema's generic path gives, in and out.

The oracle is quart-schema itself: a route decorated with ``@validate_request`` / ``@validate_response``
beside a route using ``wire``, in the same app, with the app's problem answers; their HTTP answers
must be byte for byte the same.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from quart import Blueprint, Response
from quart_schema import QuartSchema, validate_request, validate_response
from quart_trio import QuartTrio

from actors.operations import Format, InputKind, ItemView, OperationView, Policy, State
from edge.operations.models import OperationIn, OperationOut
from edge.operations.wire import json_response, operation_body, read_model
from edge.problems import register_problem_handlers
from storage.repos.operations import OperationRow

STATES: dict[str, OperationView] = {}
"""The view the routes below answer (set by each example)."""


def _app() -> QuartTrio:
    app = QuartTrio("wire-test")
    QuartSchema(app)
    register_problem_handlers(app)
    routes = Blueprint("wire", __name__)

    @routes.post("/generic/in")
    @validate_request(OperationIn)
    async def generic_in(data: OperationIn) -> dict[str, Any]:
        return {"model": data.model_dump(mode="json")}

    @routes.post("/wire/in")
    async def wire_in() -> dict[str, Any]:
        data = await read_model(OperationIn)
        return {"model": data.model_dump(mode="json")}

    @routes.get("/generic/out")
    @validate_response(OperationOut, 201)
    async def generic_out() -> tuple[OperationOut, int, dict[str, str]]:
        return OperationOut.of(STATES["view"]), 201, {"Location": "/x"}

    @routes.get("/wire/out")
    async def wire_out() -> Response:
        return json_response(STATES["view"], 201, {"Location": "/x"})

    app.register_blueprint(routes)
    return app


APP = _app()

UTC = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)
TEXT = st.text(max_size=20)


@st.composite
def views(draw: st.DrawFn) -> OperationView:
    error = draw(st.none() | TEXT)
    row = OperationRow(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        client_id=draw(st.none() | TEXT),
        type="sign",
        format=draw(st.sampled_from([f.value for f in Format])),
        detached=draw(st.booleans()),
        certificate_id=uuid.uuid4(),
        digest_algorithm=draw(st.sampled_from(["streebog256", "streebog512", "sha256"])),
        state=draw(st.sampled_from([s.value for s in State])),
        policy=draw(st.sampled_from([p.value for p in Policy])),
        callback_url=draw(st.none() | TEXT),
        item_count=draw(st.integers(0, 1000)),
        created_at=draw(UTC),
        expires_at=draw(UTC),
        updated_at=draw(UTC),
        decided_by_device=draw(st.none() | st.uuids()),
        decided_at=draw(st.none() | UTC),
        finished_at=draw(st.none() | UTC),
        retain_until=draw(st.none() | UTC),
        error=error,
        error_detail=None if error is None else draw(st.none() | TEXT),
        owner_node=None,
        lease_until=None,
    )
    item = st.builds(
        ItemView,
        index=st.integers(0, 1000),
        name=st.text(min_size=1, max_size=30),
        input=st.sampled_from(list(InputKind)),
        digest=st.binary(min_size=32, max_size=64),
        result=st.none() | st.binary(max_size=200),
        error_code=st.none() | TEXT,
        error_detail=st.none() | TEXT,
    )
    items = draw(st.none() | st.lists(item, max_size=4).map(tuple))
    return OperationView(row, items)


async def _same_answer(method: str, path: str, **kwargs: Any) -> Response:
    client = APP.test_client()
    generic = await client.open(f"/generic/{path}", method=method, **kwargs)
    fast = await client.open(f"/wire/{path}", method=method, **kwargs)
    assert fast.status_code == generic.status_code
    assert await fast.get_data() == await generic.get_data()
    assert fast.content_type == generic.content_type
    return fast


@settings(max_examples=60, deadline=None)
@given(view=views())
async def test_the_answer_is_the_generic_one_byte_for_byte(view: OperationView) -> None:
    STATES["view"] = view
    answer = await _same_answer("GET", "out")
    assert answer.status_code == 201
    assert answer.headers["Location"] == "/x"
    # The dictionary behind it (what a provider with other settings encodes) is the same document.
    assert json.loads(await answer.get_data()) == json.loads(APP.json.dumps(operation_body(view)))


DOCUMENT = "ZG9jdW1lbnQ="


async def test_a_valid_body_reads_as_the_generic_one() -> None:
    bodies: list[Any] = [
        {"format": "raw", "items": [{"name": "a", "content": DOCUMENT}]},
        {
            "type": "sign",
            "format": "cades-bes",
            "detached": True,
            "certificate_id": str(uuid.uuid4()),
            "items": [{"name": "a", "hash": DOCUMENT}, {"name": "б", "content": DOCUMENT}],
            "callback_url": "https://example.org/cb",
            "confirmation": "none",
        },
        {"format": "raw", "items": [{"name": "a", "content": DOCUMENT}], "detached": 1},
        {"format": "raw", "items": [{"name": "a", "content": DOCUMENT}], "detached": "true"},
    ]
    for body in bodies:
        answer = await _same_answer("POST", "in", json=body)
        assert answer.status_code == 200


async def test_a_refused_body_is_answered_as_the_generic_path_answers() -> None:
    valid_item = {"name": "a", "content": DOCUMENT}
    for body in [
        {},
        {"format": "pdf", "items": [valid_item]},
        {"format": "raw", "items": []},
        {"format": "raw", "items": [{"name": "a"}]},
        {"format": "raw", "items": [valid_item], "extra": 1},
        {"format": "raw", "items": [valid_item], "certificate_id": "not a uuid"},
        [1, 2],
        "text",
        None,
    ]:
        answer = await _same_answer("POST", "in", json=body)
        assert answer.status_code == 422
    # Not UTF-8: the generic path fails decoding the text; a client error either way.
    undecodable = await _same_answer(
        "POST", "in", data=b"\xff\xfe not utf-8", headers={"Content-Type": "application/json"}
    )
    assert undecodable.status_code == 400
    assert (await undecodable.get_json())["code"] == "bad_encoding"
    for raw, headers in [
        (b'{"format": "raw", "items": [', {"Content-Type": "application/json"}),
        (b'{"format": NaN}', {"Content-Type": "application/json"}),
        (json.dumps({"format": "raw", "items": [valid_item]}).encode(), {"Content-Type": "text/plain"}),
        (json.dumps({"format": "raw", "items": [valid_item]}).encode(), {}),
    ]:
        answer = await _same_answer("POST", "in", data=raw, headers=headers)
        assert answer.status_code in (400, 415, 422)
