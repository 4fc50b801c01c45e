"""What the system can keep and pass on: the one check every way in (panel, REST API, CLI, the
commands console, schedules) runs on an operator's value before it reaches a database, the channel
layer or a recursive walk. See docs/decisions/0020-values-at-the-edge.md."""

INT64 = range(-(2**63), 2**63)
MAX_DEPTH = 32  # OCPP 1.6's deepest payload (SetChargingProfile) nests 5 levels
NUL = "\x00"


def unstorable(value, numbers=True):
    """What in a JSON value the system cannot keep or pass on, or "": a NUL character in a string
    or key (PostgreSQL's jsonb and text refuse \\u0000: a 500 after every check passed), an integer
    beyond 64 bits (msgpack, on which the channel layer carries commands and change events between
    nodes, refuses it: the command or the event was lost), nesting deeper than MAX_DEPTH (a
    schedule's payload is walked recursively at each run: 500 levels were a RecursionError).
    `numbers=False`: a value its element parses further (10**400 may become a float)."""
    stack = [(value, 0)]
    while stack:  # not recursive: the parser already took the deepest nesting Python allows
        item, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth >= MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item.keys())
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and NUL in item:
            return "text may not contain the NUL character (\\u0000)"
        elif numbers and isinstance(item, int) and not isinstance(item, bool) and item not in INT64:
            return f"{item} is beyond 64 bits: give a number between {INT64.start} and {INT64.stop - 1}"
    return ""


def check_storable(value, numbers=True):
    """`value`, or ValueError saying what `unstorable` found."""
    problem = unstorable(value, numbers)
    if problem:
        raise ValueError(problem)
    return value


def has_nul(*texts):
    """Whether any of the texts holds a NUL (no ClientId, name, path or slug does)."""
    return any(isinstance(text, str) and NUL in text for text in texts)


def printable(text):
    """`text` with its NULs spelled \\u0000, for what is kept about a refusal (the audit log)."""
    return text.replace(NUL, "\\u0000") if isinstance(text, str) and NUL in text else text
