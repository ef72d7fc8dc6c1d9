"""Campaign admin: create, list, read, run now (or preview with dry_run), report."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.campaigns.api_models import (
    Campaign,
    CampaignId,
    CampaignIn,
    CampaignList,
    CampaignReport,
    RunIn,
    RunPreview,
    RunStarted,
)
from omo2c.core.http import create_app, respond
from omo2c.core.observability import logger, metrics

app = create_app(validation=True)

CampaignPath = Annotated[CampaignId, Path(description="The id `POST /campaigns` answered.")]
RUN_NOW = RunIn()


def _campaigns():
    services: wiring.Services = app.context["services"]
    return services.campaign_service


@app.post("/campaigns", status_code=201, summary="Define a campaign",
          description="Segment, message template, ordered channels and an EventBridge Scheduler expression; "
                      "the campaign becomes a schedule targeting the planner.")
def create_campaign(body: Annotated[CampaignIn, Body()]) -> Campaign:
    return _campaigns().create(body)


@app.get("/campaigns", summary="Every campaign")
def list_campaigns() -> CampaignList:
    return CampaignList(campaigns=_campaigns().store.campaigns())


@app.get("/campaigns/<campaign_id>", summary="Read one campaign")
def get_campaign(campaign_id: CampaignPath) -> Campaign:
    return _campaigns().get(campaign_id)


@app.post("/campaigns/<campaign_id>/run", summary="Run a campaign now, or preview it",
          description="`{\"dry_run\": true}` previews (members per channel, skips per reason, SMS segments and "
                      "cost, three samples) and sends nothing; otherwise the send jobs are queued (202).",
          responses={200: {"description": "The dry run's preview", "content": {
                         "application/json": {"model": RunPreview}}},
                     202: {"description": "The run started: its send jobs are queued", "content": {
                         "application/json": {"model": RunStarted}}}})
def run_campaign(campaign_id: CampaignPath,
                 body: Annotated[RunIn, Body()] = RUN_NOW) -> Response[RunPreview | RunStarted]:
    return respond(200 if body.dry_run else 202, _campaigns().run(campaign_id, dry_run=body.dry_run))


@app.get("/campaigns/<campaign_id>/report", summary="What each run of a campaign did",
         description="Per run: selected, sent, skipped by reason, failed, conversions and revenue.")
def report(campaign_id: CampaignPath) -> CampaignReport:
    return _campaigns().report(campaign_id)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context)
