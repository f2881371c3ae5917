"""The seeds' reference stack: Flask + flask-jwt-extended, a `jwt_required` route.

Run under gunicorn (sync workers), as such apps usually are.
"""

from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, create_access_token, get_jwt_identity, jwt_required

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = "bench-only-secret-bench-only-secret-0123456789"
app.config["JWT_ACCESS_TOKEN_EXPIRES"] = 3600
JWTManager(app)


@app.post("/token")
def token():  # type: ignore[no-untyped-def]
    return jsonify(access_token=create_access_token(identity="bench"))


@app.get("/auth")
@jwt_required()
def auth():  # type: ignore[no-untyped-def]
    return jsonify(sub=get_jwt_identity())
