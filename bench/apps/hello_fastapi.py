"""A FastAPI hello-world: the framework's own cost, for routes that do real work."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
