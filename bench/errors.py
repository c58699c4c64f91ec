"""Errors of the benchmark harness.

```
BenchError (bench_error)
 ├── UsageError (bench_usage) ............ a bad command line or scenario option
 │    ├── NotLoopbackError (bench_url_not_loopback)  --url points off this machine
 │    └── UnknownScenarioError (bench_unknown_scenario)
 ├── ServerError (bench_server) .......... the server under test could not be used
 │    ├── ServerStartError (bench_server_start)      the process died or could not be spawned
 │    └── ServerNotReadyError (bench_server_not_ready)  /readyz did not answer 200 in time
 ├── ScenarioPrepareError (bench_prepare) a scenario's set-up step failed (e.g. endpoint missing)
 └── ProtocolError (bench_http_protocol)  the server broke HTTP/1.1 framing
```

Failures of single requests during a load phase are not exceptions: they are counted by kind
(``http_503``, ``timeout``, ``connect``, ...) in the phase result.
"""

from __future__ import annotations


class BenchError(Exception):
    """Root of the harness's errors; ``code`` is stable, the message is for humans."""

    code = "bench_error"


class UsageError(BenchError):
    """A command-line option or scenario option cannot be used."""

    code = "bench_usage"


class NotLoopbackError(UsageError):
    """``--url`` names a host that is not a loopback address; the harness never loads other machines."""

    code = "bench_url_not_loopback"


class UnknownScenarioError(UsageError):
    """No scenario of that name is registered."""

    code = "bench_unknown_scenario"


class ServerError(BenchError):
    """The server under test could not be started or reached."""

    code = "bench_server"


class ServerStartError(ServerError):
    """The server process could not be spawned or exited before it became ready."""

    code = "bench_server_start"


class ServerNotReadyError(ServerError):
    """``GET /readyz`` did not answer 200 within the start timeout."""

    code = "bench_server_not_ready"


class ScenarioPrepareError(BenchError):
    """A scenario's ``prepare`` step failed, so its load phases would only measure errors."""

    code = "bench_prepare"


class ProtocolError(BenchError):
    """The server's bytes are not a valid HTTP/1.1 response."""

    code = "bench_http_protocol"
