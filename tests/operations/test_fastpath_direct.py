"""``actors.operations.direct._in_state`` is ``dataclasses.replace(new, state=...)``, field for field."""

from __future__ import annotations

import dataclasses
import uuid

from actors.operations.direct import _in_state
from storage.repos.operations import NewOperation


def test_in_state_copies_every_field_of_a_new_operation() -> None:
    new = NewOperation(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        client_id="kc-client",
        format="cades-bes",
        detached=True,
        certificate_id=uuid.uuid4(),
        digest_algorithm="streebog512",
        state="executing",
        policy="none",
        callback_url="https://example.org/cb",
        ttl_s=12.5,
        owner_node=uuid.uuid4(),
        lease_s=7.25,
    )
    finished = _in_state(new, "completed")
    assert finished == dataclasses.replace(new, state="completed")
    # A field added to NewOperation later (even one with a default) must be listed in _in_state.
    for field in dataclasses.fields(NewOperation):
        if field.name != "state":
            assert getattr(finished, field.name) is getattr(new, field.name), field.name
    assert {field.name for field in dataclasses.fields(NewOperation)} == {
        "id",
        "user_id",
        "client_id",
        "format",
        "detached",
        "certificate_id",
        "digest_algorithm",
        "state",
        "policy",
        "callback_url",
        "ttl_s",
        "owner_node",
        "lease_s",
    }
