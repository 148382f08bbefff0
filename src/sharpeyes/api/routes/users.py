"""User administration (admin role only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from sharpeyes.api.deps import Admin, NodeDep
from sharpeyes.api.params import Int64
from sharpeyes.api.schemas import UserCreateIn, UserOut, UserUpdateIn
from sharpeyes.audit.service import Actor
from sharpeyes.sharing.users import UserExistsError, UserNotFoundError

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=list[UserOut])
async def list_users(principal: Admin, node: NodeDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in await node.users.list_users()]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreateIn, principal: Admin, node: NodeDep) -> UserOut:
    try:
        user = await node.users.create_user(
            body.username,
            body.password,
            body.role,
            display_name=body.display_name,
            region_codes=body.region_codes,
            org_id=body.org_id,
            temporary_password=body.temporary_password,
            actor=Actor.of(principal),
        )
    except UserExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, "username already exists") from exc
    return UserOut.model_validate(user)


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: Int64, body: UserUpdateIn, principal: Admin, node: NodeDep
) -> UserOut:
    try:
        user = await node.users.update_user(
            user_id, actor=Actor.of(principal), **body.model_dump(exclude_unset=True)
        )
    except UserNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user") from exc
    return UserOut.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: Int64, principal: Admin, node: NodeDep) -> Response:
    if user_id == principal.user_id:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "you cannot delete yourself")
    try:
        await node.users.delete_user(user_id, actor=Actor.of(principal))
    except UserNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user") from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
