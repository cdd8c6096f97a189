"""Run the desk: python -m bot.desk (port from DESK_PORT)."""
from aiohttp import web

from bot.desk.app import create_app
from bot.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    web.run_app(create_app(settings), host=settings.host, port=settings.desk_port,
                print=lambda msg: print(f"服务台已监听 {settings.desk_url}", flush=True))


if __name__ == "__main__":
    main()
