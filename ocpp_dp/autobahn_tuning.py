"""autobahn formats its whole protocol configuration with pprint.pformat on every new websocket,
for a debug log line that is off in production (autobahn/websocket/protocol.py, _connectionMade).
In a reconnect storm that is about a tenth of the main thread. While autobahn's debug logging is
off, its module-level `pformat` returns a placeholder instead. Measured, 3,000 chargers connecting
at once: the last handshake done 10.4-10.8 s -> 8.3-9.0 s, the last boot 17.2-17.7 s -> 14.5-15.8 s.
Its log calls also colour their arguments eagerly (hltype/hlval through click.style) whether or
not the line is logged: about 5% of a storm's CPU after the collector tuning (ADR 0018), so those
become plain too while debug logging is off.
Re-check on autobahn upgrades (pinned in requirements.txt)."""


def _placeholder(_obj, *args, **kwargs):
    return "(not formatted: autobahn debug logging is off)"


def _plain_type(obj):
    return "<callable>"


def _plain_value(value, *args, **kwargs):
    return value


def install():
    import txaio
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    if txaio.get_global_log_level() in ("debug", "trace"):
        return
    protocol.pformat = _placeholder
    for module in (protocol, twisted_websocket):
        module.hltype, module.hlval = _plain_type, _plain_value
