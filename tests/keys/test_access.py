"""Ownership, roles, defaults, revocation, paging and validation of the keys API."""

from __future__ import annotations

import uuid

import structlog

from tests.keys.conftest import Accounts, StartKeysApi


async def test_user_b_cannot_see_or_use_user_a_keys(keys_api: StartKeysApi, people: Accounts) -> None:
    api = await keys_api()
    key = await api.new_key("alice")
    certificate = await api.issue("alice", key["id"])
    missing_key, missing_cert = uuid.uuid4(), uuid.uuid4()

    for method, path, body in [
        ("GET", "/keys/{k}", None),
        ("POST", "/keys/{k}/csr", {}),
        ("POST", "/keys/{k}/certificate", {}),
        ("PUT", "/keys/{k}/certificate", {"certificate": certificate["pem"]}),
        ("POST", "/keys/{k}/default", None),
        ("POST", "/keys/{k}/revoke", {}),
        ("GET", "/certificates/{c}", None),
        ("POST", "/certificates/{c}/default", None),
        ("POST", "/certificates/{c}/revoke", {}),
    ]:
        foreign = await api.call(method, path.format(k=key["id"], c=certificate["id"]), "bob", json=body)
        missing = await api.call(method, path.format(k=missing_key, c=missing_cert), "bob", json=body)
        assert foreign.status_code == missing.status_code == 404, (path, foreign.text)
        assert foreign.json()["code"] == missing.json()["code"] == "not_found"
        assert foreign.json()["title"] == missing.json()["title"]
        # The detail names the id asked for, the same way for someone else's and a missing one.
        assert foreign.json()["detail"].replace(key["id"], "X").replace(certificate["id"], "X") == (
            missing.json()["detail"].replace(str(missing_key), "X").replace(str(missing_cert), "X")
        )

    assert (await api.call("GET", "/keys", "bob")).json()["items"] == []
    assert (await api.call("GET", "/certificates", "bob")).json()["items"] == []
    listing = await api.call("GET", "/keys", "bob", params={"user_id": str(people.alice)})
    assert listing.status_code == 403
    # Still alive and untouched for its owner.
    mine = await api.call("GET", f"/keys/{key['id']}", "alice")
    assert mine.json()["status"] == "active"
    # An operator sees alice's keys and certificates.
    seen = await api.call("GET", "/keys", "olga", params={"user_id": str(people.alice)})
    assert [item["id"] for item in seen.json()["items"]] == [key["id"]]
    seen = await api.call("GET", "/certificates", "olga", params={"user_id": str(people.alice)})
    assert [item["id"] for item in seen.json()["items"]] == [certificate["id"]]
    assert (await api.call("GET", f"/keys/{key['id']}", "olga")).status_code == 200
    # No token: 401 everywhere but the CA certificate.
    assert (await api.client.get("/api/v1/keys")).status_code == 401
    assert (await api.client.post("/api/v1/keys", json={"algorithm": "ecdsa_p256"})).status_code == 401
    assert (await api.client.get("/api/v1/ca/certificate")).status_code == 200


async def test_defaults_and_revocation(keys_api: StartKeysApi, people: Accounts) -> None:
    api = await keys_api()
    first = await api.new_key("alice")
    second = await api.new_key("alice", algorithm="ecdsa_p256", default=True)
    keys = {item["id"]: item for item in (await api.call("GET", "/keys", "alice")).json()["items"]}
    assert keys[first["id"]]["is_default"] is False
    assert keys[second["id"]]["is_default"] is True

    cert_1 = await api.issue("alice", first["id"])  # the user's first certificate: default
    cert_2 = await api.issue("alice", second["id"])
    assert cert_1["is_default"] is True
    assert cert_2["is_default"] is False
    chosen = await api.call("POST", f"/certificates/{cert_2['id']}/default", "alice")
    assert chosen.json()["is_default"] is True
    defaults = {
        item["id"]: item["is_default"]
        for item in (await api.call("GET", "/certificates", "alice")).json()["items"]
    }
    assert defaults == {cert_1["id"]: False, cert_2["id"]: True}
    # Choosing a key makes its newest valid certificate the default too.
    await api.call("POST", f"/keys/{first['id']}/default", "alice")
    certs = (await api.call("GET", "/certificates", "alice", params={"key_id": first["id"]})).json()["items"]
    assert [item["is_default"] for item in certs] == [True]

    revoked = await api.call(
        "POST", f"/certificates/{cert_1['id']}/revoke", "alice", json={"reason": "superseded"}
    )
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["is_default"] is False
    assert revoked.json()["revocation_reason"] == "superseded"
    again = await api.call("POST", f"/certificates/{cert_1['id']}/default", "alice")
    assert again.status_code == 422

    # Revoking a key revokes its certificates; a revoked key makes no requests and gets none issued.
    cert_3 = await api.issue("alice", second["id"])
    gone = await api.call("POST", f"/keys/{second['id']}/revoke", "alice", json={"reason": "key_compromise"})
    assert gone.json()["status"] == "revoked"
    assert gone.json()["is_default"] is False
    statuses = {
        item["id"]: item["status"]
        for item in (await api.call("GET", "/certificates", "alice", params={"key_id": second["id"]})).json()[
            "items"
        ]
    }
    assert statuses == {cert_2["id"]: "revoked", cert_3["id"]: "revoked"}
    for method, path in [("POST", "csr"), ("POST", "certificate")]:
        refused = await api.call(method, f"/keys/{second['id']}/{path}", "alice", json={})
        assert refused.status_code == 409
        assert refused.json()["code"] == "key_revoked"
    assert (await api.call("GET", "/keys", "alice", params={"status": "revoked"})).json()["items"][0][
        "id"
    ] == (second["id"])


