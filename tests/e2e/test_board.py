"""The example board verifies Tollgate tokens itself: two real processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import free_port, running_process, stop, tollgate_process

ROOT = Path(__file__).resolve().parents[2]


def test_board_with_tollgate(tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    with tollgate_process(database) as (tollgate, tollgate_server):
        port = free_port()
        board = f"http://127.0.0.1:{port}"
        env = {**os.environ, "BOARD_ISSUER": tollgate, "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "examples.board.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        with (
            running_process(command, env, f"{board}/posts", tmp_path / "board.log"),
            httpx.Client(base_url=tollgate) as auth,
            httpx.Client(base_url=board) as http,
        ):
            alice = auth.post("/join", json={"username": "alice", "password": PASSWORD}).json()
            bob = auth.post("/join", json={"username": "bob", "password": PASSWORD}).json()

            assert http.get("/posts").json() == []
            # Every refusal in the flat shape README promises: {"error", "error_description"}.
            anonymous = http.post("/posts", json={"text": "hi"})
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
            assert anonymous.json() == {
                "error": "invalid_token",
                "error_description": "This needs a bearer token in the Authorization header.",
            }
            forged = http.post("/posts", json={"text": "hi"}, headers=bearer("a.b.c"))
            assert forged.status_code == 401
            assert 'error="invalid_token"' in forged.headers["www-authenticate"]
            assert set(forged.json()) == {"error", "error_description"}
            assert forged.json()["error"] == "invalid_token"
            empty = http.post("/posts", json={"text": ""}, headers=bearer(alice["access_token"]))
            assert empty.status_code == 422
            assert empty.json()["error"] == "invalid_request"
            assert empty.json()["error_description"].startswith("body.text: ")
            missing = http.delete("/posts/999", headers=bearer(alice["access_token"]))
            assert missing.status_code == 404
            assert missing.json() == {"error": "not_found", "error_description": "No such post."}

            created = http.post(
                "/posts", json={"text": "hello"}, headers=bearer(alice["access_token"])
            )
            assert created.status_code == 201
            post = created.json()
            assert post["author"] == "alice"
            assert http.get("/posts").json()[0]["text"] == "hello"

            path = f"/posts/{post['id']}"
            not_yours = http.patch(
                path, json={"text": "mine now"}, headers=bearer(bob["access_token"])
            )
            assert not_yours.status_code == 403
            assert not_yours.json() == {
                "error": "forbidden",
                "error_description": "Only the author may change this post.",
            }
            assert http.delete(path, headers=bearer(bob["access_token"])).status_code == 403
            # A refresh token is not an access token, at the board either.
            refresh = http.delete(path, headers=bearer(alice["refresh_token"]))
            assert refresh.status_code == 401
            assert refresh.json()["error"] == "invalid_token"
            edited = http.patch(
                path, json={"text": "edited"}, headers=bearer(alice["access_token"])
            )
            assert edited.json()["text"] == "edited"
            assert http.delete(path, headers=bearer(alice["access_token"])).status_code == 204

            # Stateless: with Tollgate gone, the board still verifies tokens on its own.
            stop(tollgate_server)
            still = http.post(
                "/posts",
                json={"text": "Tollgate is down, I am not"},
                headers=bearer(bob["access_token"]),
            )
            assert still.status_code == 201
