"""Commission statements (JSON or CSV) and the attribution trace of one order."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.attribution.ledger import statement_csv
from omo2c.core.http import create_app, json_response
from omo2c.core.observability import logger, metrics

app = create_app()


def _commissions():
    services: wiring.Services = app.context["services"]
    return services.commission_service


def _respond(document: dict) -> Response:
    accept = (app.current_event.headers or {}).get("accept", "")
    if "text/csv" in accept:
        return Response(status_code=200, content_type="text/csv; charset=utf-8", body=statement_csv(document))
    return json_response(200, document)


def _month() -> str:
    return (app.current_event.query_string_parameters or {}).get("month", "")


@app.get("/staff/<staff_id>/statement")
def staff_statement(staff_id: str):
    return _respond(_commissions().staff_statement(staff_id, _month()))


@app.get("/stores/<store_id>/statement")
def store_statement(store_id: str):
    return _respond(_commissions().store_statement(store_id, _month()))


@app.get("/orders/<source>/<order_id>/attribution")
def order_attribution(source: str, order_id: str):
    return json_response(200, _commissions().explain(source, order_id))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
