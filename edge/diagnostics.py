"""``/api/v1/echo``: the framework floor (routing, JSON in and out) that benchmarks compare against."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from quart import Blueprint
from quart_schema import tag, validate_request, validate_response

blueprint = Blueprint("diagnostics", __name__, url_prefix="/api/v1")


class Echo(BaseModel):
    """Any JSON object; returned unchanged."""

    model_config = ConfigDict(extra="allow")


@blueprint.post("/echo")
@tag(["diagnostics"])
@validate_request(Echo)
@validate_response(Echo)
async def echo(data: Echo) -> Echo:
    """Return the posted JSON object unchanged."""
    return data
