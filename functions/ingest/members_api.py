"""The members admin API: look a member up by any identifier, read one, undo a merge; tag a member (also staff
for their own customers, managers for their store's)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.http import resolve
from omo2c.access.model import Principal, Role
from omo2c.core.http import CONFLICT, create_app
from omo2c.core.observability import logger, metrics
from omo2c.members.api_models import MemberId, MemberView, UnmergeIn, UnmergeResult
from omo2c.tags.model import TAG_RULE, TagRemoved, TagView

app = create_app(validation=True)

MemberPath = Annotated[MemberId, Path(description="A member id; an old id of a merged member leads to the survivor.")]
LATEST_MERGE = UnmergeIn()
NORMALIZED = "Normalized like on write, so any common format finds the member."
TAG_ROUTES = ("PUT /members/{member_id}/tags/{tag}", "DELETE /members/{member_id}/tags/{tag}")
OPEN_TO = {route: (Role.STAFF, Role.MANAGER) for route in TAG_ROUTES}
TagPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^/]+$",
                              description=f"The tag, URL-encoded: {TAG_RULE} (422 otherwise).")]
SCOPE = ("The admin on any member; a staff member on customers actively bound to them, a manager on the customers "
         "of their store (403 otherwise).")


def _admin():
    services: wiring.Services = app.context["services"]
    return services.members_admin


def _tags():
    services: wiring.Services = app.context["services"]
    return services.member_tags


def _caller() -> Principal:
    return app.context["principal"]


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


@app.put("/members/<member_id>/tags/<tag>", summary="Tag a member",
         description=f"Idempotent: a tag the member has keeps where and when it first came from. {SCOPE}",
         responses={200: {"description": "The tag and where it came from"}, 409: CONFLICT})
def put_tag(member_id: MemberPath, tag: TagPath) -> TagView:
    return _tags().put(member_id, tag, None, _caller())


@app.delete("/members/<member_id>/tags/<tag>", summary="Take a tag off a member",
            description=f"`removed` is false when the member did not have it. {SCOPE}",
            responses={200: {"description": "Whether the tag was removed"}, 409: CONFLICT})
def delete_tag(member_id: MemberPath, tag: TagPath) -> TagRemoved:
    return _tags().delete(member_id, tag, _caller())


def _decoded(event: dict) -> dict:
    """A tag travels URL-encoded (CJK); the routes match and validate it decoded, as API Gateway's
    ``pathParameters`` have it."""
    if event.get("routeKey") in TAG_ROUTES and event.get("rawPath"):
        return {**event, "rawPath": unquote(event["rawPath"])}
    return event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, _decoded(event), context, OPEN_TO)
