"""The `segmentql` command tree: the root app with `--version` and `--debug`, and its groups.

Commands register on these apps from cli/main.py and cli/language_services.py; both import
this module, never each other.
"""

# Annotations stay objects (no `from __future__ import annotations`): typer reads every
# command's signature at each start, and would compile and evaluate string ones.

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from cli import options

try:  # typer's conversion of a parameter's value (typer 0.29: a pydantic adapter each)
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # another typer: its own conversion, unchanged
    RuntimeParam = build_runtime_param = None


if RuntimeParam is not None:
    class _ConvertedWhenNeeded(RuntimeParam):
        """typer's conversion of a parameter's value, made only for a value that needs
        it. typer builds a pydantic adapter for every parameter it is given a value for (a
        default included), and importing pydantic was about a tenth of a second of every
        command's start; unset values (handled by `coerce` before this), text for a text
        parameter and a plain path come out of it unchanged, so they are taken as they
        are (tests/cli/test_cli_conversion.py compares the two)."""

        def _coerce_value(self, value, param, ctx):
            if type(value) is str:
                if self.annotation is str:
                    return value
                if self.annotation is Path and _plain_path(param.type_descriptor.parameter_info,
                                                           value):
                    return Path(value)
            built = getattr(param, "_typer_conversion", None)
            if built is None:
                built = param._typer_conversion = build_runtime_param(param.type_descriptor)
            return built._coerce_value(value, param=param, ctx=ctx)


def _plain_path(settings, value: str) -> bool:
    """Whether typer would turn `value` into Path(value) without a word: a path option
    with no checks asked (typer's defaults), and a path that is missing or readable (an
    unreadable one is refused, in typer's words)."""
    if settings.path_type is not None or settings.exists or not settings.file_okay \
            or not settings.dir_okay or settings.writable or not settings.readable \
            or settings.resolve_path or settings.allow_dash or "\0" in value:
        return False
    path = Path(value)
    return os.access(path, os.R_OK) or not os.path.exists(path)


def _runtime_param(self):
    """`get_runtime_param` of typer's parameter classes, with `_ConvertedWhenNeeded`."""
    if self._runtime_param is None:
        self._runtime_param = _ConvertedWhenNeeded(
            parameter_info=self.type_descriptor.parameter_info,
            annotation=self.type_descriptor.annotation)
    return self._runtime_param


class _UntaggedOption(TyperOption):
    """An option shown as `--now T` (its metavar, else its name), never with a type tag
    such as `<str>` or `<bool>`; a flag shows nothing after its name."""

    if RuntimeParam is not None:
        get_runtime_param = _runtime_param

    def display_type_rich(self, ctx) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or (self.name or "").upper()


class _UntaggedArgument(TyperArgument):
    """An argument shown by its name (or metavar) alone, without a type tag."""

    if RuntimeParam is not None:
        get_runtime_param = _runtime_param

    def display_type_rich(self, ctx) -> str | None:
        return None


def _untagged(params: list) -> list:
    # typer makes its own parameter classes; the help only differs in how a type is shown,
    # so the instances are given the subclass that shows none.
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _UntaggedOption
        elif type(param) is TyperArgument:
            param.__class__ = _UntaggedArgument
    return params


class Command(TyperCommand):
    def get_params(self, ctx) -> list:
        return _untagged(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx) -> list:
        return _untagged(super().get_params(ctx))


class RootGroup(Group):
    """Refuses, before any command runs, an argument that is no Unicode text: Python hands
    an argv byte that is not UTF-8 over as a lone surrogate (\\udc80-\\udcff), which
    could be neither stored nor printed."""

    def parse_args(self, ctx, args):
        for number, argument in enumerate(args, start=1):
            problem = _not_unicode(argument)
            if problem:
                typer.echo(f"error: argument {number} {problem}", err=True)
                ctx.exit(options.INPUT_ERROR)
        return super().parse_args(ctx, args)


def _not_unicode(text: str) -> str | None:
    for position, char in enumerate(text):
        if 0xDC80 <= ord(char) <= 0xDCFF:
            return (f"is not UTF-8 text: byte 0x{ord(char) - 0xDC00:02X} at character "
                    f"{position + 1}; pass arguments as UTF-8")
        if 0xD800 <= ord(char) <= 0xDFFF:
            return (f"holds a lone UTF-16 surrogate (U+{ord(char):04X}) at character "
                    f"{position + 1}, which is no character")
    return None


class CommandGroup(typer.Typer):
    """typer.Typer whose commands and groups show their help without type tags."""

    def __init__(self, **settings) -> None:
        settings.setdefault("cls", Group)
        settings.setdefault("no_args_is_help", True)
        super().__init__(**settings)

    def command(self, *args, **settings):
        settings.setdefault("cls", Command)
        return super().command(*args, **settings)


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("segmentql")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


app = CommandGroup(cls=RootGroup, add_completion=False,
                   help="SegmentQL: dynamic segments of a contact database.")
fields_app = CommandGroup(help="The field schema of a profile database.")
import_app = CommandGroup(help="Import contacts or events.")
segments_app = CommandGroup(help="Saved segments.")
lists_app = CommandGroup(help="Static lists.")
campaigns_app = CommandGroup(help="Campaigns.")
store_app = CommandGroup(help="The embedded store's server.")
databases_app = CommandGroup(help="Profile databases and their time zones (IANA names).")
app.add_typer(fields_app, name="fields")
app.add_typer(import_app, name="import")
app.add_typer(segments_app, name="segments")
app.add_typer(lists_app, name="lists")
app.add_typer(campaigns_app, name="campaigns")
app.add_typer(store_app, name="store")
app.add_typer(databases_app, name="databases")


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"segmentql {version()}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", envvar=options.DEBUG_VARIABLE,
        help="On an unexpected error, print its traceback too.")] = False,
) -> None:
    """SegmentQL: dynamic segments of a contact database."""
    options.set_debug(debug)
