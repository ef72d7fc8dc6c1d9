"""The members admin API: look a member up by any identifier, read one, undo a merge."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.core.http import CONFLICT, create_app
from omo2c.core.observability import logger, metrics
from omo2c.members.api_models import MemberId, MemberView, UnmergeIn, UnmergeResult

app = create_app(validation=True)

MemberPath = Annotated[MemberId, Path(description="A member id; an old id of a merged member leads to the survivor.")]
LATEST_MERGE = UnmergeIn()
NORMALIZED = "Normalized like on write, so any common format finds the member."


def _admin():
    services: wiring.Services = app.context["services"]
    return services.members_admin


@app.get("/members", summary="Find a member by one identifier",
         description=f"Give exactly one of the four lookup keys (422 otherwise); 404 when nobody matches. {NORMALIZED}")
def find_member(
    phone: Annotated[str | None, Query(max_length=64, description="Any TW format, e.g. 0933-128-765.")] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    line_user_id: Annotated[str | None, Query(max_length=64)] = None,
    pos_member_no: Annotated[str | None, Query(max_length=128)] = None,
) -> MemberView:
    return _admin().find({"phone": phone, "email": email, "line_user_id": line_user_id,
                          "pos_member_no": pos_member_no})


@app.get("/members/<member_id>", summary="Read one member",
         description="Identities masked, orders summary, NAPL, LINE status, binding and merge history.")
def get_member(member_id: MemberPath) -> MemberView:
    return _admin().details(member_id)


@app.post("/members/<member_id>/unmerge", summary="Undo one recorded merge",
          description="The merge named by `merge_id`, or the member's latest merge when the body is empty.",
          responses={200: {"description": "The merge undone and the member it restored"}, 409: CONFLICT})
def unmerge_member(member_id: MemberPath, body: Annotated[UnmergeIn, Body()] = LATEST_MERGE) -> UnmergeResult:
    return _admin().unmerge(member_id, body.merge_id)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context)
