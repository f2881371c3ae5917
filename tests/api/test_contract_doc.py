"""docs/API.md, the users' copy of the contract, lists every operation the server serves."""

import re
from pathlib import Path

import httpx

DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def listed_operations() -> set[tuple[str, str]]:
    text = DOC.read_text()
    found = set()
    for methods, path in re.findall(
        r"`((?:(?:GET|POST|DELETE|PUT|PATCH|HEAD)/?)+) (/[^`\s]*)`", text
    ):
        for method in methods.split("/"):
            found.add((method, re.sub(r"\{[^}]*\}", "{}", path)))
    return found


async def test_every_served_operation_is_in_the_contract_doc(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    served = {
        (method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
    }
    missing = served - listed_operations()
    assert not missing, f"docs/API.md does not list: {sorted(missing)}"
