"""The ``promptsync`` command: a thin click layer over the library; errors translated once here."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from promptsync.cli import backup, dev, login, releases, remote, repository, sync, watch
from promptsync.cli import importing as importing_commands
from promptsync.cli.context import Obj
from promptsync.cli.errors import Failure, Interrupted, describe, describe_os_error
from promptsync.errors import PromptSyncError

if TYPE_CHECKING:
    import httpx


GLOBAL_OPTIONS = ("--server", "--project", "--api-key", "--debug")


class PromptSyncGroup(click.Group):
    """A group whose invoke is the ONE place library errors and Ctrl-C become exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; translate PromptSyncError (exit 1) and Ctrl-C (exit 130)."""
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            # `promptsync status --project demo`: the group's options go before the command.
            if exc.option_name not in GLOBAL_OPTIONS or exc.ctx is None:
                raise
            value = " …" * (exc.option_name != "--debug")
            raise click.NoSuchOption(
                exc.option_name, ctx=exc.ctx,
                message=f"No such option {exc.option_name!r}: an option of promptsync itself "
                        f"goes before the command (promptsync {exc.option_name}{value} "
                        f"{exc.ctx.info_name})") from None
        except PromptSyncError as exc:
            # Looked up now: the group callback creates the Obj and reads --debug.
            obj = ctx.find_object(Obj)
            if obj is not None and obj.debug:
                raise
            raise Failure(describe(exc, obj), getattr(exc, "details", ())) from exc
        except BrokenPipeError:
            raise  # stdout's reader left (`… | head -1`): click's main ends quietly, exit 1
        except OSError as exc:
            # A full disk, a read-only .promptsync/, a permission: one line, not a traceback.
            obj = ctx.find_object(Obj)
            if obj is not None and obj.debug:
                raise
            raise Failure(describe_os_error(exc)) from exc
        except (KeyboardInterrupt, click.Abort) as exc:
            obj = ctx.find_object(Obj)
            if obj is not None and obj.debug:
                raise
            raise Interrupted() from exc
        finally:
            obj = ctx.find_object(Obj)
            if obj is not None:
                obj.close()


# -h as well as --help, on every command (subcommands inherit the context's help names).
@click.group(cls=PromptSyncGroup, context_settings={"auto_envvar_prefix": "PROMPTSYNC",
                                                    "help_option_names": ["-h", "--help"]})
@click.option("--server", metavar="URL", help="API server, e.g. http://127.0.0.1:5000.")
@click.option("--project", metavar="SLUG", help="Project on the server.")
@click.option("--api-key", metavar="KEY", help="API key (default: stored by promptsync login).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="promptsync")
@click.pass_context
def cli(ctx: click.Context, server: str | None, project: str | None, api_key: str | None,
        debug: bool) -> None:
    """File-first prompt repository: push YAML prompt files as numbered versions."""
    obj = ctx.ensure_object(Obj)
    obj.server = server or obj.server
    obj.project = project or obj.project
    obj.api_key = api_key or obj.api_key
    obj.debug = debug or obj.debug


for _module in (repository, sync, login, remote, releases, watch, dev, backup):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
for _command in importing_commands.COMMANDS:
    cli.add_command(_command)


def main(args: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None
         ) -> NoReturn:
    """Console-script entry point; ``transport`` lets tests run the app in-process."""
    _without_httpx_command_line()
    cli.main(args=list(args) if args is not None else None, prog_name="promptsync",
             obj=Obj(transport=transport))
    sys.exit(0)  # pragma: no cover - click's standalone mode exits itself


def _without_httpx_command_line() -> None:
    """Keep httpx from importing its own `httpx` command (httpx._main) into this process."""
    # httpx/__init__ imports httpx._main whenever rich and pygments are installed (~45 ms of a
    # networked command's start, for code never run here). None in sys.modules makes that
    # import fail, and httpx then defines a stand-in main() instead, as when they are missing.
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
