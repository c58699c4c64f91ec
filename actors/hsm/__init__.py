"""HSM units: the unit process, its slots and backends, its wire protocol and the client.

Module map::

    actors.hsm
     ├─ errors ......... the layer's error tree (stable codes; rebuilt on the client side)
     ├─ wire ........... framing: u32 length ‖ kind ‖ request id ‖ body; limits
     ├─ protocol ....... operations, request and reply dataclasses
     ├─ codec .......... frame bodies: binary for SIGN_DIGESTS and SIGN_MANY, JSON for the rest
     ├─ auth ........... mutual HMAC-Streebog challenge–response on connect
     ├─ handover ....... secrets handed to a unit on an inherited fd (never argv/env)
     ├─ kek ............ the soft-HSM key-encryption key, sealed under a passphrase
     ├─ blobs .......... user keys wrapped under the KEK (KExp15, header bound into the MAC)
     ├─ metrics ........ per-operation counters and latency percentiles
     ├─ selfcheck ...... every signature verified under the key's public half before it is returned
     ├─ backends/ ...... base (Backend / SlotSession protocols), soft (gost engine + ECDSA),
     │                   keycache (the soft unit's opened keys, shared by its slots),
     │                   pkcs11 (python-pkcs11, one lock per process)
     ├─ pool ........... the slot table: dispatch to the least-loaded slot, split/join, one answer per job
     ├─ slots .......... pykka SlotWorker × k under a SlotSupervisor (replaces crashed slots);
     │                   their inbox (a deque woken through an eventfd)
     ├─ server ......... the unit's RPC server (threads on a unix socket)
     ├─ unit ........... process main: ``python -m actors.hsm.unit`` / ``klyuch hsm-unit``
     ├─ launcher ....... trio side: spawn a unit, hand over secrets, wait for READY, stop it
     ├─ handshake ...... trio side: the client half of the connection handshake
     ├─ calls .......... trio side: a call (or a coalesced batch) waiting for its reply
     └─ client ......... trio side: an authenticated, pipelining connection to one unit

The unit process imports nothing from trio; the client side imports nothing from pykka.
"""
