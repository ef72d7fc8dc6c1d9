"""A member's points: the balance by status with its history, and redemptions by order reference."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.core.http import create_app
from omo2c.core.observability import logger, metrics
from omo2c.loyalty.api_models import MemberPoints, PointsRedeemed, RedeemIn
from omo2c.members.api_models import MemberId

app = create_app(validation=True)

MemberPath = Annotated[MemberId, Path(description="A member id; an old id of a merged member leads to the survivor.")]
NO_MEMBER = {"description": "No such member"}


def _loyalty():
    services: wiring.Services = app.context["services"]
    return services.loyalty


@app.get("/members/<member_id>/points", summary="A member's points",
         description="Pending, available, expiring, expired and redeemed points, and every lot's history.",
         responses={200: {"description": "The balance and its history"}, 404: NO_MEMBER})
def member_points(member_id: MemberPath) -> MemberPoints:
    return _loyalty().points(member_id)


@app.post("/members/<member_id>/points/redeem", summary="Pay with points",
          description="All the points asked for, from those available (expiring first first), or none. The same "
                      "`order_ref` again answers the same redemption and takes nothing more.",
          responses={200: {"description": "The redemption and the balance after it"}, 404: NO_MEMBER,
                     409: {"description": "More than the available points (the message names the balance), the "
                                          "order_ref already used for another amount, or a concurrent change"}})
def redeem_points(member_id: MemberPath, body: Annotated[RedeemIn, Body()]) -> PointsRedeemed:
    return _loyalty().redeem(member_id, body.points, body.order_ref)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context)
