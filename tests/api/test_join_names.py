"""Sign-up names: look-alikes are taken, reserved names refused, every refusal in words."""

import httpx
import pytest

from tests.conftest import PASSWORD, join
from tollgate.services.names import LENGTH_RULE, NO_SPACES_RULE, RESERVED_RULE


async def sign_up(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post("/join", json={"username": username, "password": PASSWORD})


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430lice",  # Cyrillic а
        "AL\u0130CE",  # İ: lower-cased to i + a combining dot the i's own dot hides
        "al\u0131ce",  # dotless ı
        "a1ice",  # TS #39: 1 looks like l
    ],
)
async def test_a_look_alike_of_a_taken_name_is_taken(
    client: httpx.AsyncClient, look_alike: str
) -> None:
    await join(client, "Alice")
    taken = await sign_up(client, "alice")
    assert taken.status_code == 409
    response = await sign_up(client, look_alike)
    assert response.status_code == 409, response.text
    # The very answer a taken name gets: nothing tells the two apart.
    assert response.json() == taken.json()
    assert response.json()["error"] == "username_taken"
    assert response.headers.keys() == taken.headers.keys()


async def test_the_look_alike_first_takes_the_plain_name_too(client: httpx.AsyncClient) -> None:
    await join(client, "\u0430lice")
    assert (await sign_up(client, "Alice")).status_code == 409
    assert (await sign_up(client, "alicia")).status_code == 201


@pytest.mark.parametrize("name", ["admin", "Admin", "\u0430dmin", "ROOT", "Tollgate"])
async def test_reserved_names_are_refused(client: httpx.AsyncClient, name: str) -> None:
    response = await sign_up(client, name)
    assert response.status_code == 422
    body = response.json()
    assert body["fields"] == {"username": RESERVED_RULE}
    assert body["error_description"] == RESERVED_RULE


@pytest.mark.parametrize("length", [0, 2, 65, 100, 256, 257, 300, 5000])
async def test_every_wrong_length_gets_the_one_length_sentence(
    client: httpx.AsyncClient, length: int
) -> None:
    response = await sign_up(client, "x" * length)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["fields"] == {"username": LENGTH_RULE}
    assert body["error_description"] == LENGTH_RULE


@pytest.mark.parametrize("length", [0, 300])
async def test_login_says_the_same_past_the_size_cap(
    client: httpx.AsyncClient, length: int
) -> None:
    # Within the cap a login with any name is just a wrong username or password.
    response = await client.post("/login", json={"username": "x" * length, "password": PASSWORD})
    assert response.status_code == 422
    assert response.json()["fields"] == {"username": LENGTH_RULE}


async def test_the_token_endpoint_says_the_same(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth", data={"grant_type": "password", "username": "x" * 300, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["error_description"] == LENGTH_RULE


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("has space", NO_SPACES_RULE),
        (
            "smile\U0001f600",
            "A username can hold letters, digits and . _ - @ + only, not \u201c\U0001f600\u201d.",
        ),
        (
            "bidi\u202eevil",
            "A username can hold letters, digits and . _ - @ + only, "
            "not U+202E RIGHT-TO-LEFT OVERRIDE.",
        ),
    ],
)
async def test_name_refusals_are_sentences_without_escapes(
    client: httpx.AsyncClient, username: str, message: str
) -> None:
    response = await sign_up(client, username)
    assert response.status_code == 422
    assert response.json()["fields"] == {"username": message}
    assert "\\" not in response.text  # no Python escapes such as '\U0001f600'


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"password": PASSWORD}, {"username": "The username is required."}),
        (
            {"username": "minsu", "password": "p" * 1025},
            {"password": "The password can have at most 1024 characters."},
        ),
        (
            {"username": "minsu", "password": "short"},
            {"password": "The password needs at least 8 characters."},
        ),
        ({"username": 5, "password": PASSWORD}, {"username": "The username must be a string."}),
        (
            {"username": "minsu", "password": PASSWORD, "email": "nobody"},
            {"email": "The e-mail address is not valid. An email address must have an @-sign."},
        ),
    ],
)
async def test_field_messages_name_the_field_in_one_sentence(
    client: httpx.AsyncClient, payload: dict[str, object], fields: dict[str, str]
) -> None:
    response = await client.post("/join", json=payload)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["fields"] == fields
    # The description is the same sentences, without "password: " style prefixes.
    assert body["error_description"] == " ".join(fields.values())


async def test_lone_surrogates_are_named_in_words(client: httpx.AsyncClient) -> None:
    content = b'{"username": "minsu", "password": "violet\\ud800harbor"}'
    response = await client.post(
        "/join", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    message = "The password holds characters that are not valid Unicode."
    assert response.json()["fields"] == {"password": message}
