"""The edge: everything that faces the network or the operator's shell.

Modules:
  app          ``create_app(settings)``: the Quart-Trio application factory
  asgi         the worker-process entry point hypercorn imports (``edge.asgi:app``)
  server       ``klyuch serve``: embedded PostgreSQL, migrations, hypercorn with W trio workers
  services     what one worker process runs besides the web app (database, actor system), started and
               stopped with the app's lifespan
  problems     the one table from error to RFC 9457 problem+json
  errors       the edge's own error tree
  request_id   a request id per request, bound into structlog's context and echoed in a header
  health       ``/healthz`` (liveness) and ``/readyz`` (readiness)
  diagnostics  ``/api/v1/echo``: the framework floor the benchmarks compare against
  metrics      ``/metrics``: per-unit HSM metrics as JSON or Prometheus text
  logging      structlog configuration
  auth         bearer-token guard, ``current_principal``, OAuth2 token/revoke endpoints, clients
  users        operator endpoints to manage users (``/api/v1/users``)
  admin_cli    ``klyuch admin``: bootstrap accounts and OAuth2 clients
  cli          the ``klyuch`` command line
  gost_cli     ``klyuch gost``: an openssl-like GOST tool over ``signing``
"""
