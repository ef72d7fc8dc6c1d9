"""The members admin API: look a member up by any identifier, read one, undo a merge."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.errors import InvalidEvent
from omo2c.core.http import create_app, json_body, json_response
from omo2c.core.observability import logger, metrics

app = create_app()


def _admin():
    services: wiring.Services = app.context["services"]
    return services.members_admin


@app.get("/members")
def find_member():
    return json_response(200, _admin().find(app.current_event.query_string_parameters or {}))


@app.get("/members/<member_id>")
def get_member(member_id: str):
    return json_response(200, _admin().details(member_id))


@app.post("/members/<member_id>/unmerge")
def unmerge_member(member_id: str):
    merge_id = json_body(app).get("merge_id")
    if merge_id is not None and not isinstance(merge_id, str):
        raise InvalidEvent("merge_id must be a string", [{"field": "merge_id", "problem": "expected a string"}])
    return json_response(200, _admin().unmerge(member_id, merge_id))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
