"""Staff and store admin: profiles, QR codes (PNG or JSON), customers, code rotation, leaving."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.http import create_app, json_body, json_response
from omo2c.core.observability import logger, metrics

app = create_app()


def _admin():
    services: wiring.Services = app.context["services"]
    return services.staff_admin


@app.put("/staff/<staff_id>")
def put_staff(staff_id: str):
    view, created = _admin().put_staff(staff_id, json_body(app))
    return json_response(201 if created else 200, view)


@app.put("/stores/<store_id>")
def put_store(store_id: str):
    return json_response(200, _admin().put_store(store_id, json_body(app)))


@app.get("/staff/<staff_id>/customers")
def customers(staff_id: str):
    return json_response(200, _admin().customers(staff_id))


@app.get("/staff/<staff_id>/qr")
def qr(staff_id: str):
    admin = _admin()
    if "application/json" in (app.current_event.headers or {}).get("accept", ""):
        return json_response(200, admin.link(staff_id))
    return Response(status_code=200, content_type="image/png", body=admin.qr_png(staff_id),
                    headers={"Cache-Control": "no-store"})


@app.post("/staff/<staff_id>/rotate-code")
def rotate(staff_id: str):
    return json_response(200, _admin().rotate(staff_id))


@app.post("/staff/<staff_id>/leave")
def leave(staff_id: str):
    return json_response(200, _admin().leave(staff_id, json_body(app)))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
