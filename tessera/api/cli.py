"""`tessera serve`: the HTTP API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from tessera.cli_common import DbOption, JsonOption, console


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
              port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
              db: DbOption = None, as_json: JsonOption = False) -> None:
        """Serve the API (/api/v1, OpenAPI at /api/v1/openapi.json) until interrupted."""
        import uvicorn

        from tessera.api.app import create_app

        api = create_app(db)
        console.print(f"serving {api.state.store.url} on http://{host}:{port}/api/v1", highlight=False)
        uvicorn.run(api, host=host, port=port, log_level="warning")
