"""A bulletin board that trusts Tollgate's tokens without calling Tollgate per request.

Anyone may read posts; a logged-in user may write; only a post's author may edit or
delete it. Run it next to Tollgate:

    BOARD_ISSUER=http://127.0.0.1:8000 uvicorn --factory examples.board.app:create_app --port 8001

With BOARD_CLIENT_ID and BOARD_CLIENT_SECRET (what `tollgate clients create board` prints)
it also follows Tollgate's Shared Signals feed: a logged-out session's tokens are refused
within seconds, not only at their expiry.
"""

import itertools
import os
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tollgate.verify import Claims, RevocationFeed, Verifier
from tollgate.verify.fastapi import install, require_token


class PostIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class Post(BaseModel):
    id: int
    author_id: str
    author: str | None
    text: str
    created_at: datetime


# The verified token of the caller; 401 (or 403 for a missing scope) before the route runs.
User = Annotated[Claims, Depends(require_token())]


async def flat_error(request: Request, exc: Exception) -> JSONResponse:
    """The board's own refusals (403, 404, 405) in the same flat shape as refused tokens."""
    assert isinstance(exc, StarletteHTTPException)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")  # 404: "not_found"
    body = {"error": code, "error_description": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
    """422 in the flat shape too, naming the first field that is wrong."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    body = {"error": "invalid_request", "error_description": f"{field}: {first['msg']}"}
    return JSONResponse(body, status_code=422)


def revocation_feed() -> RevocationFeed | None:
    """Logouts reach the board within seconds when it has client credentials."""
    client_id = os.environ.get("BOARD_CLIENT_ID")
    client_secret = os.environ.get("BOARD_CLIENT_SECRET")
    if not client_id or not client_secret:
        return None
    interval = float(os.environ.get("BOARD_FEED_POLL_INTERVAL", "2"))
    return RevocationFeed(client_id, client_secret, poll_interval=interval)


def create_app(issuer: str | None = None, audience: str | None = None) -> FastAPI:
    posts: dict[int, Post] = {}  # in memory: the example is about authorization, not storage
    ids = itertools.count(1)
    app = FastAPI(title="Board")
    app.add_exception_handler(StarletteHTTPException, flat_error)
    app.add_exception_handler(RequestValidationError, invalid_input)
    # Refused tokens answer {"error", "error_description"} + WWW-Authenticate, and
    # require_token() uses this verifier: one per process, keys cached inside.
    install(
        app,
        Verifier(
            issuer or os.environ.get("BOARD_ISSUER", "http://127.0.0.1:8000"),
            audience=audience or os.environ.get("BOARD_AUDIENCE", "tollgate"),
            revocation_feed=revocation_feed(),
        ),
    )

    def own_post(post_id: int, user: Claims) -> Post:
        post = posts.get(post_id)
        if post is None:
            raise HTTPException(404, "No such post.")
        if post.author_id != user.sub:
            raise HTTPException(403, "Only the author may change this post.")
        return post

    @app.get("/posts")
    async def read_posts() -> list[Post]:
        return list(posts.values())

    @app.post("/posts", status_code=201)
    async def write_post(body: PostIn, user: User) -> Post:
        post = Post(
            id=next(ids),
            author_id=user.sub,
            author=user.username,
            text=body.text,
            created_at=datetime.now(UTC),
        )
        posts[post.id] = post
        return post

    @app.patch("/posts/{post_id}")
    async def edit_post(post_id: int, body: PostIn, user: User) -> Post:
        post = own_post(post_id, user)
        post.text = body.text
        return post

    @app.delete("/posts/{post_id}", status_code=204)
    async def delete_post(post_id: int, user: User) -> Response:
        own_post(post_id, user)
        del posts[post_id]
        return Response(status_code=204)

    return app
