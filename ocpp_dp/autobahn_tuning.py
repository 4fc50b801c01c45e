"""autobahn formats its whole protocol configuration with pprint.pformat on every new websocket,
for a debug log line that is off in production (autobahn/websocket/protocol.py, _connectionMade).
In a reconnect storm that is about a tenth of the main thread. While autobahn's debug logging is
off, its module-level `pformat` returns a placeholder instead. Measured, 3,000 chargers connecting
at once: the last handshake done 10.4-10.8 s -> 8.3-9.0 s, the last boot 17.2-17.7 s -> 14.5-15.8 s.
Its log calls also colour their arguments eagerly (hltype/hlval through click.style) whether or
not the line is logged: about 5% of a storm's CPU after the collector tuning (ADR 0018), so those
become plain too while debug logging is off.
Every new connection also copied the factory's ~30 options into its own instance dict, which, with
autobahn's many other attributes, is far past the 30 keys CPython 3.11 shares between instances: a
few KB per idle charger. Daphne has one factory, so the options are put on its protocol class once
instead, where autobahn's `hasattr` check finds them. Its send queue (an empty deque, ~600 bytes,
used only while a frame cannot be written at once) is a list for the same reason.
Re-check on autobahn upgrades (pinned in requirements.txt)."""


import types


def _placeholder(_obj, *args, **kwargs):
    return "(not formatted: autobahn debug logging is off)"


def _plain_type(obj):
    return "<callable>"


def _plain_value(value, *args, **kwargs):
    return value


class _SendQueue(list):
    """The part of a deque autobahn's send queue uses (append, popleft, len)."""

    __slots__ = ()

    def popleft(self):
        return self.pop(0)


def _options_on_the_class(protocol_class):
    original = protocol_class._connectionMade

    def _connectionMade(self):
        cls = type(self)
        if "_ocpp_options_from" not in cls.__dict__:
            for name in self.CONFIG_ATTRS:
                value = getattr(self.factory, name)
                # A plain function (perMessageCompressionAccept) on a class would become a method.
                setattr(cls, name, staticmethod(value) if isinstance(value, types.FunctionType) else value)
            cls._ocpp_options_from = self.factory
        elif cls._ocpp_options_from is not self.factory:  # a second factory: copy per instance, as autobahn does
            for name in self.CONFIG_ATTRS:
                setattr(self, name, getattr(self.factory, name))
        original(self)
        self.send_queue = _SendQueue()

    protocol_class._connectionMade = _connectionMade


def install():
    import txaio
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    try:
        from daphne.ws_protocol import WebSocketProtocol as DaphneProtocol
    except ImportError:
        DaphneProtocol = None
    if DaphneProtocol is not None and not getattr(DaphneProtocol, "_ocpp_tuned", False):
        _options_on_the_class(DaphneProtocol)
        DaphneProtocol._ocpp_tuned = True
    if txaio.get_global_log_level() in ("debug", "trace"):
        return
    protocol.pformat = _placeholder
    for module in (protocol, twisted_websocket):
        module.hltype, module.hlval = _plain_type, _plain_value
