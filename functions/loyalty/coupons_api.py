"""Coupons admin API: templates, coupons issued to members, wallets, redemptions and reports.

Everything is the admin's; redeeming is open to a store's manager (a store's POS key) for its own store.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.access.model import Principal, Role, require_store
from omo2c.core.http import create_app, respond
from omo2c.core.observability import logger, metrics
from omo2c.coupons.api_models import (
    CouponCode,
    CouponTemplateIn,
    CouponTemplateReport,
    CouponTemplates,
    CouponTemplateView,
    CouponView,
    CouponWallet,
    IssueCouponIn,
    RedeemCouponIn,
    TemplateId,
)
from omo2c.members.api_models import MemberId

app = create_app(validation=True)
OPEN_TO = {"POST /coupons/{code}/redeem": (Role.MANAGER,)}

TemplatePath = Annotated[TemplateId, Path(description="The coupon template's id.")]
MemberPath = Annotated[MemberId, Path(description="The member's id.")]
CodePath = Annotated[CouponCode, Path(description="The coupon's code, in any case.")]
LIMITS = {"description": "The member already has the most coupons of this template, or changed concurrently"}


def _coupons():
    services: wiring.Services = app.context["services"]
    return services.coupons


def _caller() -> Principal:
    return app.context["principal"]


@app.post("/coupon-templates", summary="Create a coupon template",
          description="An amount or a percentage off, from a minimum spend, valid some days after issue, at most "
                      "so many per member, optionally only in some stores.",
          responses={201: {"description": "The template"}})
def create_template(body: Annotated[CouponTemplateIn, Body()]) -> Response[CouponTemplateView]:
    return respond(201, _coupons().create_template(**body.model_dump()))


@app.get("/coupon-templates", summary="Every coupon template")
def templates() -> CouponTemplates:
    return _coupons().templates()


@app.get("/coupon-templates/<template_id>/report", summary="A template's coupons: issued, redeemed, revenue")
def template_report(template_id: TemplatePath) -> CouponTemplateReport:
    return _coupons().template_report(template_id)


@app.post("/members/<member_id>/coupons", summary="Give a member a coupon",
          description="A new coupon of the template with its own code (404 for an unknown template or member).",
          responses={201: {"description": "The coupon, with its code"}, 409: LIMITS})
def issue(member_id: MemberPath, body: Annotated[IssueCouponIn, Body()]) -> Response[CouponView]:
    return respond(201, _coupons().issue(member_id, body.template_id, "admin"))


@app.get("/members/<member_id>/coupons", summary="A member's coupons: available, used and expired")
def wallet(member_id: MemberPath) -> CouponWallet:
    return _coupons().wallet(member_id)


@app.post("/coupons/<code>/redeem", summary="Redeem a coupon for an order",
          description="200 the first time and again for the same `order_ref`; 409 when another order used it, 410 "
                      "when expired, 404 unknown, 422 below its minimum spend or in a store it is not valid in. Of "
                      "two concurrent redemptions exactly one wins. A store's manager redeems only in their store.",
          responses={200: {"description": "The coupon, used by the order"},
                     409: {"description": "Used by another order"}, 410: {"description": "The coupon has expired"}})
def redeem(code: CodePath, body: Annotated[RedeemCouponIn, Body()]) -> CouponView:
    require_store(_caller(), body.store_id)
    return _coupons().redeem(code, body.order_ref, body.store_id, body.order_total)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context, OPEN_TO)
