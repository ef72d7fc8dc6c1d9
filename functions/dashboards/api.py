"""Store and staff dashboards for a month, read from their rollups in one request."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.access.model import Role
from omo2c.core.http import create_app
from omo2c.core.observability import logger, metrics
from omo2c.dashboards.api_models import DEFINITIONS, Dashboard, Month
from omo2c.sources.canonical import Id

app = create_app(validation=True)

OPEN_TO = {"GET /stores/{store_id}/kpis": (Role.MANAGER,), "GET /staff/{staff_id}/kpis": (Role.MANAGER, Role.STAFF)}
MonthQuery = Annotated[Month | None, Query(description="The month, YYYY-MM; the current month by default.")]
ANSWERS = {422: {"description": "The month is not YYYY-MM"}, 403: {"description": "Not yours to see"}}


def _dashboards():
    services: wiring.Services = app.context["services"]
    return services.dashboards


@app.get("/stores/<store_id>/kpis", summary="A store's dashboard for one month", description=DEFINITIONS,
         responses={200: {"description": "The store's month"}, **ANSWERS, 404: {"description": "No such store"}})
def store_kpis(store_id: Annotated[Id, Path(description="The store's id.")], month: MonthQuery = None) -> Dashboard:
    return _dashboards().store_kpis(store_id, month, app.context["principal"])


@app.get("/staff/<staff_id>/kpis", summary="A staff member's dashboard for one month", description=DEFINITIONS,
         responses={200: {"description": "The staff member's month"}, **ANSWERS,
                    404: {"description": "No such staff member"}})
def staff_kpis(staff_id: Annotated[Id, Path(description="The staff member's id.")], month: MonthQuery = None
               ) -> Dashboard:
    return _dashboards().staff_kpis(staff_id, month, app.context["principal"])


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context, OPEN_TO)
