"""The OpenAPI description covers every route of the contract with its error answers."""

import httpx

ROUTES = {
    ("post", "/join"): {"409", "422"},
    ("post", "/login"): {"401", "403", "422"},
    ("post", "/auth"): {"400"},
    ("post", "/refresh"): {"401", "422"},
    ("get", "/auth"): {"401", "403"},
    ("get", "/me"): {"401"},
    ("delete", "/me"): {"401", "422"},
    ("post", "/logout"): {"401"},
    ("get", "/sessions"): {"401"},
    ("delete", "/sessions/{session_id}"): {"401", "404"},
    ("post", "/password"): {"401", "422"},
    ("get", "/.well-known/jwks.json"): set(),
    ("get", "/health"): {"503"},
    ("post", "/revoke"): {"400", "401"},
    ("post", "/introspect"): {"400", "401"},
    ("get", "/.well-known/oauth-authorization-server"): set(),
    ("get", "/.well-known/openid-configuration"): set(),
}


async def test_every_route_is_documented_with_its_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for (method, path), statuses in ROUTES.items():
        operation = spec["paths"][path][method]
        documented = set(operation["responses"])
        assert statuses <= documented, (method, path, documented)
        for status in statuses:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}


async def test_token_endpoint_documents_form_and_json(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    content = spec["paths"]["/auth"]["post"]["requestBody"]["content"]
    assert {"application/x-www-form-urlencoded", "application/json"} <= set(content)
    assert "grant_type" in content["application/json"]["schema"]["properties"]


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_no_fastapi_default_error_schema_is_left(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path in spec["paths"].values():
        for operation in path.values():
            if "422" in operation["responses"]:
                content = operation["responses"]["422"]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
