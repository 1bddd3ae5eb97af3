"""The web pages the server sends: the segment builder at `/`, GraphiQL at GET `/graphql`,
and their files under `/static/` (graph/web/static/, shipped in the package).

Everything a page loads comes from this server: GraphiQL and React are vendored under
static/vendor/ (README.md there gives versions and licences), the builder is plain ES
modules with no build step. Pages are sent with a Content-Security-Policy that lets a
browser load and connect to this origin only. Only .html, .js, .css and .svg files are
served; the pages hold no data, so they need no API key (each page asks for the key once
per browser session and sends it as `Authorization: Bearer <key>` with every request).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
SERVED_SUFFIXES = frozenset({".html", ".js", ".css", ".svg"})

# 'unsafe-inline' for styles only: GraphiQL and the builder's SVG set style attributes.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:", "font-src 'self' data:", "connect-src 'self'",
    "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
PAGE_HEADERS = {"content-security-policy": CONTENT_SECURITY_POLICY,
                "cache-control": "no-cache", "x-content-type-options": "nosniff",
                "referrer-policy": "no-referrer"}


@lru_cache(maxsize=4)
def _page_text(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def page(name: str) -> Response:
    """One of the HTML pages of static/, with the headers every page gets."""
    return HTMLResponse(_page_text(name), headers=PAGE_HEADERS)


def graphiql_page() -> Response:
    return page("graphiql.html")


async def builder_page(request: Request) -> Response:
    return page("builder.html")


class PackageFiles(StaticFiles):
    """static/ without its notes and licences; browsers revalidate (ETag) on every use."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if Path(path).suffix not in SERVED_SUFFIXES:
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers.setdefault("cache-control", "no-cache")
        response.headers.setdefault("x-content-type-options", "nosniff")
        return response


def web_routes() -> list:
    """`/` (the builder) and `/static/...`; GraphiQL's page is sent by the GraphQL view."""
    files = GZipMiddleware(PackageFiles(directory=STATIC_DIR), minimum_size=1024)
    return [Route("/", builder_page, methods=["GET"]),
            Mount("/static", app=files, name="static")]
