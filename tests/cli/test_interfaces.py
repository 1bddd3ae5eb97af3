"""docs/interfaces.md, the contract, kept in step with schema.graphql and the command line:
every GraphQL type, field, argument and enum value it names is in the schema; every command
and option it names is a command of `segmentql`; every command of `segmentql` is named."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer
from graphql import GraphQLEnumType, build_schema

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "interfaces.md").read_text("utf-8")

# Named by the contract's additions of this round and built beside this work, on their own
# branches: each entry must be missing here (the test says so when it is not, so that it is
# removed once its work is merged).
PENDING_GRAPHQL: set[str] = set()
PENDING_COMMANDS: set[str] = set()


# --- the command line ---------------------------------------------------------------------------

def _commands() -> dict[str, set[str]]:
    """Every command of `segmentql` ("segments create") with its options; "" is the root."""
    found = {}
    stack = [((), typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        if isinstance(command, click.Group) or hasattr(command, "commands"):
            if not path:
                found[""] = {"--help"} | {opt for param in command.params for opt in param.opts}
            stack.extend((path + (name,), sub) for name, sub in command.commands.items())
        else:
            found[" ".join(path)] = {opt for param in command.params
                                     for opt in (*param.opts, *param.secondary_opts)
                                     if opt.startswith("--")}
    return found


def _documented_commands() -> dict[str, set[str]]:
    """The commands the doc names in `segmentql ...` (its tables and text), with the options
    each names ("" is the root: `segmentql --version`)."""
    named: dict[str, set[str]] = {}
    text = re.sub(r"```.*?```", "", DOC, flags=re.S)
    for line in text.splitlines():
        cell = line.split(" | ")[0] if line.startswith("|") else line  # not the "does" column
        for usage in re.findall(r"`(segmentql [^`]*)`", cell):
            words = usage.split()[1:]
            path = []
            for word in words:
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                path.append(word)
            options = set(re.findall(r"--[a-z][a-z-]*", usage))
            named.setdefault(" ".join(path), set()).update(options)
    return named


COMMANDS = _commands()
DOCUMENTED = _documented_commands()


def test_the_doc_names_commands() -> None:
    assert {"serve", "eval", "segments create", "segments update", "campaigns list"} <= set(
        DOCUMENTED)


def test_every_documented_command_and_option_exists() -> None:
    missing = set()
    for command, options in DOCUMENTED.items():
        if command not in COMMANDS:
            missing.add(command)
            continue
        missing |= {f"{command} {option}" for option in options - COMMANDS[command]}
    assert missing - PENDING_COMMANDS == set()
    assert PENDING_COMMANDS - missing == set(), "built now: remove it from PENDING_COMMANDS"


def test_every_command_is_documented() -> None:
    assert set(COMMANDS) - set(DOCUMENTED) == set()
    assert {"--version", "--debug"} <= DOCUMENTED[""]


def test_every_command_takes_the_store_options() -> None:
    # "Every command takes --database NAME and --data-dir DIR or --mongo-uri URI"; the
    # server serves every database, and format and parse need no store.
    for command, options in COMMANDS.items():
        if command in {"", "format", "parse"}:
            continue
        if command.startswith("store "):  # the embedded store's own server: a folder, no URI
            assert "--data-dir" in options, command
            continue
        if command.startswith("databases "):  # these name the profile database themselves
            assert {"--data-dir", "--mongo-uri"} <= options, command
            continue
        assert {"--data-dir", "--mongo-uri"} <= options, command
        if command != "serve":
            assert "--database" in options, command


# --- GraphQL ------------------------------------------------------------------------------------

def _documented_graphql() -> set[str]:
    """`Type`, `Type.field`, `Type.field(argument)` and `Enum.VALUE` named by the doc's
    GraphQL blocks, and by the `Type { field ... }` shapes in their comments."""
    names: set[str] = set()
    for block in re.findall(r"```graphql\n(.*?)```", DOC, flags=re.S):
        code = re.sub(r"#[^\n]*", "", block)
        for kind, type_name, body in re.findall(r"\b(type|input|enum)\s+(\w+)\s*\{(.*?)\}",
                                                code, flags=re.S):
            names.add(type_name)
            if kind == "enum":
                names |= {f"{type_name}.{value}" for value in body.split()}
                continue
            for field, arguments in re.findall(r"(\w+)\s*(?:\(([^)]*)\))?\s*:", _top(body)):
                names.add(f"{type_name}.{field}")
                names |= {f"{type_name}.{field}({argument})"
                          for argument in re.findall(r"(\w+)\s*:", arguments or "")}
        for comment in re.findall(r"#([^\n]*)", block):
            for type_name, body in re.findall(r"\b([A-Z]\w+)\s*\{([^}]*)\}", comment):
                names.add(type_name)
                names |= {f"{type_name}.{field}"
                          for field in re.findall(r"\b([a-z]\w*)\b", body)}
    return names


def _top(body: str) -> str:
    """The body with argument lists kept but default values that are strings removed."""
    return re.sub(r'"[^"]*"', '""', body)


def _in_schema(schema, name: str) -> bool:
    match = re.fullmatch(r"(\w+)(?:\.(\w+))?(?:\((\w+)\))?", name)
    type_name, member, argument = match.groups()
    graphql_type = schema.type_map.get(type_name)
    if graphql_type is None:
        return False
    if member is None:
        return True
    if isinstance(graphql_type, GraphQLEnumType):
        return member in graphql_type.values
    field = graphql_type.fields.get(member)
    if field is None:
        return False
    return argument is None or argument in field.args


def test_the_doc_names_graphql() -> None:
    names = _documented_graphql()
    assert {"Query.previewSegment", "PreviewInput.rangeFrom", "Mutation.cloneSegment(name)",
            "FieldType.BOOLEAN", "Campaign.recipientCount", "RowError.index"} <= names


def test_every_documented_graphql_name_is_in_the_schema() -> None:
    schema = build_schema((ROOT / "schema.graphql").read_text("utf-8"))
    missing = {name for name in _documented_graphql() if not _in_schema(schema, name)}
    # A pending name stands for what is under it too (Webhook covers Webhook.url).
    covered = {name for name in missing
               if any(name == pending or name.startswith(pending + ".")
                      or name.startswith(pending + "(") for pending in PENDING_GRAPHQL)}
    assert missing - covered == set()
    assert {pending for pending in PENDING_GRAPHQL
            if not any(name == pending or name.startswith(pending + ".") for name in missing)
            } == set(), "built now: remove it from PENDING_GRAPHQL"


def test_no_doc_names_a_contract_outside_the_repository() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert [doc.name for doc in docs if "INTERFACES.md" in doc.read_text("utf-8")] == []
