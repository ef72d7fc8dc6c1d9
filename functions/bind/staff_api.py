"""Staff and store admin: profiles, QR codes (PNG or JSON), customers, code rotation, leaving, LINE sign-in links.

The admin may do everything; a store's manager (or a manager API key) the same for their own store's staff.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.access.model import Principal, Role
from omo2c.core.http import CONFLICT, create_app, respond
from omo2c.core.observability import logger, metrics
from omo2c.sources.canonical import Id
from omo2c.staff.api_models import (
    Customers,
    LeaveIn,
    LeaveResult,
    LinkCode,
    QrLink,
    StaffIn,
    StaffView,
    StoreIn,
    StoreList,
    StoreSummary,
    StoreView,
)

app = create_app(validation=True)
MANAGERS = (Role.MANAGER,)
OPEN_TO = {route: MANAGERS for route in (
    "PUT /staff/{staff_id}", "GET /staff/{staff_id}/customers", "GET /staff/{staff_id}/qr",
    "POST /staff/{staff_id}/rotate-code", "POST /staff/{staff_id}/leave", "POST /staff/{staff_id}/link-code",
    "DELETE /staff/{staff_id}/line")}

StaffPath = Annotated[Id, Path(description="The staff member's id, as the POS knows it.")]
StorePath = Annotated[Id, Path(description="The store's id, as the POS knows it.")]


def _admin():
    services: wiring.Services = app.context["services"]
    return services.staff_admin


def _caller() -> Principal:
    return app.context["principal"]


@app.put("/staff/<staff_id>", summary="Create or update a staff member",
         description="A new staff member gets a referral code (and so a QR code) at once.",
         responses={200: {"description": "The staff member, updated"},
                    201: {"description": "The staff member, created"}, 409: CONFLICT})
def put_staff(staff_id: StaffPath, body: Annotated[StaffIn, Body()]) -> Response[StaffView]:
    view, created = _admin().put_staff(staff_id, body, _caller())
    return respond(201 if created else 200, view)


@app.get("/stores", summary="Every store", description="The admin's only: each store's id and name, for pickers.")
def stores() -> StoreList:
    services: wiring.Services = app.context["services"]
    found = services.staff_directory.stores()
    return StoreList(stores=[StoreSummary(store_id=s.store_id, name=s.name) for _, s in sorted(found.items())])


@app.put("/stores/<store_id>", summary="Create or update a store")
def put_store(store_id: StorePath, body: Annotated[StoreIn, Body()]) -> StoreView:
    return _admin().put_store(store_id, body)


@app.get("/staff/<staff_id>/customers", summary="The customers bound to a staff member")
def customers(staff_id: StaffPath) -> Customers:
    return _admin().customers(staff_id, _caller())


@app.get("/staff/<staff_id>/qr", summary="The staff member's QR code",
         description="A PNG by default; `Accept: application/json` gives the link and the text it prefills.",
         responses={200: {"description": "The QR code, or its link", "content": {
             "image/png": {"schema": {"type": "string", "format": "binary"}},
             "application/json": {"model": QrLink}}}})
def qr(staff_id: StaffPath):
    admin = _admin()
    if "application/json" in (app.current_event.headers or {}).get("accept", ""):
        return respond(200, admin.link(staff_id, _caller()))
    return Response(status_code=200, content_type="image/png", body=admin.qr_png(staff_id, _caller()),
                    headers={"Cache-Control": "no-store"})


@app.post("/staff/<staff_id>/rotate-code", summary="Give the staff member a new code",
          description="The old code is retired: a customer scanning it gets a polite reply. No body.",
          responses={200: {"description": "The new code's link"}, 409: CONFLICT})
def rotate(staff_id: StaffPath) -> QrLink:
    return _admin().rotate(staff_id, _caller())


@app.post("/staff/<staff_id>/leave", summary="The staff member leaves",
          description="Active bindings move to the transfer target, with history.",
          responses={200: {"description": "The staff member and how many bindings moved"}, 409: CONFLICT})
def leave(staff_id: StaffPath, body: Annotated[LeaveIn, Body()]) -> LeaveResult:
    return _admin().leave(staff_id, body, _caller())


@app.post("/staff/<staff_id>/link-code", summary="A one-time code to link the staff member's LINE account",
          description="The staff member sends `message` to the Official Account from their own LINE (or opens `url`); "
                      "from then on they sign in to the staff console with LINE. Valid for a day, once. No body.",
          responses={201: {"description": "The code, the message and its LINE link"}})
def link_code(staff_id: StaffPath) -> Response[LinkCode]:
    return respond(201, _admin().link_code(staff_id, _caller()))


@app.delete("/staff/<staff_id>/line", summary="Unlink the staff member's LINE account",
            description="They can no longer sign in with it (until linked again); their customers stay bound.",
            responses={200: {"description": "The staff member, unlinked"}, 409: CONFLICT})
def unlink_line(staff_id: StaffPath) -> StaffView:
    return _admin().unlink_line(staff_id, _caller())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context, OPEN_TO)
