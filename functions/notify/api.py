"""Campaign admin: create, list, read, change, pause/resume, archive, run now (or preview), report (JSON or CSV).

Managers may read the list and the reports; only admins define, change and run campaigns."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.access.model import Role
from omo2c.campaigns.api_models import (
    Campaign,
    CampaignId,
    CampaignIn,
    CampaignList,
    CampaignPatch,
    CampaignReport,
    RunIn,
    RunPreview,
    RunStarted,
)
from omo2c.core.http import create_app, public_base, respond
from omo2c.core.observability import logger, metrics

app = create_app(validation=True)
OPEN_TO = {"GET /campaigns": (Role.MANAGER,), "GET /campaigns/{campaign_id}/report": (Role.MANAGER,)}

CampaignPath = Annotated[CampaignId, Path(description="The id `POST /campaigns` answered.")]
RUN_NOW = RunIn()


def _campaigns():
    services: wiring.Services = app.context["services"]
    return services.campaign_service


@app.post("/campaigns", status_code=201, summary="Define a campaign",
          description="Segment, message template, ordered channels and an EventBridge Scheduler expression; "
                      "the campaign becomes a schedule targeting the planner.")
def create_campaign(body: Annotated[CampaignIn, Body()]) -> Campaign:
    return _campaigns().create(body, _base())


def _base() -> str:
    """Where this API was reached: the campaign's click and unsubscribe links lead back here."""
    services: wiring.Services = app.context["services"]
    return public_base(app.current_event.raw_event, services.settings.public_base_url)


@app.patch("/campaigns/<campaign_id>", summary="Change a campaign",
           description="Any of message, segment, schedule (or trigger), channels, name, e-mail subject, quiet hours, "
                       "frequency cap, conversion window; the result is validated whole and the schedule follows. "
                       "An archived campaign answers 409.")
def update_campaign(campaign_id: CampaignPath, body: Annotated[CampaignPatch, Body()]) -> Campaign:
    return _campaigns().update(campaign_id, body, _base())


@app.post("/campaigns/<campaign_id>/pause", summary="Pause a campaign",
          description="Its schedule is disabled, its journey starts nothing and queued sends are skipped as "
                      "`campaign_paused`.")
def pause_campaign(campaign_id: CampaignPath) -> Campaign:
    return _campaigns().set_status(campaign_id, "paused")


@app.post("/campaigns/<campaign_id>/resume", summary="Resume a paused campaign")
def resume_campaign(campaign_id: CampaignPath) -> Campaign:
    return _campaigns().set_status(campaign_id, "active")


@app.delete("/campaigns/<campaign_id>", summary="Archive a campaign",
            description="Its schedule is deleted and it sends no more; its runs and reports stay readable.")
def archive_campaign(campaign_id: CampaignPath) -> Campaign:
    return _campaigns().set_status(campaign_id, "archived")


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
         description="Totals, then per run and per channel: selected, sent, failed, skipped by reason, blocked "
                     "(LINE unfollows soon after), clicks, unsubscribes, bounces, conversions, revenue, conversion "
                     "and repurchase rates. `Accept: text/csv` answers the same as CSV, a row per run and channel.",
         responses={200: {"description": "The report", "content": {
             "application/json": {"model": CampaignReport}, "text/csv": {"schema": {"type": "string"}}}}})
def report(campaign_id: CampaignPath) -> Response[CampaignReport | str]:
    result = CampaignReport.model_validate(_campaigns().report(campaign_id))
    if "text/csv" in (app.current_event.headers.get("accept") or "").lower():
        from omo2c.campaigns.reports import report_csv

        return Response(200, "text/csv; charset=utf-8", report_csv(result.model_dump(mode="json")), headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})
    return respond(200, result.model_dump(mode="json"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context, OPEN_TO)
