"""A bulletin board that trusts Tollgate's tokens without calling Tollgate per request.

Anyone may read posts; a logged-in user may write; only a post's author may edit or
delete it. Run it next to Tollgate:

    BOARD_ISSUER=http://127.0.0.1:8000 uvicorn --factory examples.board.app:create_app --port 8001
"""

import itertools
import os
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Response
from pydantic import BaseModel, Field

from tollgate.verify import Claims, Verifier
from tollgate.verify.fastapi import require_token


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


def create_app(issuer: str | None = None, audience: str | None = None) -> FastAPI:
    posts: dict[int, Post] = {}  # in memory: the example is about authorization, not storage
    ids = itertools.count(1)
    app = FastAPI(title="Board")
    # require_token() finds the verifier here; one per process, keys cached inside.
    app.state.tollgate_verifier = Verifier(
        issuer or os.environ.get("BOARD_ISSUER", "http://127.0.0.1:8000"),
        audience=audience or os.environ.get("BOARD_AUDIENCE", "tollgate"),
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