async def test_paging(keys_api: StartKeysApi, people: Accounts) -> None:
    api = await keys_api()
    made = [(await api.new_key("bob", algorithm="ecdsa_p256", label=f"k{n}"))["id"] for n in range(3)]
    first = (await api.call("GET", "/keys", "bob", params={"limit": 2})).json()
    assert [item["id"] for item in first["items"]] == made[:2]
    rest = (await api.call("GET", "/keys", "bob", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [item["id"] for item in rest["items"]] == made[2:]
    assert rest["next_cursor"] is None
    bad = await api.call("GET", "/keys", "bob", params={"cursor": "!!"})
    assert bad.status_code == 400


async def test_validation_errors(keys_api: StartKeysApi, people: Accounts) -> None:
    api = await keys_api()
    cases = [
        ({"algorithm": "rsa"}, "validation_failed", "algorithm"),
        ({"algorithm": "gost3410_2012_256", "paramset": "TC26_512_A"}, "invalid_key_request", "512-bit"),
        ({"algorithm": "gost3410_2012_512", "paramset": "NOPE"}, "invalid_key_request", "unknown GOST"),
        ({"algorithm": "gost3410_2012_256", "paramset": "TEST_256"}, "invalid_key_request", "unknown GOST"),
        ({"algorithm": "ecdsa_p256", "paramset": "CRYPTOPRO_A"}, "invalid_key_request", "no paramset"),
        ({"algorithm": "ecdsa_p256", "colour": "red"}, "validation_failed", "colour"),
        ({"algorithm": "ecdsa_p256", "hsm_domain": "pkcs11:NOPE"}, "invalid_key_request", "pkcs11:NOPE"),
    ]
    for body, code, needle in cases:
        response = await api.call("POST", "/keys", "bob", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == code
        assert needle in response.json()["detail"]
    key = await api.new_key("bob")
    for subject, needle in [
        ({"common_name": "x", "inn": "123"}, "inn"),
        ({"common_name": "x", "country_name": "Russia"}, "country_name"),
        ({"surname": "x"}, "common_name"),
    ]:
        response = await api.call("POST", f"/keys/{key['id']}/csr", "bob", json={"subject": subject})
        assert response.status_code == 422, response.text
        assert needle in response.json()["detail"]
    response = await api.call("POST", f"/keys/{key['id']}/certificate", "bob", json={"validity_days": 9999})
    assert response.status_code == 422
    response = await api.call("POST", f"/keys/{key['id']}/revoke", "bob", json={"reason": "because"})
    assert response.status_code == 422
    assert (await api.call("GET", "/keys/not-a-uuid", "bob")).status_code == 404


async def test_openapi_document_and_audit_trail(keys_api: StartKeysApi, people: Accounts) -> None:
    api = await keys_api()
    with structlog.testing.capture_logs() as events:
        key = await api.new_key("alice")
        issued = await api.issue("alice", key["id"])
        await api.call("POST", f"/certificates/{issued['id']}/revoke", "alice", json={"reason": "superseded"})
        await api.call("POST", f"/keys/{key['id']}/revoke", "alice", json={})
    audit = {event["event"]: event for event in events if event["event"].startswith("audit_")}
    assert {"audit_ca_created", "audit_key_created", "audit_certificate_issued"} <= set(audit)
    assert {"audit_certificate_revoked", "audit_key_revoked"} <= set(audit)
    assert audit["audit_key_created"]["key_id"] == key["id"]
    assert audit["audit_certificate_revoked"]["reason"] == "superseded"
    assert not any("wrapped_blob" in event or "blob" in event for event in audit.values())

    document = (await api.client.get("/openapi.json")).json()
    paths = document["paths"]
    assert {"post", "put"} <= set(paths["/api/v1/keys/{key_id}/certificate"])
    assert {"get", "post"} <= set(paths["/api/v1/keys"])
    assert "post" in paths["/api/v1/keys/{key_id}/csr"]
    assert "get" in paths["/api/v1/certificates"]
    assert paths["/api/v1/keys"]["post"].get("security")
    assert not paths["/api/v1/ca/certificate"]["get"].get("security")
