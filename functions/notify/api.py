"""Campaign admin: create, list, read, run now (or preview with dry_run), report."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.errors import InvalidEvent
from omo2c.core.http import create_app, json_body, json_response
from omo2c.core.observability import logger, metrics

app = create_app()


def _campaigns():
    services: wiring.Services = app.context["services"]
    return services.campaign_service


@app.post("/campaigns")
def create_campaign():
    campaign = _campaigns().create(json_body(app))
    return json_response(201, campaign.model_dump(mode="json"))


@app.get("/campaigns")
def list_campaigns():
    return json_response(200, {"campaigns": [c.model_dump(mode="json")
                                             for c in _campaigns().store.campaigns()]})


@app.get("/campaigns/<campaign_id>")
def get_campaign(campaign_id: str):
    return json_response(200, _campaigns().get(campaign_id).model_dump(mode="json"))


@app.post("/campaigns/<campaign_id>/run")
def run_campaign(campaign_id: str):
    dry_run = json_body(app).get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidEvent("dry_run must be true or false")
    return json_response(200 if dry_run else 202, _campaigns().run(campaign_id, dry_run=dry_run))


@app.get("/campaigns/<campaign_id>/report")
def report(campaign_id: str):
    return json_response(200, _campaigns().report(campaign_id))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
