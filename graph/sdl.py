"""Print the schema's SDL: `python -m graph.sdl > schema.graphql`."""

from graph.schema import schema


def sdl() -> str:
    return str(schema) + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
