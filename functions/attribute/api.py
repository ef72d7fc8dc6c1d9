"""Commission statements (JSON or CSV) and the attribution trace of one order."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.access.model import Role
from omo2c.attribution.api_models import Month, OrderAttribution, StaffStatement, StoreStatement
from omo2c.attribution.ledger import statement_csv
from omo2c.core.http import create_app, respond
from omo2c.core.observability import logger, metrics
from omo2c.sources.canonical import Id

app = create_app(validation=True)

OPEN_TO = {"GET /staff/{staff_id}/statement": (Role.MANAGER, Role.STAFF),
           "GET /stores/{store_id}/statement": (Role.MANAGER,)}
MonthQuery = Annotated[Month, Query(description="The statement month, YYYY-MM.")]


def _commissions():
    services: wiring.Services = app.context["services"]
    return services.commission_service


def _statement(model: type, owner: str) -> dict[str, Any]:
    """The route's documented answers: the statement as JSON, or as CSV with `Accept: text/csv`."""
    return {"summary": f"A {owner}'s commission statement for one month",
            "description": "The month's ledger lines (pending for the holding period, then approved; refunds after "
                           "approval are clawbacks) and totals. JSON, or CSV with `Accept: text/csv`.",
            "responses": {200: {"description": f"The {owner}'s statement", "content": {
                "application/json": {"model": model}, "text/csv": {"schema": {"type": "string"}}}}}}


def _respond(document: dict) -> Response:
    accept = (app.current_event.headers or {}).get("accept", "")
    if "text/csv" in accept:
        return Response(status_code=200, content_type="text/csv; charset=utf-8", body=statement_csv(document))
    return respond(200, document)


@app.get("/staff/<staff_id>/statement", **_statement(StaffStatement, "staff member"))
def staff_statement(staff_id: Annotated[Id, Path(description="The staff member's id.")], month: MonthQuery):
    return _respond(_commissions().staff_statement(staff_id, month, app.context["principal"]))


@app.get("/stores/<store_id>/statement", **_statement(StoreStatement, "store"))
def store_statement(store_id: Annotated[Id, Path(description="The store's id.")], month: MonthQuery):
    return _respond(_commissions().store_statement(store_id, month, app.context["principal"]))


@app.get("/orders/<source>/<order_id>/attribution", summary="Why an order was credited as it was",
         description="The rule trace of the credit decision and the order's ledger entries.")
def order_attribution(source: Annotated[Id, Path(description="The integration the order came from.")],
                      order_id: Annotated[Id, Path(description="The order id at that source.")]) -> OrderAttribution:
    return _commissions().explain(source, order_id)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context, OPEN_TO)
