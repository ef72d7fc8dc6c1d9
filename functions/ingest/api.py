"""POST /webhooks/{source} and the members admin API."""

from __future__ import annotations

import time

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c.core.bus import ingest_queue, publisher
from omo2c.core.errors import InvalidEvent, NotFound
from omo2c.core.http import create_app, json_body, json_response, raw_body
from omo2c.core.observability import logger, metrics
from omo2c.core.secrets import get_secret
from omo2c.core.settings import get_settings
from omo2c.sources.intake import accept_delivery

app = create_app()
LOOKUP_PARAMS = ("phone", "email", "line_user_id", "pos_member_no")


@app.post("/webhooks/<source>")
def receive_webhook(source: str):
    settings = get_settings()
    ids = accept_delivery(
        source, app.current_event.headers or {}, raw_body(app), settings=settings,
        secret_for=lambda name: get_secret(f"source-secret/{name}"),
        enqueue=ingest_queue(settings).send, now=time.time())
    metrics.add_metric(name="EventsAccepted", unit="Count", value=len(ids))
    return json_response(202, {"accepted": ids})


@app.get("/members")
def find_member():
    from omo2c import wiring as services
    from omo2c.members.admin import find_member_by

    query = app.current_event.query_string_parameters or {}
    given = {k: v for k, v in query.items() if k in LOOKUP_PARAMS and v}
    if len(given) != 1:
        raise InvalidEvent(f"give exactly one of {', '.join(LOOKUP_PARAMS)}")
    ((kind, value),) = given.items()
    return json_response(200, find_member_by(services.member_store(), kind, value, get_settings()))


@app.get("/members/<member_id>")
def get_member(member_id: str):
    from omo2c import wiring as services
    from omo2c.members.admin import member_details

    return json_response(200, member_details(services.member_store(), member_id, get_settings()))


@app.post("/members/<member_id>/unmerge")
def unmerge_member(member_id: str):
    from omo2c import wiring as services
    from omo2c.members.admin import unmerge

    body = json_body(app)
    merge_id = body.get("merge_id")
    if merge_id is not None and not isinstance(merge_id, str):
        raise InvalidEvent("merge_id must be a string")
    settings = get_settings()
    result = unmerge(services.member_store(), member_id, merge_id, settings)
    if result is None:
        raise NotFound("no recorded merge to undo for this member")
    publisher(settings, "omo2c.ingest").publish([{"detail_type": "member.unmerged", "detail": {
        "survivor_id": member_id, "restored_member_id": result["restored_member_id"],
        "merge_id": result["unmerged"]["merge_id"]}}])
    return json_response(200, result)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
