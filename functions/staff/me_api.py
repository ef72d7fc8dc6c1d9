"""The signed-in staff member's own API (/me): any staff member or manager signed in with LINE."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.access.model import Principal, Role
from omo2c.attribution.api_models import Month, StaffStatement
from omo2c.core.http import CONFLICT, create_app, public_base, respond
from omo2c.core.observability import logger, metrics
from omo2c.coupons.api_models import CouponView, IssueCouponIn
from omo2c.sources.canonical import Id
from omo2c.workspace.api_models import (
    CustomerDetail,
    Inbox,
    Kpis,
    LinkIn,
    Links,
    LinkView,
    Me,
    Messages,
    MessageView,
    MyCustomers,
    ReplyIn,
)
from omo2c.workspace.service import parse_before

app = create_app(validation=True)
STAFF = (Role.STAFF, Role.MANAGER)
ROUTES = ("GET /me", "GET /me/qr", "GET /me/customers", "GET /me/customers/{member_id}",
          "GET /me/conversations/{member_id}/messages", "POST /me/conversations/{member_id}/messages",
          "GET /me/inbox", "POST /me/links", "GET /me/links", "GET /me/statement", "GET /me/kpis",
          "POST /me/customers/{member_id}/coupons")
OPEN_TO = dict.fromkeys(ROUTES, STAFF)

MemberPath = Annotated[Id, Path(description="The customer's member id.")]
MonthQuery = Annotated[Month, Query(description="The month, YYYY-MM.")]
Cursor = Annotated[str | None, Query(description="The `next_cursor` of the previous page.", max_length=200)]


def _workspace():
    services: wiring.Services = app.context["services"]
    return services.workspace


def _caller() -> Principal:
    return app.context["principal"]


def _base() -> str:
    services: wiring.Services = app.context["services"]
    return public_base(app.current_event.raw_event, services.settings.public_base_url)


@app.get("/me", summary="Who I am: my store, my role, my QR link")
def me() -> Me:
    return _workspace().me(_caller())


@app.get("/me/qr", summary="My QR code (PNG)", responses={200: {"description": "The QR code", "content": {
    "image/png": {"schema": {"type": "string", "format": "binary"}}}}})
def my_qr():
    return Response(status_code=200, content_type="image/png", body=_workspace().qr_png(_caller()),
                    headers={"Cache-Control": "no-store"})


@app.get("/me/customers", summary="My customers",
         description="Actively bound to me, with NAPL, tags and unread messages; `q` is a name or a phone's last "
                     "three or more digits.")
def my_customers(q: Annotated[str | None, Query(max_length=40, description="A name, or a phone's last digits")] = None,
                 sort: Annotated[Literal["last_message", "last_order"], Query()] = "last_message") -> MyCustomers:
    return _workspace().customers(_caller(), q, sort)


@app.get("/me/customers/<member_id>", summary="One of my customers",
         description="Profile, masked identifiers, consent, orders with items (newest first, paged by `before`), "
                     "binding history and the conversation. A manager may open any customer of the store.")
def my_customer(member_id: MemberPath, before: Cursor = None) -> CustomerDetail:
    return _workspace().customer(_caller(), member_id, parse_before(before))


@app.post("/me/customers/<member_id>/coupons", summary="Give my customer a coupon",
          description="A coupon of the template in my name, within my monthly cap; only to my own customers (a "
                      "manager: the store's). 409 when my cap or the customer's limit for the template is reached.",
          responses={201: {"description": "The coupon, with its code"},
                     409: {"description": "My monthly cap or the customer's limit is reached"}})
def give_coupon(member_id: MemberPath, body: Annotated[IssueCouponIn, Body()]) -> Response[CouponView]:
    return respond(201, _workspace().give_coupon(_caller(), member_id, body.template_id))


@app.get("/me/conversations/<member_id>/messages", summary="The conversation with a customer, newest first")
def conversation(member_id: MemberPath, before: Cursor = None) -> Messages:
    return _workspace().messages(_caller(), member_id, before)


@app.post("/me/conversations/<member_id>/messages", summary="Reply in my name: a text or a product card",
          description="Pushed in LINE with my name as the sender; a product is a Flex card whose button is my share "
                      "link. Only to customers who follow the Official Account, and a product never to one who opted "
                      "out (409). The same `Idempotency-Key` sends once.",
          responses={201: {"description": "Sent"}, 200: {"description": "Already sent with this Idempotency-Key"},
                     409: CONFLICT, 503: {"description": "LINE is busy: send again with the same key"}})
def reply(member_id: MemberPath, body: Annotated[ReplyIn, Body()],
          idempotency_key: Annotated[str | None, Header(alias="idempotency-key", max_length=128)] = None,
          ) -> Response[MessageView]:
    view, created = _workspace().reply(_caller(), member_id, body.text, body.product_fields(), idempotency_key,
                                       _base())
    return respond(201 if created else 200, view)


@app.get("/me/inbox", summary="My store's shared inbox (managers)",
         description="Customers who wrote and have no staff member bound.")
def inbox() -> Inbox:
    return _workspace().inbox(_caller())


@app.post("/me/links", summary="A share link with my referral", responses={201: {"description": "The link"}})
def create_link(body: Annotated[LinkIn, Body()]) -> Response[LinkView]:
    return respond(201, _workspace().create_link(_caller(), body.url, _base()))


@app.get("/me/links", summary="My share links and their clicks")
def my_links() -> Links:
    return _workspace().my_links(_caller(), _base())


@app.get("/me/statement", summary="My commission statement for a month")
def my_statement(month: MonthQuery) -> StaffStatement:
    return _workspace().statement(_caller(), month)


@app.get("/me/kpis", summary="My numbers for a month",
         description="Bound customers, new bindings, messages answered, median first-reply time, clicks, "
                     "credited orders and sales.")
def my_kpis(month: MonthQuery) -> Kpis:
    return _workspace().kpis(_caller(), month)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context, OPEN_TO)
